/**
 * Frame-to-alert latency through Kafka: a real KRaft Kafka 3.9 broker and a real Redis (the repo's scripts), the
 * four services as separate `facestream <role>` processes, a camera added with `facestream cameras add` (a 1280x720
 * slideshow of the face-api sample photos, looped in one file longer than the run, played in real time), the demo's watchlist
 * enrolled into Redis with `facestream enroll`, and a webhook receiver that verifies every signature.
 *
 * Per alert: webhook arrival − the alert's lastSeen, which is the frame time of the embedding that decided it (the
 * match service sets lastSeen from the frames of the track's embeddings; the decision is taken on the newest one),
 * so this is the whole path: decode → detect → align → Kafka → embed → Kafka → match → Kafka → alerts → HTTP.
 * Cooldown 1 s, so each pass of the loop alerts again and the run yields many samples.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigSchema } from '../../src/config/schema';
import { openModels } from '../../src/cli/common';
import { cropWatchlistFaces } from '../../src/demo/enrol-watchlist';
import { samplePhotoDir, WATCHLIST_PICKS } from '../../src/demo/sample-photos';
import { DEFAULT_PLAN, renderSlideshow, type SlideshowPlan } from '../../src/demo/slideshow';
import { CliProcess } from '../../test/support/cli-process';
import { startKafka } from '../../test/support/kafka';
import { startRedis } from '../../test/support/redis';
import { startWebhookReceiver } from '../../test/support/webhook-receiver';

export interface KafkaLatencyResult {
  alerts: number;
  /**
   * Where the time goes, from the services' own /metrics at the end of the run: per hop (the time before each stage
   * stamp of a record since the one before it, Kafka transit and queueing included) and per in-process stage, the
   * count and mean. Means over every record, not only the alerting ones.
   */
  hops: { service: string; metric: string; stage: string; count: number; meanMs: number }[];
  /** Every alert's latency, in order of arrival (seconds since the camera was added). */
  samples: { atSec: number; ms: number }[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  seconds: number;
  pass: boolean;
}

const PHOTOS = ['sample1.jpg', 'sample2.jpg', 'sample3.jpg', 'sample4.jpg', 'sample5.jpg', 'sample6.jpg'];
const ROLES = ['alerts', 'match', 'embed', 'ingest'] as const;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const log = (m: string) => process.stderr.write(`[bench:distributed] latency: ${m}\n`);

export async function kafkaLatency(opts: { seconds: number; detector?: string }): Promise<KafkaLatencyResult> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facestream-bench-kafka-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const photoDir = samplePhotoDir();
    // Short slides (1.5 s, 0.5 s gaps: a 12 s loop), the loop repeated in one file longer than the run: every pass
    // gives new tracks at new times (a replayed file would repeat its frame times, hence its alert ids, which the
    // alerts service rightly delivers once), so the run yields a sample per watch-listed face every 12 s.
    const plan: SlideshowPlan = { ...DEFAULT_PLAN, photoSec: 1.5, gapSec: 0.5, photos: PHOTOS.map((p) => path.join(photoDir, p)) };
    const once = path.join(tmp, 'loop.mp4');
    const clip = path.join(tmp, 'camera.mp4');
    log('rendering the 1280x720 slideshow …');
    await renderSlideshow(plan, once);
    execFileSync('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', '-1', '-i', once, '-t', String(opts.seconds + 30), '-c', 'copy', clip], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const galleryDir = path.join(tmp, 'gallery');
    const config = ConfigSchema.parse(opts.detector ? { detector: { name: opts.detector } } : {});
    const models = await openModels(config);
    try {
      await cropWatchlistFaces(models.detector, photoDir, WATCHLIST_PICKS, galleryDir);
    } finally {
      await models.close();
    }

    log('starting Kafka and Redis …');
    const kafka = await startKafka();
    cleanups.push(() => kafka.stop());
    const redis = await startRedis({ persist: false });
    cleanups.push(() => redis.stop());
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const receiver = await startWebhookReceiver({ secret });
    cleanups.push(() => receiver.close());

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FACESTREAM_WEBHOOK_SECRET: secret,
      FACESTREAM_LOG_LEVEL: 'warn',
      FACESTREAM_KAFKA__BROKERS: kafka.brokers.join(','),
      FACESTREAM_REDIS__URL: redis.url,
      FACESTREAM_HTTP__PORT: '0',
      FACESTREAM_ALERTS__COOLDOWN_SEC: '1',
      FACESTREAM_ALERTS__SPOOL_DIR: path.join(tmp, 'spool'),
      FACESTREAM_ALERTS__WEBHOOKS: JSON.stringify([{ url: receiver.url }]),
      ...(opts.detector ? { FACESTREAM_DETECTOR__NAME: opts.detector } : {}),
    };
    delete env.FACESTREAM_CONFIG;
    const run = async (args: string[], what: string) => {
      const p = new CliProcess(args, env);
      const exit = await p.waitForExit(180_000, what);
      if (exit.code !== 0) throw new Error(`${what} failed (exit ${JSON.stringify(exit)}):\n${p.stdout}\n${p.tail()}`);
    };
    log('enrolling the demo watchlist into Redis …');
    await run(['enroll', '--gallery', galleryDir, '--store', redis.url, '--several-faces', 'largest'], 'facestream enroll');

    const services: CliProcess[] = [];
    cleanups.push(async () => {
      for (const s of services) s.signal('SIGTERM');
      await Promise.all(services.map((s) => s.waitForExit(30_000).catch(() => s.killAll())));
    });
    for (const role of ROLES) {
      const p = new CliProcess([role], env);
      services.push(p);
      await p.waitUntil(() => p.textLines.find((l) => l.startsWith(`facestream: ${role} metrics at`)), 120_000, `facestream ${role} to start`);
    }
    log(`four services up; camera added; measuring for ${opts.seconds} s …`);
    await run(['cameras', 'add', `slideshow=${clip}`, '--fps', '5'], 'facestream cameras add');
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, opts.seconds * 1000));

    const hops: KafkaLatencyResult['hops'] = [];
    for (const [i, p] of services.entries()) {
      const url = p.textLines.map((l) => /metrics at (http:\/\/\S+\/metrics)/.exec(l)?.[1]).find(Boolean);
      if (!url) continue;
      const text = await (await fetch(url)).text().catch(() => '');
      const sums = new Map<string, number>();
      for (const m of text.matchAll(/^facestream_(hop|stage)_seconds_(sum|count)\{stage="([^"]+)"\} (\S+)$/gm)) {
        sums.set(`${m[1]}|${m[3]}|${m[2]}`, Number(m[4]));
      }
      for (const [key, count] of sums) {
        const [metric, stage, kind] = key.split('|');
        if (kind !== 'count' || count === 0) continue;
        hops.push({ service: ROLES[i], metric: `${metric}_seconds`, stage, count, meanMs: ((sums.get(`${metric}|${stage}|sum`) ?? NaN) / count) * 1000 });
      }
    }

    const samples: number[] = [];
    const inArrivalOrder: { at: number; ms: number }[] = [];
    const firstArrival = new Map<string, number>();
    for (const r of receiver.requests) if (r.id && r.status < 300 && !firstArrival.has(r.id)) firstArrival.set(r.id, r.at);
    for (const [id, alert] of receiver.alerts) {
      const at = firstArrival.get(id);
      const frame = Date.parse(alert.lastSeen);
      if (at !== undefined && Number.isFinite(frame) && at >= t0) {
        samples.push(at - frame);
        inArrivalOrder.push({ at: at - t0, ms: at - frame });
      }
    }
    samples.sort((a, b) => a - b);
    inArrivalOrder.sort((a, b) => a.at - b.at);
    const p50Ms = quantile(samples, 0.5);
    const p99Ms = quantile(samples, 0.99);
    return {
      alerts: samples.length,
      hops,
      samples: inArrivalOrder.map((x) => ({ atSec: Math.round(x.at / 100) / 10, ms: Math.round(x.ms) })),
      p50Ms,
      p99Ms,
      maxMs: samples[samples.length - 1] ?? NaN,
      seconds: opts.seconds,
      pass: samples.length > 0 && p50Ms <= 250 && p99Ms <= 1000,
    };
  } finally {
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}
