import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateIdentification, verificationAccuracy, type LabelledEmbedding } from '../../src/eval/metrics';
import { buildEvalReport, formatEvalReport, type EvalReportInput } from '../../src/eval/report';

const emb = (label: string, ...v: number[]): LabelledEmbedding => ({ label, embedding: Float32Array.from(v) });
const gallery = [emb('A', 0, 0), emb('B', 0, 10)];
const probes = [emb('A', 1, 0), emb('B', 0, 4), emb('B', 0, 8)]; // A ok (1), B wrong (nearest A at 4), B ok (2)
const unknowns = [emb('U1', 0, 13), emb('U2', 5, 0)]; //                nearest 3 and 5

function input(over: Partial<EvalReportInput> = {}): EvalReportInput {
  return {
    images: 12,
    facesFound: 9,
    facesNotFound: 1,
    errors: [{ file: 'x.jpg', code: 'truncated', message: 'x.jpg: JPEG data ends ...' }, { file: 'y.png', code: 'corrupt', message: 'y.png: bad' }],
    counts: { gallery: 4, probes: 5, unknown: 3 },
    identification: evaluateIdentification(gallery, probes, unknowns, 'euclidean'),
    verification: {
      result: verificationAccuracy([
        { fold: 0, same: true, distance: 0.125 }, { fold: 0, same: false, distance: 0.875 },
        { fold: 1, same: true, distance: 0.25 }, { fold: 1, same: false, distance: 0.75 },
      ]),
      skippedPairs: 1,
    },
    elapsedSeconds: 4,
    detector: 'mtcnn',
    embedder: 'faceapi-resnet128',
    distance: 'euclidean',
    ...over,
  };
}

describe('buildEvalReport', () => {
  test('fields, fractions in 0..1 and the 1% open-set point', () => {
    const r = buildEvalReport(input());
    assert.equal(r.images, 12);
    assert.equal(r.faces_found, 9);
    assert.equal(r.faces_not_found, 1);
    assert.deepEqual(r.errors.map((e) => e.code), ['truncated', 'corrupt']);
    assert.equal(r.rank1, 2 / 3);
    assert.equal(r.probes_evaluated, 3);
    // Two unknowns: FPIR 1% → k = 0 → t = 3 (smallest unknown distance); hits: A at 1, B at 2 → FNIR 1/3.
    assert.equal(r.threshold_at_fpir_1pct, 3);
    assert.equal(r.fpir_achieved, 0);
    assert.equal(r.fnir_at_fpir_1pct, 1 / 3);
    assert.equal(r.fpir_resolution, 0.5);
    assert.deepEqual(r.open_set!.map((p) => p.target_fpir), [0.001, 0.01, 0.05]);
    assert.equal(r.verification_accuracy, 1);
    assert.equal(r.verification_std, 0);
    assert.equal(r.verification_folds, 2);
    assert.equal(r.verification_pairs_skipped, 1);
    assert.equal(r.throughput_images_per_s, 3);
    for (const k of ['rank1', 'fnir_at_fpir_1pct', 'fpir_achieved', 'verification_accuracy'] as const) {
      const v = r[k];
      assert.ok(v !== null && v >= 0 && v <= 1, `${k} = ${v}`);
    }
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r, 'JSON round trip is lossless (no Infinity/NaN/undefined)');
  });

  test('missing figures are null with a reason', () => {
    const r = buildEvalReport(input({
      identification: evaluateIdentification(gallery, probes, [], 'euclidean'),
      verification: null,
      elapsedSeconds: 0,
    }));
    assert.equal(r.fnir_at_fpir_1pct, null);
    assert.equal(r.threshold_at_fpir_1pct, null);
    assert.match(r.open_set_reason ?? '', /no non-enrolled/);
    assert.equal(r.verification_accuracy, null);
    assert.equal(r.throughput_images_per_s, null);
    const none = buildEvalReport(input({ identification: null }));
    assert.equal(none.rank1, null);
    assert.match(none.rank1_reason ?? '', /not run/);
  });
});

describe('formatEvalReport', () => {
  test('a readable table with percentages, notes and errors', () => {
    const text = formatEvalReport(buildEvalReport(input()));
    assert.match(text, /rank-1 \(closed set\)\s+66\.7% \(2\/3 probes\)/);
    assert.match(text, /FNIR @ FPIR 1%\s+33\.3% \(threshold 3\.0000, achieved FPIR 0\.00% = 0\/2\)/);
    assert.match(text, /verification \(LFW folds\)\s+100\.00% ± 0\.00% \(2 folds, 4 pairs, 1 skipped/);
    assert.match(text, /throughput\s+3\.00 images\/s/);
    assert.match(text, /note: 2 unknown probes resolve FPIR only in steps of 1\/2/);
    assert.match(text, /\[truncated\] x\.jpg: JPEG data ends/);
    const short = formatEvalReport(buildEvalReport(input()), { maxErrors: 1 });
    assert.match(short, /\.\.\. and 1 more/);
  });
});
