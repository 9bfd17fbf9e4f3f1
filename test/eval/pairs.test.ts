import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parsePairs, PairsFormatError, readPairsFile } from '../../src/eval/pairs';

const ROOT = '/data/lfw';

function expectLineError(text: string, line: number | undefined, pattern: RegExp, folds?: number): void {
  assert.throws(() => parsePairs(text, ROOT, { source: 'pairs.txt', folds }), (e: unknown) => {
    assert.ok(e instanceof PairsFormatError, String(e));
    assert.equal(e.line, line, e.message);
    if (line !== undefined) assert.ok(e.message.startsWith(`pairs.txt, line ${line}: `), e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('parsePairs', () => {
  test('"F P" header: P same then P different lines per fold; LFW image paths', () => {
    const text = [
      '2\t2',
      'Abel_Pacheco\t1\t4',
      'Akhmed_Zakayev\t1\t3',
      'Abdel_Madi_Shabneh\t1\tDean_Barker\t1',
      'Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1',
      'Alan_Ball 1 2',
      'Alan_Ball 2 3',
      'Ana_Palacio 2 Anna_Nicole_Smith 12',
      'Bo 1 Cy 2',
      '',
    ].join('\r\n');
    const p = parsePairs(text, ROOT);
    assert.equal(p.header, 'folds');
    assert.equal(p.folds, 2);
    assert.deepEqual(p.pairs.map((x) => [x.line, x.fold, x.same]), [
      [2, 0, true], [3, 0, true], [4, 0, false], [5, 0, false], [6, 1, true], [7, 1, true], [8, 1, false], [9, 1, false],
    ]);
    assert.equal(p.pairs[0].a.file, path.join(ROOT, 'Abel_Pacheco', 'Abel_Pacheco_0001.jpg'));
    assert.equal(p.pairs[0].b.file, path.join(ROOT, 'Abel_Pacheco', 'Abel_Pacheco_0004.jpg'));
    assert.equal(p.pairs[6].b.file, path.join(ROOT, 'Anna_Nicole_Smith', 'Anna_Nicole_Smith_0012.jpg'));
    assert.deepEqual([p.pairs[2].a.label, p.pairs[2].b.label], ['Abdel_Madi_Shabneh', 'Dean_Barker']);
  });

  test('no header: same and different pairs are spread evenly over the folds', () => {
    const lines: string[] = [];
    for (let i = 1; i <= 20; i++) lines.push(`P${i} 1 2`, `P${i} 1 Q${i} 1`);
    const p = parsePairs(lines.join('\n'), ROOT);
    assert.equal(p.header, 'none');
    assert.equal(p.folds, 10);
    for (let f = 0; f < 10; f++) {
      const inFold = p.pairs.filter((x) => x.fold === f);
      assert.deepEqual([inFold.filter((x) => x.same).length, inFold.filter((x) => !x.same).length], [2, 2], `fold ${f}`);
    }
    assert.deepEqual(p.pairs.filter((x) => x.same).map((x) => x.fold).slice(0, 4), [0, 0, 1, 1]);
  });

  test('"N" header (pairsDevTest style) with a chosen fold count', () => {
    const p = parsePairs('3\nA 1 2\nB 1 2\nC 1 2\nA 1 B 1\nA 2 C 1\nB 2 C 2\n', ROOT, { folds: 3 });
    assert.equal(p.header, 'count');
    assert.deepEqual(p.pairs.map((x) => x.fold), [0, 1, 2, 0, 1, 2]);
  });

  test('malformed input: the error names the line', () => {
    expectLineError('2 1\nA 1 2\nB 1 C 1\nD 1 2 3 4\nE 1 F 1\n', 4, /5 fields.*expected "name n1 n2"/);
    expectLineError('2 1\nA 1 x\n', 2, /second image number "x"/);
    expectLineError('A 0 2\n', 1, /first image number "0"/);
    expectLineError('A 1 2\nB 1 B 2\n', 2, /names B twice/);
    expectLineError('../etc 1 2\n', 1, /not a valid identity name/);
    expectLineError('2 1\nA 1 2\nB 1 2\nC 1 D 1\nE 1 F 1\n', 3, /fold 1 should list 1 same-person pairs then 1 different-person/);
    expectLineError('2 1\nA 1 2\nB 1 C 1\n', undefined, /4 pair lines .* found 2/);
    expectLineError('\n\n', undefined, /is empty/);
    expectLineError('A 1 2\nB 1 C 1\n', undefined, /at least 10 of each/);
    expectLineError('2\nA 1 2\nB 1 C 1\nD 1 2\nE 1 F 1\n', 3, /expected 2 same-person lines then 2 different-person lines, but this line is a different-person pair/, 2);
  });

  test('a missing file is reported with its path', async () => {
    await assert.rejects(readPairsFile('/nonexistent/pairs.txt', ROOT), /\/nonexistent\/pairs.txt: does not exist/);
  });
});
