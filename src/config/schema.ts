/**
 * The one configuration schema of facestream (zod, strict: unknown keys are errors), with defaults.
 * Sources are layered by load.ts: defaults < YAML file < FACESTREAM_* environment < command-line flags.
 *
 * Every leaf carries an "expected …" message; load.ts adds the key path and what was given (with URLs
 * masked and secrets never shown).
 */
import { z } from 'zod';
import { secretKey } from '../alerts/sign';
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
