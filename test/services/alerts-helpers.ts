/**
 * Helpers of the alerts service tests (real Kafka, real Redis, real webhook receiver): the service configuration
 * (secret through FACESTREAM_WEBHOOK_SECRET and the config loader, unique topic/group/key prefixes, fast backoff),
 * AlertRecords of test alerts with stage stamps, and small HTTP/metrics readers.
 */
import { loadConfig } from '../../src/config/load';
import type { Config, ConfigOverrides } from '../../src/config/schema';
import { encodeAlertRecord, recordKey, Stage, type AlertRecord } from '../../src/schema';
import type { OutgoingRecord } from '../../src/transport/producer';
import { makeAlert } from '../alerts/make-alert';

export const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
/** Two cameras per partition of a 3-partition topic (kafkajs's default murmur2 partitioner): 0, 0, 1, 1, 2, 2. */
export const CAMERAS = ['cam-a', 'cam-b', 'cam-e', 'cam-f', 'cam-h', 'cam-i'];

let unique = 0;
/** `<what>-<pid>-<n>-<time>`: unique per test and per run (Redis keys and Kafka groups of earlier runs never match). */
export function uniquePrefix(what: string): string {
  return `${what}-${process.pid}-${++unique}-${Date.now().toString(36)}`;
}

export interface AlertsTestConfig {
  brokers: string[];
  redisUrl: string;
  webhookUrl: string;
  prefix: string;
  spoolDir: string;
  overrides?: ConfigOverrides;
}

/** The configuration of an alerts service under test, loaded like the CLI loads it (secret from the environment). */
export function alertsConfig(o: AlertsTestConfig): Config {
  const base: ConfigOverrides = {
    kafka: { brokers: o.brokers, topicPrefix: `${o.prefix}.`, groupPrefix: `${o.prefix}-`, partitions: 3, cameraPartitions: 2, sessionTimeoutMs: 6000 },
    http: { port: 0, host: '127.0.0.1' },
    redis: { url: o.redisUrl, prefix: `${o.prefix}:` },
    alerts: { webhooks: [{ url: o.webhookUrl }], spoolDir: o.spoolDir, timeoutMs: 2000, backoff: { initialMs: 50, maxMs: 400 }, maxClientErrorAttempts: 2 },
  };
  return loadConfig({ env: { FACESTREAM_WEBHOOK_SECRET: WEBHOOK_SECRET }, overrides: merge(base, o.overrides ?? {}) as ConfigOverrides });
}

function merge(a: unknown, b: unknown): unknown {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = merge(out[k], v);
    return out;
  }
  return b === undefined ? a : b;
}

/** Test alert n (unique id per n) on one of CAMERAS, stamped as if it came through ingest → match just now. */
export function alertRecord(n: number): AlertRecord {
  const now = Date.now();
  return {
    alert: makeAlert(n, { camera: CAMERAS[n % CAMERAS.length] }),
    stages: [
      { stage: Stage.ingestDecode, tsMs: now - 40 },
      { stage: Stage.matchPublish, tsMs: now - 2 },
    ],
  };
}

export function outgoing(r: AlertRecord): OutgoingRecord {
  return { key: recordKey(r), value: encodeAlertRecord(r) };
}

export async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, stepMs = 50): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Readyz {
  status: number;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export async function readyz(port: number): Promise<Readyz> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body = (await res.json()) as { checks?: Readyz['checks'] };
  return { status: res.status, checks: body.checks ?? {} };
}

export async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** The value of one sample (`name{labels} value`) of the metrics text; 0 when absent. */
export function metricValue(text: string, sample: string): number {
  for (const line of text.split('\n')) if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  return 0;
}
