import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { secretKey, signWebhook, verifyWebhook, webhookHeaders, WebhookSecretError } from '../../src/alerts/sign';

// Reference vector of the Standard Webhooks JavaScript library (standard-webhooks/standard-webhooks,
// libraries/javascript/src/webhook.test.ts, test "sign function works").
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('Standard Webhooks signing', () => {
  it('reproduces the reference signature', () => {
    assert.equal(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
    assert.equal(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, Buffer.from(VECTOR.body)), VECTOR.signature);
  });

  it('verifies the reference vector at its time and rejects a tampered body', () => {
    const headers = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature };
    assert.deepEqual(verifyWebhook(headers, VECTOR.body, VECTOR.secret, 300, VECTOR.timestamp + 10), {
      ok: true,
      id: VECTOR.id,
      timestamp: VECTOR.timestamp,
    });
    const tampered = verifyWebhook(headers, '{"test": 2432232315}', VECTOR.secret, 300, VECTOR.timestamp);
    assert.deepEqual(tampered, { ok: false, reason: 'no-matching-signature' });
    // Re-serialised JSON (space dropped) is a different body.
    assert.equal(verifyWebhook(headers, JSON.stringify(JSON.parse(VECTOR.body)), VECTOR.secret, 300, VECTOR.timestamp).ok, false);
  });

  it('rejects old and future timestamps, and a changed id or timestamp', () => {
    const headers = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature };
    assert.deepEqual(verifyWebhook(headers, VECTOR.body, VECTOR.secret, 300, VECTOR.timestamp + 301), { ok: false, reason: 'timestamp-too-old' });
    assert.deepEqual(verifyWebhook(headers, VECTOR.body, VECTOR.secret, 300, VECTOR.timestamp - 301), { ok: false, reason: 'timestamp-too-new' });
    // Default tolerance against the real clock: a 2021 timestamp is too old.
    assert.deepEqual(verifyWebhook(headers, VECTOR.body, VECTOR.secret), { ok: false, reason: 'timestamp-too-old' });
    const otherId = { ...headers, 'webhook-id': 'msg_other' };
    assert.equal(verifyWebhook(otherId, VECTOR.body, VECTOR.secret, 300, VECTOR.timestamp).ok, false);
    const otherTs = { ...headers, 'webhook-timestamp': String(VECTOR.timestamp + 1) };
    assert.equal(verifyWebhook(otherTs, VECTOR.body, VECTOR.secret, 300, VECTOR.timestamp).ok, false);
  });

  it('rejects missing headers, bad timestamps, wrong versions and a wrong secret', () => {
    const good = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature };
    const at = VECTOR.timestamp;
    assert.deepEqual(verifyWebhook({ ...good, 'webhook-signature': undefined }, VECTOR.body, VECTOR.secret, 300, at), { ok: false, reason: 'missing-headers' });
    assert.deepEqual(verifyWebhook({ ...good, 'webhook-timestamp': 'hello' }, VECTOR.body, VECTOR.secret, 300, at), { ok: false, reason: 'bad-timestamp' });
    assert.equal(verifyWebhook({ ...good, 'webhook-signature': VECTOR.signature.replace('v1,', 'v2,') }, VECTOR.body, VECTOR.secret, 300, at).ok, false);
    assert.equal(verifyWebhook({ ...good, 'webhook-signature': 'v1,' }, VECTOR.body, VECTOR.secret, 300, at).ok, false);
    assert.equal(verifyWebhook({ ...good, 'webhook-signature': VECTOR.signature.slice(0, 8) }, VECTOR.body, VECTOR.secret, 300, at).ok, false);
    assert.equal(verifyWebhook(good, VECTOR.body, 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 300, at).ok, false);
  });

  it('accepts when one of several space-separated signatures matches (rotation), headers in any case', () => {
    const sigs = ['v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', 'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', VECTOR.signature].join(' ');
    const headers = { 'Webhook-Id': VECTOR.id, 'WEBHOOK-TIMESTAMP': String(VECTOR.timestamp), 'webhook-signature': sigs };
    assert.equal(verifyWebhook(headers, VECTOR.body, VECTOR.secret, 300, VECTOR.timestamp).ok, true);
    assert.equal(verifyWebhook(new Headers(headers), VECTOR.body, VECTOR.secret, 300, VECTOR.timestamp).ok, true);
  });

  it('signs with every secret given and verifies with any of them', () => {
    const oldSecret = 'an-old-raw-secret-of-enough-bytes';
    const h = webhookHeaders([VECTOR.secret, oldSecret], 'a1', '{"x":1}', 1_700_000_000);
    assert.equal(h['webhook-signature'].split(' ').length, 2);
    assert.equal(h['webhook-timestamp'], '1700000000');
    assert.equal(verifyWebhook(h, '{"x":1}', oldSecret, 300, 1_700_000_000).ok, true);
    assert.equal(verifyWebhook(h, '{"x":1}', VECTOR.secret, 300, 1_700_000_000).ok, true);
  });

  it('reads whsec_ secrets as base64 and other strings as UTF-8 bytes', () => {
    assert.deepEqual(secretKey(VECTOR.secret), Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'));
    assert.deepEqual(secretKey('plain secret é'), Buffer.from('plain secret é', 'utf8'));
    // A raw string is NOT base64-decoded: the un-prefixed vector secret gives a different signature.
    assert.notEqual(signWebhook('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
    assert.throws(() => secretKey(''), WebhookSecretError);
    assert.throws(() => secretKey('whsec_not base64!'), WebhookSecretError);
    try {
      secretKey('whsec_hunter2!!');
      assert.fail('expected a WebhookSecretError');
    } catch (err) {
      assert.ok(!(err as Error).message.includes('hunter2'), 'the error message must not quote the secret');
    }
  });

  it('refuses ids containing "." and non-integer timestamps', () => {
    assert.throws(() => signWebhook(VECTOR.secret, 'a.b', 1, 'x'), RangeError);
    assert.throws(() => signWebhook(VECTOR.secret, 'a', 1.5, 'x'), RangeError);
  });
});
