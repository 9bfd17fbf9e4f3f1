/**
 * The embed service's CropBatcher over the real default embedder (models/faceapi-resnet128.onnx): a full batch
 * goes at once, a partial one after its oldest crop waited maxWaitMs, at most maxInFlight batches are handed to
 * the embedder at a time (the next one waiting in its worker), results come back to the right callers, and an
 * embedder failure rejects the crops of that batch only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Embedder, type Crop } from '../../src/embed/embedder';
import { ModelRegistry } from '../../src/models/registry';
import { CropBatcher } from '../../src/services/embed/crop-batcher';
import { randomCrops } from '../embed/helpers';
import { EMBEDDER_NAME } from './shared-faces';

describe('CropBatcher (real embedder)', { timeout: 120_000 }, () => {
  let embedder: Embedder;
  /** The real embedder, with every call it receives recorded. */
  const calls: { size: number; start: number; end: number }[] = [];
  let inside = 0;
  let mostInside = 0;
  const recorded = {
    embed: async (crops: readonly Crop[]) => {
      const c = { size: crops.length, start: performance.now(), end: 0 };
      calls.push(c);
      inside++;
      mostInside = Math.max(mostInside, inside);
      try {
        return await embedder.embed(crops);
      } finally {
        inside--;
        c.end = performance.now();
      }
    },
  };

  before(async () => {
    embedder = await Embedder.create(new ModelRegistry({}).embedder(EMBEDDER_NAME), { maxBatch: 8 });
  });
  after(async () => {
    await embedder?.close();
  });

  test('full batches at once, partial ones after maxWaitMs, at most maxInFlight at a time, results to the right crops', async () => {
    const crops = randomCrops(21, 150, 150, 11);
    const reference = (await embedder.embed(crops)).map((e) => Float32Array.from(e));
    calls.length = 0;
    const b = new CropBatcher(recorded, { maxBatch: 8, maxWaitMs: 200, maxInFlight: 2 });
    const t0 = performance.now();
    const out = await Promise.all(crops.map((c) => b.embed(c)));
    out.forEach((e, i) => assert.ok(e.every((v, j) => Math.abs(v - reference[i][j]) < 1e-4), `crop ${i} got its own embedding`));
    assert.deepEqual(calls.map((c) => c.size), [8, 8, 5]);
    assert.ok(calls[0].start - t0 < 50 && calls[1].start - t0 < 50, 'the two full batches went at once (both in flight)');
    assert.equal(mostInside, 2, 'never more than two batches in flight');
    assert.ok(calls[2].start >= Math.min(calls[0].end, calls[1].end) - 1, 'the third waited for a free slot');

    // A lone crop waits maxWaitMs (no other crop comes), then goes alone.
    calls.length = 0;
    const t1 = performance.now();
    await b.embed(crops[0]);
    assert.deepEqual(calls.map((c) => c.size), [1]);
    const waited = calls[0].start - t1;
    assert.ok(waited >= 190 && waited < 400, `the lone crop was sent after ${waited.toFixed(0)} ms (maxWaitMs 200)`);
  });

  test('an embedder failure rejects the crops of that batch, not the next ones', async () => {
    const b = new CropBatcher(embedder, { maxBatch: 2, maxWaitMs: 5 });
    const bad: Crop = { width: 4, height: 4, data: new Uint8Array(48) };
    const good = randomCrops(2, 150, 150, 3);
    const first = Promise.allSettled([b.embed(good[0]), b.embed(bad)]);
    const second = Promise.allSettled([b.embed(good[1])]);
    const [r1, r2] = await Promise.all([first, second]);
    assert.ok(r1.every((r) => r.status === 'rejected'));
    assert.match(String((r1[1] as PromiseRejectedResult).reason), /4x4/);
    assert.equal(r2[0].status, 'fulfilled');
  });
});
