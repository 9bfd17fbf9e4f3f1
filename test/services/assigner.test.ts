/**
 * The camera assignment core without Kafka: balance by cameras, stickiness, minimal moves (assignment.ts), the
 * kafkajs wire handling of the assigner (assigner.ts), where a new camera is written (placement.ts) and how the
 * catalog applies records (catalog.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssignerProtocol } from 'kafkajs';
import { loadSpread, planAssignment, type AssignmentPlan, type MemberOwnership } from '../../src/services/cameras/assignment';
import { assignMembers, decodeMemberData, encodeMemberData } from '../../src/services/cameras/assigner';
import { choosePartition } from '../../src/services/cameras/placement';
import { applyCameraRecord, type CatalogEntry } from '../../src/services/cameras/catalog';
import type { CameraAssignment } from '../../src/schema';
import { prng } from '../schema/fixtures';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const weights = (w: Record<number, number>) => (p: number) => w[p] ?? 0;

/** Every partition exactly once, every member present. */
function assertComplete(plan: AssignmentPlan, partitions: number[], members: string[]): void {
  const seen = new Map<number, string>();
  for (const [id, parts] of plan.assignment) {
    for (const p of parts) {
      assert.equal(seen.has(p), false, `partition ${p} assigned to ${seen.get(p)} and ${id}`);
      seen.set(p, id);
    }
  }
  assert.deepEqual([...seen.keys()].sort((a, b) => a - b), partitions);
  assert.deepEqual([...plan.assignment.keys()].sort(), [...members].sort());
}

/** No single move of a camera partition to a lighter member would narrow their gap (the plan's balance goal). */
function assertNoImprovingMove(plan: AssignmentPlan, weight: (p: number) => number): void {
  for (const [from, parts] of plan.assignment) {
    for (const [to] of plan.assignment) {
      const gap = plan.loads.get(from)! - plan.loads.get(to)!;
      for (const p of parts) {
        const w = weight(p);
        assert.ok(!(w > 0 && w < gap), `moving partition ${p} (weight ${w}) from ${from} to ${to} would narrow a gap of ${gap}`);
      }
    }
  }
}

function owners(plan: AssignmentPlan): MemberOwnership[] {
  return [...plan.assignment].map(([id, owned]) => ({ id, owned }));
}

test('a single member owns every partition; no member, no assignment', () => {
  const plan = planAssignment({ partitions: range(8), weight: weights({ 1: 2, 5: 1 }), members: [{ id: 'a', owned: [] }] });
  assert.deepEqual(plan.assignment.get('a'), range(8));
  assert.equal(plan.loads.get('a'), 3);
  assert.equal(planAssignment({ partitions: range(8), weight: () => 1, members: [] }).assignment.size, 0);
});

test('a second member joining while four cameras run on the first: 2/2, two camera partitions move, empty partitions split evenly', () => {
  const w = weights({ 3: 1, 17: 1, 40: 1, 63: 1 });
  const first = planAssignment({ partitions: range(64), weight: w, members: [{ id: 'a', owned: [] }] });
  const plan = planAssignment({ partitions: range(64), weight: w, members: [...owners(first), { id: 'b', owned: [] }] });
  assertComplete(plan, range(64), ['a', 'b']);
  assert.equal(plan.loads.get('a'), 2);
  assert.equal(plan.loads.get('b'), 2);
  assert.equal(plan.movedWeighted.length, 2, 'exactly two cameras move');
  assert.equal(plan.assignment.get('a')!.length, 32);
  assert.equal(plan.assignment.get('b')!.length, 32);
  // The cameras that stay on "a" are in partitions "a" kept.
  const kept = [3, 17, 40, 63].filter((p) => plan.assignment.get('a')!.includes(p));
  assert.equal(kept.length, 2);
});

test('a balanced group with the same members and weights plans no move at all (stickiness)', () => {
  const w = weights({ 0: 2, 1: 1, 2: 1, 5: 3, 9: 1, 12: 1 });
  const start = planAssignment({ partitions: range(16), weight: w, members: ['a', 'b', 'c'].map((id) => ({ id, owned: [] })) });
  const again = planAssignment({ partitions: range(16), weight: w, members: owners(start) });
  assert.deepEqual(again.moved, []);
  assert.deepEqual([...again.assignment], [...start.assignment]);
  // Member order in the input does not matter.
  const shuffled = planAssignment({ partitions: range(16), weight: w, members: owners(start).reverse() });
  assert.deepEqual([...shuffled.assignment], [...start.assignment]);
});

test('a member leaving: only its partitions move, the others keep everything they had', () => {
  const w = weights({ 0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1 });
  const start = planAssignment({ partitions: range(12), weight: w, members: ['a', 'b', 'c'].map((id) => ({ id, owned: [] })) });
  const survivors = owners(start).filter((m) => m.id !== 'b');
  const plan = planAssignment({ partitions: range(12), weight: w, members: survivors });
  assertComplete(plan, range(12), ['a', 'c']);
  for (const m of survivors) for (const p of m.owned) assert.ok(plan.assignment.get(m.id)!.includes(p), `${m.id} kept partition ${p}`);
  assert.ok(loadSpread(plan) <= 1);
  assert.deepEqual(plan.moved, [], 'nothing moves between the survivors (b’s partitions were unowned)');
});

test('weights, not partition counts, are balanced, moving no more cameras than needed', () => {
  const w = weights({ 0: 6, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1 });
  const plan = planAssignment({ partitions: range(8), weight: w, members: [{ id: 'a', owned: range(8) }, { id: 'b', owned: [] }] });
  assertComplete(plan, range(8), ['a', 'b']);
  assert.equal(plan.loads.get('a'), 6);
  assert.equal(plan.loads.get('b'), 6);
  const movedCameras = plan.movedWeighted.reduce((s, p) => s + w(p), 0);
  assert.equal(movedCameras, 6, 'half the cameras move, not more');
  const heavyWith = [...plan.assignment].find(([, parts]) => parts.includes(0))![0];
  assert.equal(plan.assignment.get(heavyWith)!.filter((p) => w(p) > 0).length, 1, 'the 6-camera partition alone on its member');
  assertNoImprovingMove(plan, w);
});

test('contested and unknown partitions: each partition is given once; unknown ones are ignored', () => {
  const w = weights({ 1: 1, 2: 1 });
  const plan = planAssignment({
    partitions: range(4),
    weight: w,
    members: [
      { id: 'b', owned: [1, 2, 99] },
      { id: 'a', owned: [1, 3, -1] },
    ],
  });
  assertComplete(plan, range(4), ['a', 'b']);
  assert.equal(plan.loads.get('a'), 1);
  assert.equal(plan.loads.get('b'), 1);
});

test('weight errors name the partition', () => {
  assert.throws(() => planAssignment({ partitions: [0, 1], weight: (p) => (p === 1 ? -1 : 0), members: [{ id: 'a', owned: [] }] }), /partition 1/);
});

test('random groups and catalogs (seeded): complete, locally balanced, sticky, and moves bounded', () => {
  const rand = prng(20250506);
  for (let round = 0; round < 300; round++) {
    const n = 4 + Math.floor(rand() * 60);
    const partitions = range(n);
    const table: Record<number, number> = {};
    for (const p of partitions) table[p] = rand() < 0.5 ? 0 : Math.floor(rand() * 4);
    const w = weights(table);
    const members = range(1 + Math.floor(rand() * 5)).map((i) => `m${i}`);
    const before = planAssignment({ partitions, weight: w, members: members.map((id) => ({ id, owned: [] })) });
    assertComplete(before, partitions, members);
    assertNoImprovingMove(before, w);

    // Change membership: one joins or one leaves (never the last).
    const joins = members.length === 1 || rand() < 0.5;
    const next = joins ? [...owners(before), { id: `x${round}`, owned: [] }] : owners(before).filter((m) => m.id !== members[0]);
    const plan = planAssignment({ partitions, weight: w, members: next });
    assertComplete(plan, partitions, next.map((m) => m.id));
    assertNoImprovingMove(plan, w);
    // Sticky: a partition changes hands only by the plan's moves.
    const moved = new Set(plan.moved);
    for (const m of next) for (const p of m.owned) if (!moved.has(p)) assert.ok(plan.assignment.get(m.id)!.includes(p));
    // Minimal: a join moves at most a fair share of cameras plus one partition's weight.
    if (joins) {
      const total = partitions.reduce((s, p) => s + w(p), 0);
      const movedWeight = plan.movedWeighted.reduce((s, p) => s + w(p), 0);
      const maxW = Math.max(0, ...partitions.map(w));
      assert.ok(movedWeight <= Math.ceil(total / next.length) + maxW, `round ${round}: moved ${movedWeight} of ${total} cameras to a new member of ${next.length}`);
    }
  }
});

test('assigner wire format: owned partitions travel in userData; nudge members get nothing', () => {
  const meta = (owned: number[], nudge = false) => AssignerProtocol.MemberMetadata.encode({ version: 1, topics: ['t'], userData: encodeMemberData({ owned, nudge }) });
  const { assignments, plan } = assignMembers(
    [
      { memberId: 'a', memberMetadata: meta([0, 1, 2, 3]) },
      { memberId: 'b', memberMetadata: meta([]) },
      { memberId: 'n', memberMetadata: meta([], true) },
    ],
    't',
    range(4),
    weights({ 0: 1, 1: 1 }),
  );
  const decoded = new Map(assignments.map((a) => [a.memberId, AssignerProtocol.MemberAssignment.decode(a.memberAssignment)!.assignment.t]));
  assert.deepEqual(decoded.get('n'), []);
  assert.equal(plan.loads.get('a'), 1);
  assert.equal(plan.loads.get('b'), 1);
  assert.deepEqual([...decoded.get('a')!, ...decoded.get('b')!].sort(), range(4));
  // Garbage userData counts as owning nothing.
  assert.deepEqual(decodeMemberData(Buffer.from('not json')), { owned: [], nudge: false });
  assert.deepEqual(decodeMemberData(Buffer.from('{"owned":[1,"x",-2,3.5,4]}')), { owned: [1, 4], nudge: false });
});

test('placement: an existing name keeps its partition; otherwise the fewest cameras, preferring the least loaded member', () => {
  const cameras = [
    { name: 'a', partition: 0, enabled: true },
    { name: 'b', partition: 1, enabled: true },
    { name: 'c', partition: 2, enabled: false },
  ];
  assert.equal(choosePartition({ name: 'b', partitionCount: 4, cameras }), 1);
  assert.equal(choosePartition({ name: 'new', partitionCount: 4, cameras }), 3, 'the only empty partition');
  // Many empty partitions: the one owned by the member running fewer enabled cameras.
  const owners = new Map([
    ['m1', [0, 1, 4, 5]],
    ['m2', [2, 3, 6, 7]],
  ]);
  for (const name of ['x', 'y', 'z', 'w']) {
    const p = choosePartition({ name, partitionCount: 8, cameras, owners });
    assert.ok([3, 6, 7].includes(p), `${name} → partition ${p}, expected one of m2's empty partitions`);
  }
  // Stable for a name, and names spread over the candidates.
  assert.equal(choosePartition({ name: 'x', partitionCount: 64, cameras: [] }), choosePartition({ name: 'x', partitionCount: 64, cameras: [] }));
  const spread = new Set(range(20).map((i) => choosePartition({ name: `cam${i}`, partitionCount: 64, cameras: [] })));
  assert.ok(spread.size >= 10, `20 names on ${spread.size} partitions`);
});

test('catalog records: tombstones remove only from the holding partition; an older record elsewhere loses', () => {
  const cam = (name: string, updatedAtMs: number, url = 'rtsp://h/x'): CameraAssignment => ({ name, url, fps: 5, maxWidth: 1280, transport: 'tcp', enabled: true, hwaccel: 'none', updatedAtMs });
  const map = new Map<string, CatalogEntry>();
  assert.equal(applyCameraRecord(map, 3, { name: 'a', deleted: false, camera: cam('a', 100) })?.before, undefined);
  assert.equal(applyCameraRecord(map, 5, { name: 'a', deleted: false, camera: cam('a', 50) }), undefined, 'older record in another partition');
  assert.equal(map.get('a')!.partition, 3);
  assert.equal(applyCameraRecord(map, 5, { name: 'a', deleted: true }), undefined, 'tombstone in another partition');
  const upd = applyCameraRecord(map, 3, { name: 'a', deleted: false, camera: cam('a', 200, 'rtsp://h/y') });
  assert.equal(upd?.before?.camera.url, 'rtsp://h/x');
  assert.equal(upd?.after?.camera.url, 'rtsp://h/y');
  assert.equal(applyCameraRecord(map, 3, { name: 'a', deleted: true })?.after, undefined);
  assert.equal(map.size, 0);
});
