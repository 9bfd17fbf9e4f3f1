/**
 * The kafkajs partition assigner of the `facestream-ingest` group (`partitionAssigners: [cameraAssigner(…)]`):
 * sticky and weighted by cameras, over the pure core in assignment.ts.
 *
 *   protocol(): each member's metadata carries, in userData, the partitions of the cameras topic it owns now (JSON
 *     {v: 1, owned: [...]}), or {v: 1, nudge: true} for a short-lived member whose only job is to make the group
 *     rebalance (membership.ts) — it is given nothing.
 *   assign() (on the leader only): the leader's catalog gives each partition's weight (enabled cameras), and
 *     planAssignment() keeps partitions with their owners where balance allows.
 *
 * Hand-written, because it is domain logic (see assignment.ts); the wire format is kafkajs's AssignerProtocol.
 */
import { AssignerProtocol, type Assigner, type GroupMember, type GroupMemberAssignment, type PartitionAssigner } from 'kafkajs';
import type { Logger } from '../../util/log';
import { planAssignment, type AssignmentPlan, type MemberOwnership } from './assignment';

export const CAMERA_ASSIGNER_NAME = 'FacestreamStickyCameras';
const VERSION = 1;

/** What a member tells the leader about itself (protocol userData). */
export interface CameraMemberData {
  owned: number[];
  nudge: boolean;
}

export function encodeMemberData(d: CameraMemberData): Buffer {
  return Buffer.from(JSON.stringify(d.nudge ? { v: VERSION, nudge: true } : { v: VERSION, owned: d.owned }));
}

/** Decodes userData; anything unreadable counts as a member owning nothing (it then simply gets a fair share). */
export function decodeMemberData(userData: Buffer | null | undefined): CameraMemberData {
  if (!userData || userData.length === 0) return { owned: [], nudge: false };
  try {
    const v = JSON.parse(userData.toString('utf8')) as { owned?: unknown; nudge?: unknown };
    const owned = Array.isArray(v.owned) ? v.owned.filter((p): p is number => Number.isInteger(p) && p >= 0) : [];
    return { owned, nudge: v.nudge === true };
  } catch {
    return { owned: [], nudge: false };
  }
}

export interface CameraAssignerOptions {
  /** Partitions of the cameras topic this member owns now (sent at every join). */
  owned: () => number[];
  /** Enabled cameras in a partition (the catalog); used when this member is the leader. */
  weight: (partition: number) => number;
  /** This member only triggers a rebalance and must be given nothing. */
  nudge?: boolean;
  /** Called on the leader with each plan (for logs, metrics and deciding later rebalances). */
  onPlan?: (plan: AssignmentPlan, members: MemberOwnership[]) => void;
  log?: Logger;
}

/** Builds the assignment of every member (pure apart from decoding): exported for tests of the wire handling. */
export function assignMembers(
  members: readonly GroupMember[],
  topic: string,
  partitions: readonly number[],
  weight: (partition: number) => number,
): { assignments: GroupMemberAssignment[]; plan: AssignmentPlan; owners: MemberOwnership[] } {
  const owners: MemberOwnership[] = [];
  const nudges: string[] = [];
  for (const m of members) {
    const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
    const data = decodeMemberData(meta?.userData);
    if (data.nudge) nudges.push(m.memberId);
    else owners.push({ id: m.memberId, owned: data.owned });
  }
  const plan = planAssignment({ partitions, weight, members: owners });
  const encode = (parts: number[]) => AssignerProtocol.MemberAssignment.encode({ version: VERSION, assignment: { [topic]: parts }, userData: Buffer.alloc(0) });
  const assignments = [
    ...owners.map((o) => ({ memberId: o.id, memberAssignment: encode(plan.assignment.get(o.id) ?? []) })),
    ...nudges.map((memberId) => ({ memberId, memberAssignment: encode([]) })),
  ];
  return { assignments, plan, owners };
}

export function cameraAssigner(options: CameraAssignerOptions): PartitionAssigner {
  return ({ cluster }): Assigner => ({
    name: CAMERA_ASSIGNER_NAME,
    version: VERSION,
    async assign({ members, topics }) {
      if (topics.length !== 1) throw new Error(`${CAMERA_ASSIGNER_NAME}: expected the group to subscribe to the cameras topic only, got ${topics.join(', ')}`);
      const topic = topics[0];
      const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
      const { assignments, plan, owners } = assignMembers(members, topic, partitions, options.weight);
      options.log?.info(
        {
          members: owners.length,
          loads: Object.fromEntries(plan.loads),
          movedPartitionsWithCameras: plan.movedWeighted,
          movedPartitions: plan.moved.length,
        },
        'camera assignment planned (group leader)',
      );
      options.onPlan?.(plan, owners);
      return assignments;
    },
    protocol({ topics }) {
      return {
        name: CAMERA_ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: VERSION,
          topics,
          userData: encodeMemberData({ owned: options.nudge ? [] : options.owned(), nudge: options.nudge ?? false }),
        }),
      };
    },
  });
}
