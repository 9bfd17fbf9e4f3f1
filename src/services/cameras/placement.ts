/**
 * Where a camera record goes in the cameras topic (pure): the partition already holding that name (so a camera has
 * one record, and compaction keeps its latest), else the partition with the fewest cameras. Among equally empty
 * partitions, one owned by the ingest member with the fewest enabled cameras is preferred (when the group's current
 * assignment is known), so a new camera starts on the least loaded process without a rebalance; remaining ties are
 * broken by a hash of the name (stable, and it spreads names that are added one after another).
 *
 * Hand-written: part of the camera assignment domain (see assignment.ts).
 */
import { createHash } from 'node:crypto';

export interface PlacedCamera {
  name: string;
  partition: number;
  enabled: boolean;
}

export interface PlacementInput {
  name: string;
  partitionCount: number;
  /** The catalog: every camera and its partition. */
  cameras: readonly PlacedCamera[];
  /** The ingest group's current assignment (member id → partitions), when known. */
  owners?: ReadonlyMap<string, readonly number[]>;
}

export function choosePartition(input: PlacementInput): number {
  const { name, partitionCount } = input;
  if (!Number.isInteger(partitionCount) || partitionCount < 1) throw new RangeError(`partition count: expected an integer >= 1, got ${partitionCount}`);
  const existing = input.cameras.find((c) => c.name === name && c.partition < partitionCount);
  if (existing) return existing.partition;

  const count = new Array<number>(partitionCount).fill(0);
  const enabled = new Array<number>(partitionCount).fill(0);
  for (const c of input.cameras) {
    if (c.partition < 0 || c.partition >= partitionCount) continue;
    count[c.partition] += 1;
    if (c.enabled) enabled[c.partition] += 1;
  }
  const fewest = Math.min(...count);
  let candidates = count.flatMap((n, p) => (n === fewest ? [p] : []));

  if (input.owners && input.owners.size > 0) {
    const loadOfPartition = new Map<number, number>();
    for (const parts of input.owners.values()) {
      const load = parts.reduce((s, p) => s + (enabled[p] ?? 0), 0);
      for (const p of parts) loadOfPartition.set(p, load);
    }
    const owned = candidates.filter((p) => loadOfPartition.has(p));
    if (owned.length > 0) {
      const least = Math.min(...owned.map((p) => loadOfPartition.get(p)!));
      candidates = owned.filter((p) => loadOfPartition.get(p) === least);
    }
  }
  const h = createHash('sha256').update(name).digest().readUInt32BE(0);
  return candidates[h % candidates.length];
}
