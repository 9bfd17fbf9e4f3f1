/**
 * Shared helpers of the service tests (embed, match) run in-process against a real Kafka broker (and Redis):
 * configuration with unique topic/group prefixes, real faces of ../shared/data/lfw-dev (detected, aligned and
 * embedded by the real models), a continuous topic collector, and readiness reads.
 */
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import { loadConfig } from '../../src/config/load';
import type { Config, ConfigOverrides } from '../../src/config/schema';
import { analyzeFrame } from '../../src/detect/analyze';
import { createDetector } from '../../src/detect/detector';
import type { AlignedFace } from '../../src/detect/types';
import { Embedder } from '../../src/embed/embedder';
import { decodeImageFile } from '../../src/image/decode';
import type { Frame } from '../../src/image/frame';
import { ModelRegistry } from '../../src/models/registry';
import { chooseFace } from '../../src/pipeline/images';
import { faceJpeg } from '../../src/runtime/face-jpeg';
import type { Logger } from '../../src/util/log';
import { sharedDir } from '../support/shared';

export const EMBEDDER_NAME = 'faceapi-resnet128';

let unique = 0;
/** A fresh prefix per test: `<what>-<pid>-<n>`. */
export function uniquePrefix(what: string): string {
  return `${what}-${process.pid}-${++unique}`;
}

/** Service config for tests: the broker, unique topic and group prefixes, HTTP on a free port, no env leaking in. */
export function testConfig(brokers: string[], prefix: string, overrides: ConfigOverrides = {}): Config {
  const base: ConfigOverrides = {
    kafka: { brokers, topicPrefix: `${prefix}.`, groupPrefix: `${prefix}-`, partitions: 3, cameraPartitions: 4, sessionTimeoutMs: 6000 },
    http: { port: 0, host: '127.0.0.1' },
  };
  return loadConfig({ env: {}, overrides: merge(base, overrides) as ConfigOverrides });
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

export interface SharedFace {
  /** LFW identity folder name. */
  person: string;
  file: string;
  frame: Frame;
  face: AlignedFace;
  jpeg: Buffer;
  /** Filled by embedFaces(). */
  embedding?: Float32Array;
}

/** lfw-dev identity folders (sorted), or [] without ../shared. */
export function lfwPeople(set: 'lfw-dev' | 'lfw-dev-unknown' = 'lfw-dev'): string[] {
  const dir = sharedDir();
  if (!dir) return [];
  return readdirSync(path.join(dir, 'data', set)).sort();
}

/**
 * Real faces: the first `perPerson` images of each person of `set` decoded, detected (mtcnn), aligned for the
 * default embedder, with the face JPEG an alert carries. Throws when an image yields no face.
 */
export async function sharedFaces(people: string[], perPerson: number, set: 'lfw-dev' | 'lfw-dev-unknown' = 'lfw-dev'): Promise<SharedFace[]> {
  const dir = sharedDir();
  if (!dir) throw new Error('../shared is absent');
  const registry = new ModelRegistry({});
  const descriptor = registry.embedder(EMBEDDER_NAME).descriptor;
  const detector = createDetector(registry.detector('mtcnn'), { maxWidth: 640, minFaceSize: 20 });
  const out: SharedFace[] = [];
  try {
    for (const person of people) {
      const folder = path.join(dir, 'data', set, person);
      for (const name of readdirSync(folder).filter((f) => f.endsWith('.jpg')).sort().slice(0, perPerson)) {
        const file = path.join(folder, name);
        const frame = await decodeImageFile(file);
        const faces = await analyzeFrame(detector, frame, descriptor);
        const chosen = chooseFace(faces, frame, 'central');
        if (typeof chosen === 'string') throw new Error(`${file}: ${chosen}`);
        out.push({ person, file, frame, face: chosen, jpeg: faceJpeg(frame, chosen.detection.box) });
      }
    }
  } finally {
    detector.close?.();
  }
  return out;
}

/** Embeds the faces with the real default embedder (sets `embedding` on each); returns them. */
export async function embedFaces(faces: SharedFace[]): Promise<SharedFace[]> {
  const embedder = await Embedder.create(new ModelRegistry({}).embedder(EMBEDDER_NAME), { maxBatch: 8 });
  try {
    const out = await embedder.embed(faces.map((f) => f.face.crop));
    // Copies: the embedder's results are views on one buffer per batch.
    faces.forEach((f, i) => (f.embedding = Float32Array.from(out[i])));
  } finally {
    await embedder.close();
  }
  return faces;
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

export async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, stepMs = 100): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

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
