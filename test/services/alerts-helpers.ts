/**
 * Helpers of the alerts service tests (real Kafka, real Redis, real webhook receiver): the service configuration
 * (secret through FACESTREAM_WEBHOOK_SECRET and the config loader, unique topic/group/key prefixes, fast backoff),
 * AlertRecords of test alerts with stage stamps, and small HTTP/metrics readers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, ConfigOverrides } from '../../src/config/schema';
import { encodeAlertRecord, recordKey, Stage, type AlertRecord } from '../../src/schema';
import type { OutgoingRecord } from '../../src/transport/producer';
import { makeAlert } from '../alerts/make-alert';
import { mergeOverrides, testConfig } from './helpers';

export { metricsText, readyz, sleep, uniquePrefix, waitUntil } from './helpers';

export const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
/** Two cameras per partition of a 3-partition topic (kafkajs's default murmur2 partitioner): 0, 0, 1, 1, 2, 2. */
export const CAMERAS = ['cam-a', 'cam-b', 'cam-e', 'cam-f', 'cam-h', 'cam-i'];

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
  const alerts: ConfigOverrides = {
    kafka: { cameraPartitions: 2 },
    redis: { url: o.redisUrl, prefix: `${o.prefix}:` },
    alerts: { webhooks: [{ url: o.webhookUrl }], spoolDir: o.spoolDir, timeoutMs: 2000, backoff: { initialMs: 50, maxMs: 400 }, maxClientErrorAttempts: 2 },
  };
  return testConfig(o.brokers, o.prefix, mergeOverrides(alerts, o.overrides ?? {}), { FACESTREAM_WEBHOOK_SECRET: WEBHOOK_SECRET });
}

/**
 * Writes `config` as the config file of `facestream alerts --config FILE` (mode 0600), without the webhook secrets:
 * the child takes them from FACESTREAM_WEBHOOK_SECRET, as alertsConfig() did. Returns the file.
 */
export function writeConfigFile(config: Config, file: string): string {
  const plain = { ...config, alerts: { ...config.alerts, webhooks: config.alerts.webhooks.map((w) => ({ ...w, secret: undefined })) } };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(plain), { mode: 0o600 });
  return file;
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

/** The value of one sample (`name{labels} value`) of the metrics text; 0 when absent. */
export function metricValue(text: string, sample: string): number {
  for (const line of text.split('\n')) if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  return 0;
}
