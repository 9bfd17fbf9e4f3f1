import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Index, MetricKind, ScalarKind } from 'usearch';
import { breadthFirstOrder, readLayout, renumbered } from '../../../src/match/search/usearch-layout';
import { DIM, face, randomUnit, rng } from '../synthetic';

const N = 1500;

/** A USearch file as the library saves it: N faces, keys 1000 + row, and the queries' answers from that graph. */
async function savedGraph(): Promise<{ bytes: Buffer; queries: Float32Array; answers: BigUint64Array }> {
  const r = rng(7);
  const rows = new Float32Array(N * DIM);
  for (let i = 0; i < N; i++) rows.set(face(r, randomUnit(r), 0.05), i * DIM);
  const graph = new Index({ dimensions: DIM, metric: MetricKind.IP, quantization: ScalarKind.I8, connectivity: 8, expansion_add: 64, expansion_search: 64, multi: false });
  graph.add(BigUint64Array.from({ length: N }, (_, i) => BigInt(1000 + i)), rows, 1);
  const queries = new Float32Array(50 * DIM);
  for (let q = 0; q < 50; q++) queries.set(face(r, rows.subarray(q * 30 * DIM, (q * 30 + 1) * DIM), 0.1), q * DIM);
  const dir = await mkdtemp(path.join(tmpdir(), 'facestream-layout-'));
  try {
    graph.save(path.join(dir, 'g.usearch'));
    return { bytes: await readFile(path.join(dir, 'g.usearch')), queries, answers: graph.search(queries, 10, 1).keys };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function loaded(bytes: Buffer): Promise<Index> {
  const dir = await mkdtemp(path.join(tmpdir(), 'facestream-layout-'));
  try {
    await writeFile(path.join(dir, 'g.usearch'), bytes);
    const graph = new Index({ dimensions: DIM, metric: MetricKind.IP, quantization: ScalarKind.I8, connectivity: 8, expansion_add: 64, expansion_search: 64, multi: false });
    graph.load(path.join(dir, 'g.usearch'));
    return graph;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('breadth-first renumbering: USearch loads the file, and the same queries get the same keys in the same order', async () => {
  const { bytes, queries, answers } = await savedGraph();
  const layout = await readLayout(bytes);
  assert.equal(layout.size, N);
  assert.equal(layout.connectivity, 8);
  assert.equal(layout.connectivityBase, 16);
  const order = await breadthFirstOrder(bytes, layout);
  assert.equal(order[0], layout.entry, 'the entry point comes first');
  assert.deepEqual(Array.from(order).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i), 'a permutation');
  assert.notDeepEqual(Array.from(order.subarray(0, 50)), Array.from({ length: 50 }, (_, i) => i), 'not the insertion order');
  let pauses = 0;
  const out = await renumbered(bytes, layout, order, async () => void pauses++);
  assert.equal(out.length, bytes.length);
  assert.notDeepEqual(out, bytes);
  const relaid = await readLayout(out);
  assert.equal(relaid.entry, 0, 'the entry point is slot 0 now');
  // Node i of the new file is old node order[i]: same key, same level.
  const key = (b: Buffer, l: typeof layout, s: number): bigint => b.readBigUInt64LE(l.nodeAt[s]);
  for (const i of [0, 1, 17, N - 1]) {
    assert.equal(key(out, relaid, i), key(bytes, layout, order[i]));
    assert.equal(relaid.levels[i], layout.levels[order[i]]);
  }
  const graph = await loaded(out);
  assert.equal(graph.size(), N);
  assert.deepEqual(graph.search(queries, 10, 1).keys, answers);
  assert.equal(pauses, 2, 'one pause after each slice of vectors and of nodes');
});

test('a file that is not what the renumbering expects is refused, naming what differs', async () => {
  const { bytes } = await savedGraph();
  const layout = await readLayout(bytes);
  await assert.rejects(readLayout(bytes.subarray(0, bytes.length - 1)), /the nodes end at byte \d+, the file at byte \d+/);
  await assert.rejects(readLayout(bytes.subarray(0, 6)), /the file ends at byte 6, inside the vectors header/);
  const magic = Buffer.from(bytes);
  magic[layout.headAt] = 0x55;
  await assert.rejects(readLayout(magic), /no "usearch" magic/);
  const version = Buffer.from(bytes);
  version.writeUInt16LE(3, layout.headAt + 7);
  await assert.rejects(readLayout(version), /written by USearch 3\.x, expected 2\.x/);
  const link = Buffer.from(bytes);
  link.writeUInt32LE(N + 5, layout.nodeAt[3] + 10 + 4); // node 3's first link on level 0
  await assert.rejects(readLayout(link), new RegExp(`node 3 links to slot ${N + 5}, outside ${N} nodes`));
  const count = Buffer.from(bytes);
  count.writeUInt32LE(17, layout.nodeAt[4] + 10);
  await assert.rejects(readLayout(count), /node 4 lists 17 links on level 0, its capacity is 16/);
  const twice = Int32Array.from({ length: N }, (_, i) => (i === 1 ? 0 : i));
  await assert.rejects(renumbered(bytes, layout, twice), /not a permutation \(slot 0 at position 1\)/);
});
