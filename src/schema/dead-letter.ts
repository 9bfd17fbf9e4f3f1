/**
 * DeadLetter: a record a stage could not process (a SchemaError, or a failure it gave up retrying), with the
 * original key and value, so that it can be inspected and replayed. Keyed by the original key, so a replay keeps
 * the camera's partition.
 */
import { Check } from './check';
import { decodeWire, encodeWire, guardEncode, int64ToNumber, int64ToString, stringToInt64, type WireInt64 } from './codec';
import { SchemaError } from './errors';
import type { DeadLetter } from './types';

/** Kafka topic names. */
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const OFFSET = /^(0|[1-9][0-9]{0,18})$/;
const MAX_REASON = 2000;

interface WireDeadLetter {
  sourceTopic: string;
  partition: number;
  offset: WireInt64;
  reason: string;
  original?: Uint8Array | null;
  originalKey?: Uint8Array | null;
  failedAtMs: WireInt64;
  service: string;
}

function checkHead(c: Check, sourceTopic: unknown, partition: unknown, offset: unknown, reason: unknown, service: unknown): void {
  const t = c.text('source_topic', sourceTopic, 249);
  if (!TOPIC.test(t)) c.fail('source_topic', 'expected a Kafka topic name (A-Z a-z 0-9 . _ -)');
  c.int('partition', partition, 0, 2147483647);
  if (typeof offset !== 'string' || !OFFSET.test(offset)) c.fail('offset', `expected a non-negative decimal integer, got ${typeof offset === 'string' ? `${offset.length} characters` : typeof offset}`);
  c.text('reason', reason, MAX_REASON);
  c.text('service', service, 64);
}

export function encodeDeadLetter(d: DeadLetter): Buffer {
  const c = new Check('DeadLetter');
  return guardEncode(c, () => {
    checkHead(c, d.sourceTopic, d.partition, d.offset, d.reason, d.service);
    if (d.original !== null && !(d.original instanceof Uint8Array)) c.fail('original', 'expected bytes or null');
    if (d.originalKey !== null && !(d.originalKey instanceof Uint8Array)) c.fail('original_key', 'expected bytes or null');
    const wire: WireDeadLetter = {
      sourceTopic: d.sourceTopic,
      partition: d.partition,
      offset: stringToInt64(d.offset),
      reason: d.reason,
      failedAtMs: c.ms('failed_at_ms', d.failedAtMs),
      service: d.service,
    };
    if (d.original !== null) wire.original = d.original;
    if (d.originalKey !== null) wire.originalKey = d.originalKey;
    return encodeWire('DeadLetter', wire);
  });
}

/** Decodes and validates; throws only SchemaError. original/originalKey are views into `bytes`. */
export function decodeDeadLetter(bytes: Uint8Array | null | undefined): DeadLetter {
  return decodeWire('DeadLetter', bytes, (w: WireDeadLetter) => {
    const c = new Check('DeadLetter');
    const offset = int64ToString(w.offset);
    checkHead(c, w.sourceTopic, w.partition, offset, w.reason, w.service);
    return {
      sourceTopic: w.sourceTopic,
      partition: w.partition,
      offset,
      reason: w.reason,
      original: w.original ?? null,
      originalKey: w.originalKey ?? null,
      failedAtMs: c.ms('failed_at_ms', int64ToNumber(w.failedAtMs)),
      service: w.service,
    };
  });
}

/** What a consumer knows about the record it failed on (the shape of kafkajs's EachMessagePayload). */
export interface FailedRecord {
  topic: string;
  partition: number;
  message: { offset: string; key: Buffer | null; value: Buffer | null };
}

/**
 * The dead letter for a record a service failed on. The reason is the SchemaError's reason, or the message of
 * another error: pass only errors whose messages hold no payload values. Long reasons are cut to fit.
 */
export function deadLetterFor(failed: FailedRecord, error: Error | string, service: string, failedAtMs = Date.now()): DeadLetter {
  const raw = typeof error === 'string' ? error : error instanceof SchemaError ? error.reason : error.message || error.name;
  const reason = raw.length > MAX_REASON ? `${raw.slice(0, MAX_REASON - 1)}…` : raw || 'unknown failure';
  return {
    sourceTopic: failed.topic,
    partition: failed.partition,
    offset: failed.message.offset,
    reason,
    original: failed.message.value,
    originalKey: failed.message.key,
    failedAtMs,
    service,
  };
}

/** The key to publish a dead letter under: the original key, so a replay lands in the original partition. */
export function deadLetterKey(d: DeadLetter): Buffer | null {
  return d.originalKey === null ? null : Buffer.from(d.originalKey.buffer, d.originalKey.byteOffset, d.originalKey.byteLength);
}
