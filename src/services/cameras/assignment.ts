/**
 * The pure core of camera assignment between ingest processes: which member of the `facestream-ingest` group owns
 * which partition of the cameras topic, weighted by the enabled cameras each partition holds and sticky (a member
 * keeps the partitions it owns now whenever balance allows), so cameras spread evenly and as few as possible move.
 * No I/O: the kafkajs assigner (assigner.ts) feeds it the members' current ownership (from their protocol metadata)
 * and the leader's catalog weights.
 *
 * Hand-written, because it is domain logic: kafkajs ships only a round-robin assigner (not sticky, not weighted),
 * and the Java client's sticky assignors balance partition counts, not cameras.
 *
 * The plan, deterministic for a given input:
 *   1. Each member keeps the partitions it claims (a partition claimed by two members goes to the first by id).
 *   2. Unowned partitions (new ones, a departed member's) go, heaviest first, to the member with the least load
 *      (cameras), ties to the fewest partitions; empty partitions to the member with the fewest partitions.
 *   3. While some member could hand a partition of weight w to a lighter member with w < their load gap (which
 *      strictly lowers the sum of squared loads, so this ends), the move with the largest gap is made, choosing the
 *      partition whose weight is closest to half the gap (one move does as much as it can).
 *   4. Empty partitions move from the member with the most partitions to the one with the fewest while the counts
 *      differ by more than one (free moves, no camera stops; spreads where new cameras land).
 * The result is balanced to within one partition's weight: no single move of a camera partition improves it.
 */

export interface MemberOwnership {
  /** The group member id (kafkajs memberId). */
  id: string;
  /** Partitions the member owns now (from its protocol userData); unknown ones are ignored. */
  owned: readonly number[];
}

export interface AssignmentInput {
  /** Every partition of the cameras topic. */
  partitions: readonly number[];
  /** Enabled cameras per partition (absent = 0). */
  weight: (partition: number) => number;
  members: readonly MemberOwnership[];
}

export interface AssignmentPlan {
  /** Partitions per member id (ascending); every member appears, possibly with none. */
  assignment: Map<string, number[]>;
  /** Enabled cameras per member after the plan. */
  loads: Map<string, number>;
  /** Partitions with cameras that change owner (from one member to another). */
  movedWeighted: number[];
  /** Every partition that changes owner (including empty ones). */
  moved: number[];
}

interface Slot {
  id: string;
  parts: Set<number>;
  load: number;
}

const byLoad = (a: Slot, b: Slot) => a.load - b.load || a.parts.size - b.parts.size || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byCount = (a: Slot, b: Slot) => a.parts.size - b.parts.size || a.load - b.load || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function planAssignment(input: AssignmentInput): AssignmentPlan {
  const partitions = [...new Set(input.partitions)].sort((a, b) => a - b);
  const valid = new Set(partitions);
  const weight = new Map<number, number>();
  for (const p of partitions) {
    const w = input.weight(p);
    if (!Number.isFinite(w) || w < 0) throw new RangeError(`weight of partition ${p}: expected a count >= 0, got ${w}`);
    weight.set(p, w);
  }
  const ids = [...new Set(input.members.map((m) => m.id))].sort();
  const slots: Slot[] = ids.map((id) => ({ id, parts: new Set<number>(), load: 0 }));
  const slotOf = new Map(slots.map((s) => [s.id, s]));
  const plan: AssignmentPlan = { assignment: new Map(), loads: new Map(), movedWeighted: [], moved: [] };
  if (slots.length === 0) return plan;

  const give = (s: Slot, p: number) => {
    s.parts.add(p);
    s.load += weight.get(p)!;
  };
  const take = (s: Slot, p: number) => {
    s.parts.delete(p);
    s.load -= weight.get(p)!;
  };

  // 1. Keep what each member owns (first claimant by id wins a contested partition).
  const previous = new Map<number, string>();
  const claims = [...input.members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const m of claims) {
    for (const p of m.owned) {
      if (!valid.has(p) || previous.has(p)) continue;
      previous.set(p, m.id);
      give(slotOf.get(m.id)!, p);
    }
  }

  // 2. Unowned partitions: heaviest first to the lightest member; empty ones to the member with the fewest.
  const unowned = partitions.filter((p) => !previous.has(p)).sort((a, b) => weight.get(b)! - weight.get(a)! || a - b);
  for (const p of unowned) {
    const target = [...slots].sort(weight.get(p)! > 0 ? byLoad : byCount)[0];
    give(target, p);
  }

  // 3. Improve the load balance by single moves of camera partitions, largest gap first.
  for (;;) {
    const order = [...slots].sort(byLoad);
    let best: { from: Slot; to: Slot; p: number } | undefined;
    let bestGap = 0;
    for (let hi = order.length - 1; hi > 0; hi--) {
      for (let lo = 0; lo < hi; lo++) {
        const from = order[hi];
        const to = order[lo];
        const gap = from.load - to.load;
        if (gap <= bestGap || gap <= 1) continue;
        let pick: number | undefined;
        let pickScore = Infinity;
        for (const p of from.parts) {
          const w = weight.get(p)!;
          if (w <= 0 || w >= gap) continue;
          const score = Math.abs(gap - 2 * w);
          if (score < pickScore || (score === pickScore && pick !== undefined && p > pick)) {
            pick = p;
            pickScore = score;
          }
        }
        if (pick !== undefined) {
          best = { from, to, p: pick };
          bestGap = gap;
        }
      }
    }
    if (!best) break;
    take(best.from, best.p);
    give(best.to, best.p);
  }

  // 4. Spread empty partitions evenly (moves that stop no camera).
  for (;;) {
    const order = [...slots].sort(byCount);
    const few = order[0];
    const many = order[order.length - 1];
    if (many.parts.size - few.parts.size <= 1) break;
    const empties = [...many.parts].filter((p) => weight.get(p) === 0);
    if (empties.length === 0) break;
    const p = Math.max(...empties);
    take(many, p);
    give(few, p);
  }

  for (const s of slots) {
    const parts = [...s.parts].sort((a, b) => a - b);
    plan.assignment.set(s.id, parts);
    plan.loads.set(s.id, s.load);
    for (const p of parts) {
      const before = previous.get(p);
      if (before !== undefined && before !== s.id) {
        plan.moved.push(p);
        if (weight.get(p)! > 0) plan.movedWeighted.push(p);
      }
    }
  }
  plan.moved.sort((a, b) => a - b);
  plan.movedWeighted.sort((a, b) => a - b);
  return plan;
}

/** The spread of a plan: heaviest minus lightest member load. */
export function loadSpread(plan: Pick<AssignmentPlan, 'loads'>): number {
  const loads = [...plan.loads.values()];
  return loads.length === 0 ? 0 : Math.max(...loads) - Math.min(...loads);
}
