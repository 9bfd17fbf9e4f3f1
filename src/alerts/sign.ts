/**
 * Standard Webhooks symmetric signatures (spec: standard-webhooks/standard-webhooks spec/standard-webhooks.md,
 * "Signature scheme" and "Webhook headers"):
 *
 *   signed content    `${webhook-id}.${webhook-timestamp}.${body}`   (timestamp: integer unix seconds)
 *   webhook-signature `v1,` + base64(HMAC-SHA256(key, signed content)); several may be sent, space-delimited
 *                     (zero-downtime secret rotation); a verifier accepts if any `v1` one matches.
 *
 * Secrets:
 *   - `whsec_<base64>` (the spec's serialisation): the key is the base64-decoded part. Use this form with
 *     receivers built on the Standard Webhooks libraries.
 *   - any other string: the key is the string's UTF-8 bytes. NOTE the reference libraries differ here: they
 *     base64-decode an un-prefixed secret too, so give such receivers the `whsec_` form.
 *
 * Built on node:crypto (HMAC, timingSafeEqual); the scheme is a few lines and the official JS library is not a
 * dependency of this project.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WHSEC_PREFIX = 'whsec_';
export const DEFAULT_TOLERANCE_SEC = 5 * 60;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export class WebhookSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSecretError';
  }
}

/**
 * The HMAC key of a secret (see the file comment). Throws WebhookSecretError — whose message never
 * contains the secret — if it is empty or a malformed `whsec_` value.
 */
export function secretKey(secret: string): Buffer {
  if (typeof secret !== 'string' || secret.length === 0) throw new WebhookSecretError('webhook secret is empty');
  if (secret.startsWith(WHSEC_PREFIX)) {
    const b64 = secret.slice(WHSEC_PREFIX.length);
    if (!BASE64.test(b64) || b64.length % 4 === 1) {
      throw new WebhookSecretError('webhook secret starts with "whsec_" but the rest is not base64');
    }
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0) throw new WebhookSecretError('webhook secret "whsec_" holds no key bytes');
    return key;
  }
  return Buffer.from(secret, 'utf8');
}

/** One `v1,<base64>` signature of (id, timestamp, body) under one secret. */
export function signWebhook(secret: string | Buffer, id: string, timestampSec: number, body: string | Buffer): string {
  if (!Number.isInteger(timestampSec)) throw new RangeError('webhook timestamp must be integer unix seconds');
  if (id.includes('.')) throw new RangeError('webhook id must not contain "."');
  const key = typeof secret === 'string' ? secretKey(secret) : secret;
  const mac = createHmac('sha256', key);
  mac.update(`${id}.${timestampSec}.`, 'utf8');
  mac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return `v1,${mac.digest('base64')}`;
}

export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/**
 * The three Standard Webhooks headers for one attempt. `secrets` may list several (current first, then
 * ones being rotated out): one signature each, space-delimited.
 */
export function webhookHeaders(
  secrets: string | readonly string[],
  id: string,
  body: string | Buffer,
  nowSec: number = Math.floor(Date.now() / 1000),
): WebhookHeaders {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0) throw new WebhookSecretError('no webhook secret given');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(nowSec),
    'webhook-signature': list.map((s) => signWebhook(s, id, nowSec, body)).join(' '),
  };
}

export type VerifyResult =
  | { ok: true; id: string; timestamp: number }
  | { ok: false; reason: 'missing-headers' | 'bad-id' | 'bad-timestamp' | 'timestamp-too-old' | 'timestamp-too-new' | 'no-matching-signature' };

type HeaderBag = Record<string, string | string[] | undefined> | Headers;

/**
 * Verifies a received webhook: headers (any case; a Fetch `Headers` works too), the raw body exactly as
 * received, and the secret(s) the receiver accepts. Rejects timestamps more than `toleranceSec` away from
 * `nowSec` (replay protection). Signatures are compared in constant time.
 */
export function verifyWebhook(
  headers: HeaderBag,
  body: string | Buffer,
  secret: string | readonly string[],
  toleranceSec: number = DEFAULT_TOLERANCE_SEC,
  nowSec: number = Math.floor(Date.now() / 1000),
): VerifyResult {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sigs = header(headers, 'webhook-signature');
  if (!id || !ts || !sigs) return { ok: false, reason: 'missing-headers' };
  if (id.includes('.')) return { ok: false, reason: 'bad-id' };
  if (!/^\d{1,15}$/.test(ts)) return { ok: false, reason: 'bad-timestamp' };
  const timestamp = Number(ts);
  if (nowSec - timestamp > toleranceSec) return { ok: false, reason: 'timestamp-too-old' };
  if (timestamp - nowSec > toleranceSec) return { ok: false, reason: 'timestamp-too-new' };

  const secrets = typeof secret === 'string' ? [secret] : secret;
  const expected = secrets.map((s) => Buffer.from(signWebhook(s, id, timestamp, body).slice('v1,'.length), 'base64'));
  for (const versioned of sigs.split(' ')) {
    const comma = versioned.indexOf(',');
    if (comma < 0 || versioned.slice(0, comma) !== 'v1') continue;
    const b64 = versioned.slice(comma + 1);
    if (!BASE64.test(b64)) continue;
    const given = Buffer.from(b64, 'base64');
    for (const exp of expected) {
      if (given.length === exp.length && timingSafeEqual(given, exp)) return { ok: true, id, timestamp };
    }
  }
  return { ok: false, reason: 'no-matching-signature' };
}

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  for (const key of Object.keys(bag)) {
    if (key.toLowerCase() === name) {
      const v = bag[key];
      return Array.isArray(v) ? v.join(' ') : v;
    }
  }
  return undefined;
}
