/**
 * Stage timestamps: each service stamps a record as it passes (wall-clock ms, Date.now(), comparable across
 * machines as far as their clocks are synchronised), so per-stage and end-to-end latency can be measured from any
 * record downstream.
 */
import { MAX_STAGES, STAGE_PATTERN } from './check';
import type { StageStamp } from './types';

/** The stage labels facestream's services write, in pipeline order ("<service>.<step>", done at tsMs). */
export const Stage = {
  /** Frame decoded (frame_ts_ms is the same moment). */
  ingestDecode: 'ingest.decode',
  ingestDetect: 'ingest.detect',
  ingestAlign: 'ingest.align',
  ingestPublish: 'ingest.publish',
  embedReceive: 'embed.receive',
  embedInfer: 'embed.infer',
  embedPublish: 'embed.publish',
  matchReceive: 'match.receive',
  matchScore: 'match.score',
  matchPublish: 'match.publish',
  alertsReceive: 'alerts.receive',
  alertsDeliver: 'alerts.deliver',
} as const;

/**
 * A copy of the record with (stage, tsMs) appended to its stages; the record itself is not changed (the copy is
 * shallow: crops and embeddings are shared). Throws RangeError for a label outside [a-z][a-z0-9_.-]{0,63}, a bad
 * time, or a record that already has MAX_STAGES stamps.
 */
export function stampStage<T extends { stages: StageStamp[] }>(msg: T, stage: string, tsMs: number = Date.now()): T {
  if (!STAGE_PATTERN.test(stage)) throw new RangeError(`stage label: expected [a-z][a-z0-9_.-]{0,63}, got ${JSON.stringify(stage.slice(0, 80))}`);
  if (!Number.isSafeInteger(tsMs) || tsMs <= 0) throw new RangeError(`stage time: expected ms since the epoch (a positive integer), got ${tsMs}`);
  if (msg.stages.length >= MAX_STAGES) throw new RangeError(`stages: the record already has ${MAX_STAGES} stamps (is it looping?)`);
  return { ...msg, stages: [...msg.stages, { stage, tsMs }] };
}

export interface StageDuration {
  /** The stage that ended this interval. */
  stage: string;
  /** Since the previous stamp (the first stamp has none); negative when clocks disagree. */
  ms: number;
}

/** Time spent before each stamp since the previous one, in order, for a latency histogram labelled by stage. */
export function stageDurations(stages: readonly StageStamp[]): StageDuration[] {
  const out: StageDuration[] = [];
  for (let i = 1; i < stages.length; i++) out.push({ stage: stages[i].stage, ms: stages[i].tsMs - stages[i - 1].tsMs });
  return out;
}

/** From the first stamp (or `sinceMs`, e.g. the frame time) to `nowMs`; NaN when there is no stamp nor sinceMs. */
export function elapsedMs(stages: readonly StageStamp[], nowMs: number = Date.now(), sinceMs?: number): number {
  const start = sinceMs ?? stages[0]?.tsMs;
  return start === undefined ? NaN : nowMs - start;
}
