/**
 * The one configuration schema of facestream (zod, strict: unknown keys are errors), with defaults.
 * Sources are layered by load.ts: defaults < YAML file < FACESTREAM_* environment < command-line flags.
 *
 * Every leaf carries an "expected …" message; load.ts adds the key path and what was given (with URLs
 * masked and secrets never shown).
 */
import { z } from 'zod';
import { secretKey } from '../alerts/sign';
import { DEFAULT_ANN } from '../match/search/ann-params';
import { CAMERA_NAME_EXPECTED, CAMERA_NAME_PATTERN } from './names';

// ---- leaf helpers: one message per leaf, whatever check fails -------------------------------------------

function int(min: number, max: number, note = '') {
  const error = `expected integer ${min}..${max}${note}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

function num(min: number, max: number, opts: { exclusiveMin?: boolean } = {}) {
  const error = `expected number ${opts.exclusiveMin ? `> ${min}` : `>= ${min}`} and <= ${max}`;
  const base = z.number({ error });
  return (opts.exclusiveMin ? base.gt(min, { error }) : base.min(min, { error })).max(max, { error });
}

function bool() {
  return z.boolean({ error: 'expected true or false' });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.map((v) => `"${v}"`).join(', ')}` });
}

function text(what = 'a non-empty string') {
  const error = `expected ${what}`;
  return z.string({ error }).min(1, { error });
}

// ---- cameras -------------------------------------------------------------------------------------------

export const CAMERA_URL_EXPECTED = 'expected rtsp://, rtsps://, http://, https:// or file path';
const CAMERA_SCHEMES = new Set(['rtsp:', 'rtsps:', 'http:', 'https:']);

/** A camera source: a network URL with a host, or a file path (anything without a scheme). */
export function isCameraUrl(value: string): boolean {
  if (value.length === 0 || value.trim() !== value) return false;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    if (/^file:\/\//i.test(value)) return value.length > 'file://'.length;
    try {
      const u = new URL(value);
      return CAMERA_SCHEMES.has(u.protocol) && u.hostname.length > 0;
    } catch {
      return false;
    }
  }
  // "rtsp:/host", "rtsp:host": a URL missing "//", not a file path (a drive letter "C:\" has one letter).
  return !/^[a-z][a-z0-9+.-]+:/i.test(value);
}

export const CameraSchema = z.strictObject({
  /** Label-safe name used in logs, metrics and alerts (never the URL). */
  name: z.string({ error: CAMERA_NAME_EXPECTED }).regex(CAMERA_NAME_PATTERN, { error: CAMERA_NAME_EXPECTED }),
  /** rtsp(s)://, http(s):// or a file path. May hold credentials: it is masked wherever it is shown. */
  url: z.string({ error: CAMERA_URL_EXPECTED }).refine(isCameraUrl, { error: CAMERA_URL_EXPECTED }),
  /** Analysis rate: frames per second decoded and analysed. */
  fps: num(0, 60, { exclusiveMin: true }).default(5),
  /** Decoded frames are scaled down to at most this width. */
  maxWidth: int(64, 7680).default(1280),
  /** RTSP transport. */
  transport: oneOf(['tcp', 'udp']).default('tcp'),
  enabled: bool().default(true),
  /** ffmpeg hardware decoding. */
  hwaccel: oneOf(['none', 'auto', 'cuda', 'vaapi', 'qsv', 'videotoolbox']).default('none'),
});

// ---- webhooks ------------------------------------------------------------------------------------------

export const WEBHOOK_SECRET_EXPECTED =
  'expected "whsec_<base64>" or a string, with at least 24 key bytes (Standard Webhooks); set it here or in FACESTREAM_WEBHOOK_SECRET';

/** Webhook secret check; its messages never include the secret. */
function webhookSecret() {
  return z.string({ error: WEBHOOK_SECRET_EXPECTED }).superRefine((value, ctx) => {
    let bytes: number;
    try {
      bytes = secretKey(value).length;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${WEBHOOK_SECRET_EXPECTED} (${(err as Error).message})` });
      return;
    }
    if (bytes < 24) ctx.addIssue({ code: 'custom', message: `${WEBHOOK_SECRET_EXPECTED} (got ${bytes} key bytes)` });
  });
}

const WEBHOOK_URL_EXPECTED = 'expected an http:// or https:// URL';

export const WebhookSchema = z.strictObject({
  /** May carry credentials (user:password@ → HTTP Basic); masked wherever shown. */
  url: z.string({ error: WEBHOOK_URL_EXPECTED }).refine(
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname.length > 0;
      } catch {
        return false;
      }
    },
    { error: WEBHOOK_URL_EXPECTED },
  ),
  /** Filled from FACESTREAM_WEBHOOK_SECRET by load.ts when absent; required after that. */
  secret: webhookSecret(),
});

// ---- the whole configuration ---------------------------------------------------------------------------

export const ConfigSchema = z
  .strictObject({
    cameras: z.array(CameraSchema, { error: 'expected a list of cameras' }).default([]),
    detector: z
      .strictObject({
        /** Detector descriptor name (models/descriptors). */
        name: text('a detector name').default('mtcnn'),
        /** Frames are downscaled to at most this width for detection (boxes are mapped back). */
        maxWidth: int(64, 7680).default(640),
        /** Smallest face the detector looks for, in detection-image pixels. */
        minFaceSize: int(8, 1024).default(20),
        /**
         * A camera's frames are searched whole at least this often (ms); frames between are searched only around
         * the faces of the frame before (src/detect/schedule.ts). 0: every frame whole. At the default 5 fps
         * analysis rate, 200 means every frame.
         */
        fullDetectionIntervalMs: int(0, 10_000).default(200),
      })
      .prefault({}),
    embedder: z
      .strictObject({
        name: text('an embedder name').default('faceapi-resnet128'),
        /** onnxruntime intra-op threads; absent = the runtime's choice. */
        threads: int(1, 256).optional(),
        /** onnxruntime execution providers, in preference order. */
        executionProviders: z
          .array(oneOf(['cuda', 'cpu']), { error: 'expected a list of "cuda", "cpu"' })
          .min(1, { error: 'expected a non-empty list of "cuda", "cpu"' })
          .refine((l) => new Set(l).size === l.length, { error: 'expected each execution provider at most once' })
          .default(['cpu']),
        /** Largest batch of crops per inference. */
        maxBatch: int(1, 256).default(8),
      })
      .prefault({}),
    /** Extra model directory searched first (the registry's `modelDir`). */
    modelDir: text('a directory path').optional(),
    /** Gallery store path. */
    store: text('a path').default('facestream-data/store'),
    tracking: z
      .strictObject({
        /** A track not matched by a detection for this long ends. */
        maxAgeMs: int(1, 600_000).default(1500),
        /** Minimum IoU to associate a detection with a track. */
        iou: num(0, 1, { exclusiveMin: true }).default(0.3),
        /** At most this many crops of a track are embedded. */
        embedPerTrack: int(1, 100).default(5),
        /** Minimum time between two embeddings of one track. */
        minIntervalMs: int(0, 600_000).default(200),
      })
      .prefault({}),
    quality: z
      .strictObject({
        /** Smallest face (min of box width/height, source pixels) worth embedding. */
        minFaceSize: int(8, 4096).default(24),
        /** Minimum variance of the Laplacian of the aligned crop. */
        minBlur: num(0, 1e6).default(3),
        /** Largest |yaw| / |pitch| in degrees. */
        maxYaw: num(0, 90).default(45),
        maxPitch: num(0, 90).default(35),
      })
      .prefault({}),
    matching: z
      .strictObject({
        /** Target false-positive identification rate that sets the open-set thresholds. */
        targetFpir: num(0, 1, { exclusiveMin: true }).default(0.001),
        /** Override of the SVM decision threshold. */
        svm: num(-1e6, 1e6).optional(),
        /** Override of the embedding distance threshold. */
        distance: num(0, 1e6, { exclusiveMin: true }).optional(),
        /**
         * Galleries with more identities than this are matched through an exact candidate index (every SVM scored by
         * an onnxruntime GEMM, the open-set rule then run on the top candidates; same decisions, see
         * src/match/search/candidates.ts) instead of scoring every identity in JavaScript. 0: always.
         */
        indexAbove: int(0, 1_000_000_000).default(5_000),
        /**
         * The candidate index above indexAbove: 'exact' (the decisions of scoring every identity) or 'approximate'
         * (an HNSW graph from USearch over 8-bit rows, its candidates re-scored exactly: several times faster at
         * millions of identities, the exact top identity found for ~99% of probes; its build takes minutes at 1M,
         * during which the previous gallery version keeps matching). See src/match/search/ann-index.ts.
         */
        index: oneOf(['exact', 'approximate'] as const).default('exact'),
        approximate: z
          .strictObject({
            /** Graph degree M. */
            connectivity: int(2, 256).default(DEFAULT_ANN.connectivity),
            /** Build-time beam (efConstruction). */
            expansionAdd: int(1, 10_000).default(DEFAULT_ANN.expansionAdd),
            /** Query-time beam (efSearch): the speed/recall knob. */
            expansionSearch: int(1, 10_000).default(DEFAULT_ANN.expansionSearch),
            /** Rows taken from the graph per embedding and re-scored exactly. */
            candidates: int(1, 10_000).default(DEFAULT_ANN.candidates),
            quantization: oneOf(['i8', 'f16', 'f32'] as const).default(DEFAULT_ANN.quantization),
            /** Native threads for builds and searches; 0 = one per core. */
            threads: int(0, 1024, ' (0 = one per core)').default(DEFAULT_ANN.threads),
            /** Share of the scores' variance (estimated) the projection's dropped axes may carry. */
            discardVariance: num(0, 0.5).default(DEFAULT_ANN.discardVariance),
            /**
             * The graph's memory order: 'breadth-first' renumbers it after each build so that linked rows sit together
             * and searches it memory-mapped from a file of its size (~0.5 GB at 1M identities) in tempDir, unlinked at
             * once (the same answers, faster searches); 'insertion' keeps USearch's order, in the heap.
             */
            layout: oneOf(['breadth-first', 'insertion'] as const).default('breadth-first'),
            /** Directory for the graph's file (default: the OS temporary directory). */
            tempDir: text('a directory path').optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    alerts: z
      .strictObject({
        webhooks: z.array(WebhookSchema, { error: 'expected a list of webhooks' }).default([]),
        /** One alert per identity per camera per this many seconds. */
        cooldownSec: int(0, 86_400).default(60),
        spoolDir: text('a directory path').default('facestream-data/spool'),
        /** Per-request timeout. */
        timeoutMs: int(100, 300_000).default(10_000),
        backoff: z
          .strictObject({
            initialMs: int(1, 3_600_000).default(1_000),
            maxMs: int(1, 86_400_000).default(60_000),
          })
          .prefault({}),
        /** Attempts before an alert refused with a non-retryable 4xx is dead-lettered. */
        maxClientErrorAttempts: int(1, 1000).default(5),
      })
      .prefault({}),
    http: z
      .strictObject({
        /** Metrics/health port; 0 = any free port. */
        port: int(0, 65535, ' (0 = any free port)').default(9464),
        host: text('a host or IP address').default('0.0.0.0'),
      })
      .prefault({}),
    /** The management API (`facestream api`): its port also serves /healthz, /readyz and /metrics. */
    api: z
      .strictObject({
        port: int(0, 65535, ' (0 = any free port)').default(8080),
        host: text('a host or IP address').default('0.0.0.0'),
        /** Largest JSON request body. */
        bodyLimitBytes: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
        /** Largest uploaded image (each file of a multipart upload). */
        maxUploadBytes: int(1024, 1024 * 1024 * 1024).default(10 * 1024 * 1024),
        /** Most files in one upload. */
        maxUploadFiles: int(1, 100).default(10),
        /** Largest width x height of an uploaded image (checked from its header, before decoding). */
        maxImagePixels: int(1, 500_000_000).default(40_000_000),
        /** Requests per key per window (Redis-backed in distributed mode). */
        rateLimit: z
          .strictObject({
            max: int(1, 1_000_000).default(600),
            windowMs: int(100, 86_400_000).default(60_000),
          })
          .prefault({}),
        /** Enrolment image with several faces: use the largest or the most central one, or reject it ('single'). */
        facePolicy: oneOf(['largest', 'central', 'single']).default('single'),
      })
      .prefault({}),
    /** Distributed mode: the Kafka cluster the services share (ignored by the embedded mode). */
    kafka: z
      .strictObject({
        /** Bootstrap brokers, host:port. */
        brokers: z
          .array(text('a broker as host:port').refine((b) => /^[^\s:/]+:\d{1,5}$/.test(b), { error: 'expected a broker as host:port' }), {
            error: 'expected a list of brokers as host:port',
          })
          .min(1, { error: 'expected at least one broker as host:port' })
          .default(['127.0.0.1:9092']),
        clientId: text('a client id').default('facestream'),
        /** Prefix of every topic name. */
        topicPrefix: text('a topic prefix').regex(/^[A-Za-z0-9._-]{1,100}$/, { error: 'expected letters, digits, ".", "_" or "-"' }).default('facestream.'),
        /** Prefix of every consumer group id (the role is appended: facestream-embed, …). */
        groupPrefix: text('a group id prefix').default('facestream-'),
        /** Replication factor of the topics the services create (3 in production). */
        replicationFactor: int(1, 16).default(1),
        /** Partitions of the faces/embeddings topics (the parallelism limit of embed and match). */
        partitions: int(1, 10_000).default(12),
        /** Partitions of the compacted cameras topic: the finest unit of camera assignment between ingest processes. */
        cameraPartitions: int(1, 10_000).default(64),
        /** A member silent this long leaves its consumer group (its work moves to the others). */
        sessionTimeoutMs: int(6_000, 300_000).default(10_000),
        ssl: bool().default(false),
        sasl: z
          .strictObject({
            mechanism: oneOf(['plain', 'scram-sha-256', 'scram-sha-512']),
            username: text('a user name'),
            password: text('a password'),
          })
          .optional(),
      })
      .prefault({}),
    /** Distributed mode: the Redis that holds the shared gallery and the alert de-duplication keys. */
    redis: z
      .strictObject({
        /** redis://[user:password@]host:port[/db] (rediss:// for TLS). Also FACESTREAM_REDIS__URL. */
        url: text('a redis:// or rediss:// URL')
          .refine((v) => /^rediss?:\/\/[^\s]+$/.test(v), { error: 'expected a redis:// or rediss:// URL' })
          .optional(),
        /** Key prefix (Redis Cluster: a hash tag such as "{facestream}:"). */
        prefix: text('a key prefix').default('facestream:'),
        /** How long an alert id is remembered for de-duplication. */
        dedupTtlSec: int(60, 90 * 86_400).default(7 * 86_400),
      })
      .prefault({}),
    /** Distributed-mode services. */
    services: z
      .strictObject({
        embed: z
          .strictObject({
            /** A batch is run when it holds embedder.maxBatch crops or its oldest crop has waited this long. */
            maxWaitMs: int(0, 10_000).default(15),
          })
          .prefault({}),
        ingest: z
          .strictObject({
            /** Most cameras one ingest process runs; more assigned ones wait (and are reported) until capacity frees. */
            maxCameras: int(1, 10_000).default(32),
            /** Face crops held while Kafka is slow or down; beyond this the oldest are dropped (and counted). */
            publishBuffer: int(1, 100_000).default(256),
          })
          .prefault({}),
        match: z
          .strictObject({
            /** A track's state is dropped when no embedding arrived for it this long. */
            trackIdleMs: int(1_000, 3_600_000).default(60_000),
          })
          .prefault({}),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const firstIndex = new Map<string, number>();
    (cfg.cameras ?? []).forEach((c, i) => {
      const prev = firstIndex.get(c?.name);
      if (prev === undefined) firstIndex.set(c.name, i);
      else ctx.addIssue({ code: 'custom', path: ['cameras', i, 'name'], message: `duplicate camera name (also cameras.${prev}.name)` });
    });
    const backoff = cfg.alerts?.backoff;
    if (backoff && backoff.maxMs < backoff.initialMs) {
      ctx.addIssue({ code: 'custom', path: ['alerts', 'backoff', 'maxMs'], message: 'expected maxMs >= initialMs' });
    }
  });

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type CameraConfig = z.output<typeof CameraSchema>;
export type WebhookConfig = z.output<typeof WebhookSchema>;

/** A deep-partial config as the CLI passes it (flags it was given). */
export type ConfigOverrides = DeepPartial<ConfigInput>;
type DeepPartial<T> = T extends readonly (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
