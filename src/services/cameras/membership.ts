/**
 * This ingest process as a member of the `facestream-ingest` group over the cameras topic. The member reads no
 * records (its partitions are paused; the catalog has its own reader): the group only decides which partitions — and
 * so which cameras — this process owns. Each GROUP_JOIN reports the partitions owned now (`onAssigned`).
 *
 * The group rebalances when members come and go (a dead member after kafka.sessionTimeoutMs). Camera changes alter
 * partition weights without any membership change, so the leader re-plans after catalog changes (`replan()`) and,
 * when the plan would move cameras, makes the group rebalance by letting a short-lived "nudge" member join and leave
 * (it is given nothing; kafkajs has no public "rejoin" call). Sticky assignment keeps every other camera in place.
 */
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../../util/log';
import { cameraAssigner } from './assigner';
import { planAssignment, type MemberOwnership } from './assignment';

export interface MembershipOptions {
  kafka: Kafka;
  groupId: string;
  /** The cameras topic (full name). */
  topic: string;
  sessionTimeoutMs: number;
  /** Enabled cameras per partition (the catalog). */
  weight: (partition: number) => number;
  /** Called after each join with the partitions this member owns now (sorted). Errors are logged. */
  onAssigned: (partitions: number[], info: { isLeader: boolean; memberId: string }) => void | Promise<void>;
  log: Logger;
  /** Least time between two rebalances this member asks for (default 10 s). */
  minNudgeIntervalMs?: number;
}

export interface MembershipState {
  joined: boolean;
  isLeader: boolean;
  memberId?: string;
  partitions: number[];
  /** Why the member is not in the group, when it is not. */
  problem?: string;
}

export class IngestMembership {
  private consumer: Consumer | undefined;
  private owned: number[] = [];
  private state: MembershipState = { joined: false, isLeader: false, partitions: [], problem: 'joining the group' };
  /** The leader's last plan: who owns what after it (for replan). */
  private lastOwners: MemberOwnership[] | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private nudging: Promise<void> | undefined;
  private lastNudgeAt = 0;
  private nudgeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MembershipOptions) {}

  get status(): MembershipState {
    return { ...this.state, partitions: [...this.state.partitions] };
  }

  /** Joins the group; resolves after the first assignment (or throws when the group cannot be joined). */
  async start(): Promise<void> {
    this.consumer = await this.startConsumer();
  }

  /**
   * On the leader: plans again with the current weights and, when cameras would move, makes the group rebalance
   * (at most once per minNudgeIntervalMs; later calls in that time are folded into one). Elsewhere: nothing.
   */
  replan(): void {
    if (this.stopping || !this.state.isLeader || !this.lastOwners) return;
    const plan = planAssignment({ partitions: this.allPartitions(), weight: this.options.weight, members: this.lastOwners });
    if (plan.movedWeighted.length === 0) return;
    const wait = Math.max(0, this.lastNudgeAt + (this.options.minNudgeIntervalMs ?? 10_000) - Date.now());
    if (this.nudgeTimer || this.nudging) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      // Check again: the weights may have settled back.
      if (this.stopping || !this.state.isLeader || !this.lastOwners) return;
      const again = planAssignment({ partitions: this.allPartitions(), weight: this.options.weight, members: this.lastOwners });
      if (again.movedWeighted.length === 0) return;
      this.options.log.info({ move: again.movedWeighted }, 'camera load is uneven after catalog changes; rebalancing the ingest group');
      this.nudging = this.nudge().finally(() => (this.nudging = undefined));
    }, wait);
  }

  /** Leaves the group (its partitions go to the other members at once). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.nudgeTimer) clearTimeout(this.nudgeTimer);
    await this.nudging?.catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    this.state = { ...this.state, joined: false, problem: 'stopped' };
  }

  private allPartitions(): number[] {
    const owners = this.lastOwners ?? [];
    const known = new Set<number>();
    for (const o of owners) for (const p of o.owned) known.add(p);
    return [...known];
  }

  private heartbeatMs(): number {
    return Math.max(500, Math.floor(this.options.sessionTimeoutMs / 5));
  }

  private async startConsumer(): Promise<Consumer> {
    const { kafka, groupId, topic, log } = this.options;
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.heartbeatMs(),
      // Heartbeats go out between fetches; a paused member's fetch just waits this long.
      maxWaitTimeInMs: Math.min(1000, this.heartbeatMs()),
      partitionAssigners: [
        cameraAssigner({
          owned: () => [...this.owned],
          weight: this.options.weight,
          onPlan: (plan) => {
            this.lastOwners = [...plan.assignment].map(([id, owned]) => ({ id, owned }));
          },
          log,
        }),
      ],
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const partitions = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
      this.owned = partitions;
      if (!e.payload.isLeader) this.lastOwners = undefined;
      this.state = { joined: true, isLeader: e.payload.isLeader, memberId: e.payload.memberId, partitions };
      log.info({ partitions: partitions.length, isLeader: e.payload.isLeader }, 'joined the ingest group');
      void Promise.resolve()
        .then(() => this.options.onAssigned(partitions, { isLeader: e.payload.isLeader, memberId: e.payload.memberId }))
        .catch((err) => log.error({ err: (err as Error).message }, 'applying the camera assignment failed'));
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (this.stopping) return;
      this.state = { ...this.state, joined: false, problem: `group member crashed: ${e.payload.error.message}` };
      log.error({ err: e.payload.error.message, restart: e.payload.restart }, 'ingest group member crashed');
      if (!e.payload.restart) {
        // Rejoin with a new member; owned() still names the partitions whose cameras run, so they stay here.
        this.restartTimer = setTimeout(() => {
          void consumer
            .disconnect()
            .catch(() => undefined)
            .then(async () => {
              if (!this.stopping) this.consumer = await this.startConsumer();
            })
            .catch((err) => log.error({ err: (err as Error).message }, 'rejoining the ingest group failed'));
        }, 2000);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({ autoCommit: false, eachBatch: async () => undefined });
    consumer.pause([{ topic }]);
    return consumer;
  }

  /** A member that joins (forcing a rebalance in which it gets nothing) and leaves again. */
  private async nudge(): Promise<void> {
    const { kafka, groupId, topic, log } = this.options;
    this.lastNudgeAt = Date.now();
    const nudger = kafka.consumer({
      groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.heartbeatMs(),
      maxWaitTimeInMs: 500,
      partitionAssigners: [
        cameraAssigner({
          owned: () => [],
          nudge: true,
          weight: this.options.weight,
          onPlan: (plan) => {
            // The nudge member may be chosen as leader; the plan is the group's either way.
            this.lastOwners = [...plan.assignment].map(([id, owned]) => ({ id, owned }));
          },
          log,
        }),
      ],
    });
    try {
      await nudger.connect();
      await nudger.subscribe({ topic, fromBeginning: false });
      await nudger.run({ autoCommit: false, eachBatch: async () => undefined });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not make the ingest group rebalance');
    } finally {
      await nudger.disconnect().catch(() => undefined);
    }
  }
}
