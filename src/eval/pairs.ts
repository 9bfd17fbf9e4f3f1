/**
 * LFW verification pair lists (http://vis-www.cs.umass.edu/lfw/ "pairs.txt").
 *
 * Accepted forms:
 *  - header `F P` (e.g. `10 300`): F folds, each P same-person lines then P different-person lines;
 *  - header `N` (pairsDevTrain/pairsDevTest): N same-person lines then N different-person lines;
 *  - no header: pair lines in any order.
 * Pair lines: `name n1 n2` (same person) or `name1 n1 name2 n2` (different people), whitespace
 * separated; image path `<root>/<name>/<name>_<n as 4 digits>.jpg`. Blank lines are ignored.
 * Without a fold header, pairs get `folds` (default 10) folds, same and different pairs each spread
 * evenly in file order (pair i of a class of n goes to fold floor(i * folds / n)).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface PairImage {
  readonly label: string;
  readonly number: number;
  readonly file: string;
}

export interface VerificationPair {
  /** 1-based line number in the source. */
  readonly line: number;
  /** 0-based fold. */
  readonly fold: number;
  readonly same: boolean;
  readonly a: PairImage;
  readonly b: PairImage;
}

export interface PairsFile {
  readonly source: string;
  readonly header: 'folds' | 'count' | 'none';
  readonly folds: number;
  readonly pairs: VerificationPair[];
}

export class PairsFormatError extends Error {
  constructor(
    readonly source: string,
    readonly line: number | undefined,
    detail: string,
  ) {
    super(line === undefined ? `${source}: ${detail}` : `${source}, line ${line}: ${detail}`);
    this.name = 'PairsFormatError';
  }
}

export interface ParsePairsOptions {
  /** Folds to make when the file has no `F P` header. Default 10. */
  readonly folds?: number;
  /** Name for messages. Default 'pairs'. */
  readonly source?: string;
}

export async function readPairsFile(file: string, root: string, options: Omit<ParsePairsOptions, 'source'> = {}): Promise<PairsFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PairsFormatError(file, undefined, `${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}; expected an LFW pairs.txt file`);
  }
  return parsePairs(text, root, { ...options, source: file });
}

const INT = /^\d+$/;

export function lfwImagePath(root: string, name: string, n: number): string {
  return path.join(root, name, `${name}_${String(n).padStart(4, '0')}.jpg`);
}

export function parsePairs(text: string, root: string, options: ParsePairsOptions = {}): PairsFile {
  const source = options.source ?? 'pairs';
  const wantFolds = options.folds ?? 10;
  if (!Number.isInteger(wantFolds) || wantFolds < 2) throw new RangeError(`folds must be a whole number >= 2, got ${wantFolds}`);
  const lines = text.split(/\r?\n/).map((t, i) => ({ no: i + 1, fields: t.trim().split(/\s+/).filter((f) => f !== '') }))
    .filter((l) => l.fields.length > 0);
  if (lines.length === 0) throw new PairsFormatError(source, undefined, 'is empty; expected LFW pair lines ("name n1 n2" or "name1 n1 name2 n2")');

  let header: PairsFile['header'] = 'none';
  let folds = wantFolds;
  let perFold = 0;
  let count = 0;
  const first = lines[0];
  if (first.fields.length <= 2 && first.fields.every((f) => INT.test(f))) {
    if (first.fields.length === 2) {
      header = 'folds';
      folds = Number(first.fields[0]);
      perFold = Number(first.fields[1]);
      if (folds < 2 || perFold < 1) throw new PairsFormatError(source, first.no, `header "${first.fields.join(' ')}" must give at least 2 folds and 1 pair per fold`);
    } else {
      header = 'count';
      count = Number(first.fields[0]);
      if (count < 1) throw new PairsFormatError(source, first.no, `header "${first.fields[0]}" must give at least 1 pair of each kind`);
    }
    lines.shift();
  }

  const parsed = lines.map((l) => parseLine(l.fields, l.no, root, source));

  const pairs: VerificationPair[] = [];
  if (header === 'folds') {
    const expected = folds * perFold * 2;
    if (parsed.length !== expected) {
      throw new PairsFormatError(source, undefined,
        `header says ${folds} folds x ${perFold} pairs, so ${expected} pair lines (${perFold} same then ${perFold} different per fold) are expected, found ${parsed.length}`);
    }
    parsed.forEach((p, i) => {
      const fold = Math.floor(i / (2 * perFold));
      const wantSame = i % (2 * perFold) < perFold;
      if (p.same !== wantSame) {
        throw new PairsFormatError(source, p.line,
          `fold ${fold + 1} should list ${perFold} same-person pairs then ${perFold} different-person pairs, ` +
          `but pair ${(i % (2 * perFold)) + 1} of the fold is a ${p.same ? 'same' : 'different'}-person line`);
      }
      pairs.push({ ...p, fold });
    });
  } else {
    if (header === 'count') {
      if (parsed.length !== 2 * count) {
        throw new PairsFormatError(source, undefined, `header says ${count} same-person then ${count} different-person pairs (${2 * count} lines), found ${parsed.length}`);
      }
      parsed.forEach((p, i) => {
        if (p.same !== i < count) {
          throw new PairsFormatError(source, p.line, `expected ${count} same-person lines then ${count} different-person lines, but this line is a ${p.same ? 'same' : 'different'}-person pair (pair ${i + 1})`);
        }
      });
    }
    const same = parsed.filter((p) => p.same);
    const diff = parsed.filter((p) => !p.same);
    if (same.length < folds || diff.length < folds) {
      throw new PairsFormatError(source, undefined,
        `has ${same.length} same-person and ${diff.length} different-person pairs; at least ${folds} of each are needed for ${folds} folds`);
    }
    const foldOf = new Map<ParsedPair, number>();
    for (const group of [same, diff]) group.forEach((p, i) => foldOf.set(p, Math.floor((i * folds) / group.length)));
    for (const p of parsed) pairs.push({ ...p, fold: foldOf.get(p)! });
  }
  return { source, header, folds, pairs };
}

type ParsedPair = Omit<VerificationPair, 'fold'>;

function parseLine(fields: string[], line: number, root: string, source: string): ParsedPair {
  const num = (s: string, what: string): number => {
    if (!INT.test(s) || Number(s) < 1 || Number(s) > 9999) {
      throw new PairsFormatError(source, line, `${what} "${s}" is not an image number; expected a whole number from 1 to 9999`);
    }
    return Number(s);
  };
  const name = (s: string): string => {
    if (s === '.' || s === '..' || /[/\\\0]/.test(s)) {
      throw new PairsFormatError(source, line, `"${s}" is not a valid identity name; expected a folder name without path separators`);
    }
    if (INT.test(s)) throw new PairsFormatError(source, line, `identity name "${s}" is a number; expected "name n1 n2" or "name1 n1 name2 n2"`);
    return s;
  };
  const img = (label: string, n: number): PairImage => ({ label, number: n, file: lfwImagePath(root, label, n) });
  if (fields.length === 3) {
    const l = name(fields[0]);
    return { line, same: true, a: img(l, num(fields[1], 'first image number')), b: img(l, num(fields[2], 'second image number')) };
  }
  if (fields.length === 4) {
    const l1 = name(fields[0]);
    const l2 = name(fields[2]);
    if (l1 === l2) throw new PairsFormatError(source, line, `different-person line names ${l1} twice; expected two different names (use "name n1 n2" for a same-person pair)`);
    return { line, same: false, a: img(l1, num(fields[1], 'first image number')), b: img(l2, num(fields[3], 'second image number')) };
  }
  throw new PairsFormatError(source, line,
    `has ${fields.length} fields ("${fields.join(' ').slice(0, 80)}"); expected "name n1 n2" (same person) or "name1 n1 name2 n2" (different people)`);
}
