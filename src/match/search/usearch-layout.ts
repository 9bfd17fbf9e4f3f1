/**
 * Where a USearch graph's nodes sit in memory. USearch numbers its nodes ("slots") in insertion order and keeps
 * nodes and vectors in slot order, so the rows one node links to lie scattered over the whole graph (~470 MB at
 * 1M scorers), and a search — bound by memory latency, ~100 ns per row it scores — pays a cache and TLB miss for
 * nearly every one. Renumbering the slots breadth-first over layer 0 from the entry point puts the rows a node
 * links to next to each other (graph reordering; Coleman et al., "Graph Reordering for Cache-Efficient Near Neighbor
 * Search", 2021, found breadth-first orders among the best for HNSW). The graph is the same — the same links,
 * keys and vectors, so every search returns the same keys — only the memory order changes.
 *
 * Why by hand: USearch has no call to renumber slots, and its insertion order decides the graph (inserting rows in
 * a clustered order built a worse graph and searched slower at 1M). So the index is built in the usual order,
 * saved, and its file is rewritten here with the slots renumbered, then loaded. The file format is USearch's
 * (index_dense.hpp save_to_stream, index.hpp save_to_stream); readLayout checks every field it relies on (magic,
 * major version 2, 32-bit slots, sizes that add up to the file's length, counts within capacity, links to existing
 * slots) and throws naming what differs, and the caller then keeps the graph as built.
 *
 *   [rows u32][bytes per vector u32] vectors (rows x bytes, slot order)
 *   dense head, 64 bytes: "usearch", version u16 x3, metric u8, scalar u8, key kind u8, slot kind u8, counts ...
 *   graph header: size, connectivity, connectivity_base, max_level, entry_slot (u64 each)
 *   levels: i16 per slot
 *   nodes, slot order: key u64, level i16, then per level 0..level: count u32 + slots u32 x capacity
 *                      (capacity connectivity_base on level 0, connectivity above)
 */

export interface UsearchLayout {
  /** Nodes (= vectors). */
  size: number;
  bytesPerVector: number;
  connectivity: number;
  connectivityBase: number;
  entry: number;
  levels: Int16Array;
  /** Byte offset of each node in the file. */
  nodeAt: Float64Array;
  /** Byte offsets of the parts. */
  vectorsAt: number;
  headAt: number;
  graphAt: number;
  levelsAt: number;
}

/** Called every SLICE nodes: the caller may yield to its event loop there (a 1M graph takes seconds). */
export type Pause = () => Promise<void>;

const MAGIC = 'usearch';
const HEAD_BYTES = 64;
const GRAPH_HEADER_BYTES = 40;
const NODE_HEAD_BYTES = 10; // key u64 + level i16
/** scalar_kind_t::u32_k: the slot type of the npm build. */
const U32_SLOTS = 15;
const SUPPORTED_MAJOR = 2;
const SLICE = 65536;
const noPause: Pause = () => Promise.resolve();

/** DataView reads and writes are inlined by V8 (Buffer's readUInt32LE took ~4x longer at 1M nodes x 96 links). */
function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function u64(v: DataView, at: number, what: string): number {
  const x = v.getBigUint64(at, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${x} is out of range`);
  return Number(x);
}

function nodeBytes(level: number, connectivity: number, connectivityBase: number): number {
  return NODE_HEAD_BYTES + 4 + 4 * connectivityBase + level * (4 + 4 * connectivity);
}

/** The layout of a USearch dense index file (index.save()); throws naming the first thing that is not as expected. */
export async function readLayout(buf: Uint8Array, pause: Pause = noPause): Promise<UsearchLayout> {
  const v = view(buf);
  const need = (bytes: number, what: string): void => {
    if (bytes > buf.length) throw new Error(`the file ends at byte ${buf.length}, inside ${what}`);
  };
  need(8, 'the vectors header');
  const rows = v.getUint32(0, true);
  const bytesPerVector = v.getUint32(4, true);
  const vectorsAt = 8;
  const headAt = vectorsAt + rows * bytesPerVector;
  need(headAt + HEAD_BYTES, 'the index head');
  if (Buffer.from(buf.buffer, buf.byteOffset + headAt, MAGIC.length).toString('latin1') !== MAGIC) {
    throw new Error('no "usearch" magic where the index head should be (expected a USearch dense index saved with its vectors)');
  }
  const major = v.getUint16(headAt + 7, true);
  if (major !== SUPPORTED_MAJOR) throw new Error(`written by USearch ${major}.x, expected ${SUPPORTED_MAJOR}.x`);
  const slotKind = buf[headAt + 16];
  if (slotKind !== U32_SLOTS) throw new Error(`slot kind ${slotKind}, expected 32-bit slots (${U32_SLOTS})`);
  const graphAt = headAt + HEAD_BYTES;
  need(graphAt + GRAPH_HEADER_BYTES, 'the graph header');
  const size = u64(v, graphAt, 'node count');
  const connectivity = u64(v, graphAt + 8, 'connectivity');
  const connectivityBase = u64(v, graphAt + 16, 'base connectivity');
  const entry = u64(v, graphAt + 32, 'entry slot');
  if (size !== rows) throw new Error(`${rows} vectors but ${size} nodes`);
  if (size > 0 && entry >= size) throw new Error(`entry slot ${entry} outside ${size} nodes`);
  if (connectivity < 1 || connectivityBase < 1) throw new Error(`connectivity ${connectivity}/${connectivityBase}, expected positive`);
  const levelsAt = graphAt + GRAPH_HEADER_BYTES;
  need(levelsAt + 2 * size, 'the node levels');
  const levels = new Int16Array(size);
  const nodeAt = new Float64Array(size);
  let at = levelsAt + 2 * size;
  for (let s = 0; s < size; s++) {
    const level = v.getInt16(levelsAt + 2 * s, true);
    if (level < 0) throw new Error(`node ${s} has level ${level}`);
    levels[s] = level;
    nodeAt[s] = at;
    at += nodeBytes(level, connectivity, connectivityBase);
  }
  if (at !== buf.length) throw new Error(`the nodes end at byte ${at}, the file at byte ${buf.length}`);
  const layout: UsearchLayout = { size, bytesPerVector, connectivity, connectivityBase, entry, levels, nodeAt, vectorsAt, headAt, graphAt, levelsAt };
  for (let s = 0; s < size; s++) {
    if (s > 0 && s % SLICE === 0) await pause();
    let list = nodeAt[s] + NODE_HEAD_BYTES;
    for (let level = 0; level <= levels[s]; level++) {
      const capacity = level === 0 ? connectivityBase : connectivity;
      const count = v.getUint32(list, true);
      if (count > capacity) throw new Error(`node ${s} lists ${count} links on level ${level}, its capacity is ${capacity}`);
      for (let t = 0; t < count; t++) {
        const to = v.getUint32(list + 4 + 4 * t, true);
        if (to >= size) throw new Error(`node ${s} links to slot ${to}, outside ${size} nodes`);
      }
      list += 4 + 4 * capacity;
    }
  }
  return layout;
}

/**
 * Slots in breadth-first order over layer 0 from the entry point (nodes it does not reach follow, each starting a
 * new search): order[newSlot] = oldSlot.
 */
export async function breadthFirstOrder(buf: Uint8Array, l: UsearchLayout, pause: Pause = noPause): Promise<Int32Array> {
  const v = view(buf);
  const order = new Int32Array(l.size);
  const seen = new Uint8Array(l.size);
  let head = 0;
  let tail = 0;
  let next = 0;
  const visit = (s: number): void => {
    if (seen[s]) return;
    seen[s] = 1;
    order[tail++] = s;
  };
  if (l.size > 0) visit(l.entry);
  while (tail < l.size) {
    if (head === tail) {
      while (seen[next]) next++;
      visit(next);
    }
    if (head > 0 && head % SLICE === 0) await pause();
    const list = l.nodeAt[order[head++]] + NODE_HEAD_BYTES;
    const count = v.getUint32(list, true);
    for (let t = 0; t < count; t++) visit(v.getUint32(list + 4 + 4 * t, true));
  }
  return order;
}

/**
 * The file with its slots renumbered — new slot i holds old slot order[i] (a permutation of 0..size-1) — as pieces in
 * file order, up to SLICE vectors or nodes each, so that a caller can write it out without a second copy in memory.
 */
export async function* renumberedPieces(buf: Uint8Array, l: UsearchLayout, order: Int32Array, pause: Pause = noPause): AsyncGenerator<Uint8Array> {
  if (order.length !== l.size) throw new Error(`an order of ${order.length} slots for ${l.size} nodes`);
  const inverse = new Int32Array(l.size).fill(-1);
  for (let i = 0; i < l.size; i++) {
    const s = order[i];
    if (!(s >= 0 && s < l.size) || inverse[s] !== -1) throw new Error(`the order is not a permutation (slot ${s} at position ${i})`);
    inverse[s] = i;
  }
  const v = view(buf);
  yield buf.slice(0, l.vectorsAt);
  const b = l.bytesPerVector;
  for (let start = 0; start < l.size; start += SLICE) {
    const end = Math.min(l.size, start + SLICE);
    const piece = new Uint8Array((end - start) * b);
    for (let i = start; i < end; i++) piece.set(buf.subarray(l.vectorsAt + order[i] * b, l.vectorsAt + (order[i] + 1) * b), (i - start) * b);
    yield piece;
    await pause();
  }
  const head = buf.slice(l.headAt, l.levelsAt);
  if (l.size > 0) view(head).setBigUint64(l.graphAt + 32 - l.headAt, BigInt(inverse[l.entry]), true);
  yield head;
  const levels = new Uint8Array(2 * l.size);
  const lv = view(levels);
  for (let i = 0; i < l.size; i++) lv.setInt16(2 * i, l.levels[order[i]], true);
  yield levels;
  for (let start = 0; start < l.size; start += SLICE) {
    const end = Math.min(l.size, start + SLICE);
    let bytes = 0;
    for (let i = start; i < end; i++) bytes += nodeBytes(l.levels[order[i]], l.connectivity, l.connectivityBase);
    const piece = new Uint8Array(bytes);
    const w = view(piece);
    let at = 0;
    for (let i = start; i < end; i++) {
      const s = order[i];
      const from = l.nodeAt[s];
      const size = nodeBytes(l.levels[s], l.connectivity, l.connectivityBase);
      piece.set(buf.subarray(from, from + size), at); // key, level, counts and the unused tails of the lists
      let list = from + NODE_HEAD_BYTES;
      for (let level = 0; level <= l.levels[s]; level++) {
        const to = at + (list - from);
        const count = v.getUint32(list, true);
        for (let t = 0; t < count; t++) w.setUint32(to + 4 + 4 * t, inverse[v.getUint32(list + 4 + 4 * t, true)], true);
        list += 4 + 4 * (level === 0 ? l.connectivityBase : l.connectivity);
      }
      at += size;
    }
    yield piece;
    await pause();
  }
}

/** renumberedPieces as one buffer. */
export async function renumbered(buf: Uint8Array, l: UsearchLayout, order: Int32Array, pause: Pause = noPause): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for await (const piece of renumberedPieces(buf, l, order, pause)) pieces.push(piece);
  return Buffer.concat(pieces);
}

/** The file's bytes with the slots in breadth-first order, in pieces (readLayout's checks first). */
export async function breadthFirstPieces(buf: Uint8Array, pause: Pause = noPause): Promise<AsyncGenerator<Uint8Array>> {
  const l = await readLayout(buf, pause);
  return renumberedPieces(buf, l, await breadthFirstOrder(buf, l, pause), pause);
}
