/**
 * Shared helpers of the service tests run in-process against a real Kafka broker (and Redis): configuration with
 * unique topic/group prefixes, service hosts with quiet logs, a continuous topic collector, polling, and readiness
 * and metrics reads. Real faces for the embed and match tests are in shared-faces.ts.
 */
import { Writable } from 'node:stream';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { loadConfig } from '../../src/config/load';
import type { Config, ConfigOverrides } from '../../src/config/schema';
import { startServiceHost, type ServiceHost, type ServiceRole } from '../../src/services/host';
import type { Logger } from '../../src/util/log';

let unique = 0;
/** `<what>-<pid>-<n>-<time>`: unique per test and per run (Redis keys and Kafka groups of earlier runs never match). */
export function uniquePrefix(what: string): string {
  return `${what}-${process.pid}-${++unique}-${Date.now().toString(36)}`;
}

/**
 * Service config for tests, loaded like the CLI loads it: the broker, unique topic and group prefixes, HTTP on a
 * free port, then `overrides`; FACESTREAM_* settings only from `env` (none of the test process's leak in).
 */
export function testConfig(brokers: string[], prefix: string, overrides: ConfigOverrides = {}, env: Record<string, string> = {}): Config {
  const base: ConfigOverrides = {
    kafka: { brokers, topicPrefix: `${prefix}.`, groupPrefix: `${prefix}-`, partitions: 3, cameraPartitions: 4, sessionTimeoutMs: 6000 },
    http: { port: 0, host: '127.0.0.1' },
  };
  return loadConfig({ env, overrides: mergeOverrides(base, overrides) });
}

/** `b` over `a`: plain objects merged key by key, arrays and other values replaced, undefined keeps `a`'s. */
export function mergeOverrides(a: ConfigOverrides, b: ConfigOverrides): ConfigOverrides {
  return merge(a, b) as ConfigOverrides;
}

function merge(a: unknown, b: unknown): unknown {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = merge(out[k], v);
    return out;
  }
  return b === undefined ? a : b;
}

/** A quiet logger (warnings and errors on stderr, or everything into `lines` when given). */
export function testLogger(lines?: string[]): Logger {
  if (!lines) return pino({ level: process.env.FACESTREAM_LOG_LEVEL ?? 'warn' }, pino.destination({ fd: 2, sync: true }));
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return pino({ level: 'debug' }, sink);
}

/** A service host in this process (no signal handlers, quiet logs); the test starts the service on it and shuts it down. */
export function startTestHost(role: ServiceRole, config: Config): Promise<ServiceHost> {
  return startServiceHost(role, config, { signals: false, log: testLogger() });
}

export interface Collected {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer;
}

export interface TopicCollector {
  readonly records: Collected[];
  waitFor(what: string, pred: (records: Collected[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Collects every record of `topic` from the beginning (a throwaway group) until stop(); resolves once joined. */
export async function collectTopic(kafka: Kafka, topic: string): Promise<TopicCollector> {
  const consumer = kafka.consumer({ groupId: `collector-${topic}-${process.pid}-${++unique}`, sessionTimeout: 6000, heartbeatInterval: 500 });
  const records: Collected[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      records.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value ?? Buffer.alloc(0) });
    },
  });
  await joined;
  return {
    records,
    async waitFor(what, pred, timeoutMs = 60_000) {
      await waitUntil(what, () => pred(records), timeoutMs);
    },
    stop: () => consumer.disconnect(),
  };
}

/** Polls `cond` every `stepMs` until it holds; throws after `timeoutMs`, naming `what`. */
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
  body: { ready?: boolean; checks?: Record<string, { ok: boolean; detail?: string }> } & Record<string, unknown>;
}

export async function readyz(port: number): Promise<Readyz> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as Readyz['body'] };
}

export async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}
