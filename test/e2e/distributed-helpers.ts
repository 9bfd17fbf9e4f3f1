/**
 * The distributed mode for end-to-end tests: a real Kafka 3.9 broker (KRaft) and a real Redis started by the repo's
 * scripts, the real GStreamer RTSP server, a real webhook receiver that verifies every signature, and the four
 * services as separate `facestream <role>` processes of the compiled CLI. The gallery is enrolled into Redis with
 * the real `enroll` command; cameras are added with the real `cameras add` command.
 *
 * Each stack uses its own topic prefix and group prefix, so tests can share one broker.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { startKafka, type KafkaBroker } from '../support/kafka';
import { startRedis, type RedisServer } from '../support/redis';
import { startRtspServer, type RtspTestServer } from '../support/rtsp-server';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { cliEnv, enrolWomanAndMan, fetchText, metricValue, runCli, sharedVideo, startCli, tempDir, WEBHOOK_SECRET, type CliProcess } from './helpers';

export type Role = 'ingest' | 'embed' | 'match' | 'alerts';

export const WALK_CLIP = 'face-demographics-walking-and-pause.mp4';
export const PAIR_CLIP = 'head-pose-face-detection-female-and-male.mp4';

/** What the embedded-mode test expects: the woman on the walk camera, the woman and the man on the pair camera. */
export const EXPECTED_ALERTS = ['pair:man', 'pair:woman', 'walk:woman'];

export interface StackOptions {
  /** RTSP mounts (name → file); default walk and pair. */
  mounts?: Record<string, string>;
  /** Redis with an fsynced append-only file (survives kill9/restart). Default true. */
  persistRedis?: boolean;
  /** Extra environment of every service. */
  env?: NodeJS.ProcessEnv;
}

export class DistributedStack {
  readonly processes: CliProcess[] = [];
  private spools = 0;

  constructor(
    private readonly t: TestContext,
    readonly dir: string,
    readonly kafka: KafkaBroker,
    readonly redis: RedisServer,
    readonly rtsp: RtspTestServer,
    readonly receiver: WebhookReceiver,
    readonly prefix: string,
    private readonly extraEnv: NodeJS.ProcessEnv,
  ) {}

  /** The environment of every facestream process of this stack. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return cliEnv({
      FACESTREAM_KAFKA__BROKERS: this.kafka.brokers.join(','),
      FACESTREAM_KAFKA__TOPIC_PREFIX: `${this.prefix}.`,
      FACESTREAM_KAFKA__GROUP_PREFIX: `${this.prefix}-`,
      FACESTREAM_KAFKA__PARTITIONS: '6',
      FACESTREAM_KAFKA__CAMERA_PARTITIONS: '16',
      FACESTREAM_KAFKA__SESSION_TIMEOUT_MS: '6000',
      FACESTREAM_REDIS__URL: this.redis.url,
      FACESTREAM_REDIS__PREFIX: `${this.prefix}:`,
      FACESTREAM_HTTP__PORT: '0',
      // One alert per person per camera for the whole test, whatever the number of times a clip replays.
      FACESTREAM_ALERTS__COOLDOWN_SEC: '3600',
      ...this.extraEnv,
      ...extra,
    });
  }

  /** Starts `facestream <role>` and waits until it prints its metrics address (it is running). */
  async start(role: Role, extra: NodeJS.ProcessEnv = {}): Promise<CliProcess> {
    const env: NodeJS.ProcessEnv = { ...extra };
    if (role === 'alerts') {
      env.FACESTREAM_ALERTS__SPOOL_DIR ??= path.join(this.dir, `spool-${this.spools++}`);
      env.FACESTREAM_ALERTS__WEBHOOKS ??= JSON.stringify([{ url: this.receiver.url }]);
    }
    const p = startCli(this.t, [role], this.env(env));
    this.processes.push(p);
    await p.waitUntil(() => serviceMetricsUrl(p, role), 120_000, `facestream ${role} to start`);
    return p;
  }

  /** Starts the four services (one each, or `counts` of some). */
  async startAll(counts: Partial<Record<Role, number>> = {}): Promise<Record<Role, CliProcess[]>> {
    const out = { ingest: [], embed: [], match: [], alerts: [] } as Record<Role, CliProcess[]>;
    // Consumers first, so nothing waits on a consumer group that is still forming.
    for (const role of ['alerts', 'match', 'embed', 'ingest'] as Role[]) {
      for (let i = 0; i < (counts[role] ?? 1); i++) out[role].push(await this.start(role));
    }
    return out;
  }

  /** Enrols the woman and the man (from their own clips) into the Redis gallery with the real `enroll` command. */
  async enrol(): Promise<void> {
    await enrolWomanAndMan(this.t, this.dir, this.galleryStore, this.env());
  }

  /** The gallery store URL of the CLI commands (Redis, with this stack's key prefix). */
  get galleryStore(): string {
    return this.redis.url;
  }

  /** `facestream cameras add NAME=URL --fps 10`. */
  async addCamera(name: string, mount: string = name, fps = 10): Promise<void> {
    const p = await runCli(this.t, ['cameras', 'add', `${name}=${this.rtsp.url(mount)}`, '--fps', String(fps)], 60_000, this.env());
    if (p.exit.code !== 0) throw new Error(`cameras add ${name} failed (exit ${JSON.stringify(p.exit)}):\n${p.stdout}\n${p.tail()}`);
  }

  async removeCamera(name: string): Promise<void> {
    const p = await runCli(this.t, ['cameras', 'remove', name], 60_000, this.env());
    if (p.exit.code !== 0) throw new Error(`cameras remove ${name} failed:\n${p.stdout}\n${p.tail()}`);
  }

  /** "camera:identity" of every accepted alert, sorted. */
  alertKeys(): string[] {
    return [...this.receiver.alerts.values()].map((a) => `${a.camera}:${a.identity.name}`).sort();
  }

  /** Waits until the receiver holds at least the expected alerts. */
  async waitForAlerts(expected: readonly string[], timeoutMs: number): Promise<void> {
    const want = [...expected].sort();
    await this.receiver
      .waitFor(() => want.every((k) => this.alertKeys().includes(k)), timeoutMs)
      .catch((e: Error) => {
        throw new Error(`${e.message}: expected alerts ${want.join(', ')}, got ${this.alertKeys().join(', ') || 'none'}\n${this.tails()}`);
      });
  }

  /** The last lines of every service's stderr (assertion messages). */
  tails(lines = 15): string {
    return this.processes.map((p) => p.tail(lines)).join('\n');
  }

  /** A metric of a running service (undefined when it does not answer or has no such series). */
  async metric(p: CliProcess, role: Role, series: string): Promise<number | undefined> {
    const url = serviceMetricsUrl(p, role);
    if (!url) return undefined;
    const r = await fetchText(url);
    return r ? metricValue(r.body, series) : undefined;
  }
}

/** The metrics URL a service prints once it runs: "facestream: <role> metrics at http://…/metrics". */
export function serviceMetricsUrl(p: CliProcess, role: Role): string | undefined {
  for (const line of p.textLines) {
    const m = new RegExp(`^facestream: ${role} metrics at (http://\\S+/metrics)`).exec(line);
    if (m) return m[1];
  }
  return undefined;
}

let brokerShared: KafkaBroker | undefined;
let stackCount = 0;

/** One broker for the whole test file (stopped by stopSharedKafka in after()). */
export async function sharedKafka(): Promise<KafkaBroker> {
  brokerShared ??= await startKafka();
  return brokerShared;
}

export async function stopSharedKafka(): Promise<void> {
  await brokerShared?.stop();
  brokerShared = undefined;
}

/**
 * A fresh stack: its own Redis, RTSP server, receiver and topic/group prefixes, on the shared broker (or a broker of
 * its own with `ownKafka`, for tests that kill it). Everything is stopped when the test ends.
 */
export async function startStack(t: TestContext, options: StackOptions & { ownKafka?: boolean } = {}): Promise<DistributedStack> {
  const dir = tempDir(t, 'dist');
  mkdirSync(dir, { recursive: true });
  let kafka: KafkaBroker;
  if (options.ownKafka) {
    kafka = await startKafka();
    t.after(() => kafka.stop());
  } else kafka = await sharedKafka();
  const redis = await startRedis({ persist: options.persistRedis ?? true });
  t.after(() => redis.stop());
  const rtsp = await startRtspServer(options.mounts ?? { walk: sharedVideo(WALK_CLIP), pair: sharedVideo(PAIR_CLIP) });
  t.after(() => rtsp.stop());
  const receiver = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
  t.after(() => receiver.close());
  const prefix = `e2e${process.pid}x${++stackCount}`;
  return new DistributedStack(t, dir, kafka, redis, rtsp, receiver, prefix, options.env ?? {});
}
