import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { AttemptFailedEvent, DeadEvent, DelivererOptions, WebhookDeliverer } from '../../src/alerts/deliverer';
import { AlertDispatcher, webhookSpoolDir } from '../../src/alerts/dispatcher';
import { Spool } from '../../src/alerts/spool';
import { createMetrics } from '../../src/metrics/registry';
import { startWebhookReceiver } from '../support/webhook-receiver';
import { makeAlert } from './make-alert';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const FAST = { initialMs: 20, maxMs: 200 };
const root = mkdtempSync(path.join(os.tmpdir(), 'facestream-deliver-'));
after(() => fs.rm(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => path.join(root, `d${n++}`);

function capturedLogger(): { logger: pino.Logger; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'trace' }, sink), text: () => lines.join('') };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function deliverer(url: string, dir: string, extra: Partial<DelivererOptions> = {}): WebhookDeliverer {
  return new WebhookDeliverer({
    url,
    secret: SECRET,
    spool: new Spool(dir),
    backoff: FAST,
    timeoutMs: 2000,
    logger: capturedLogger().logger,
    ...extra,
  });
}

describe('webhook deliverer', () => {
  it('delivers signed alerts in order and empties the spool', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    const dir = freshDir();
    const d = deliverer(rx.url, dir);
    t.after(() => d.stop());
    const delivered: string[] = [];
    d.on('delivered', (e) => delivered.push(e.id));
    await d.start();
    const alerts = [1, 2, 3, 4, 5].map((i) => makeAlert(i));
    for (const a of alerts) assert.equal(await d.enqueue(a), true);
    assert.equal(await d.flush(10_000), true);
    assert.deepEqual(rx.acceptedIds, alerts.map((a) => a.id));
    assert.deepEqual(delivered, alerts.map((a) => a.id));
    assert.deepEqual(rx.rejected, []);
    assert.deepEqual([...rx.alerts.values()], alerts);
    const req = rx.requests[0];
    assert.equal(req.headers['content-type'], 'application/json');
    assert.match(String(req.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
    assert.equal(d.pending, 0);
    assert.deepEqual(readdirSync(path.join(dir, 'pending')), []);
    await d.stop();
    await rx.close();
  });

  it('an alert erased while its delivery is being retried is never sent after the erasure; the others are', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    rx.failFor(60_000, 500);
    const d = deliverer(rx.url, freshDir());
    t.after(() => d.stop());
    await d.start();
    const hers = makeAlert(1, { identityId: 'jane' });
    const his = makeAlert(2, { identityId: 'john' });
    await d.enqueue(hers);
    await d.enqueue(his);
    await rx.waitFor((r) => r.requests.length >= 2, 10_000); // her alert at the head, being retried
    assert.equal(await d.spool.eraseIdentity('jane'), 1);
    const erasedAt = Date.now();
    rx.failFor(0);
    assert.equal(await d.flush(20_000), true);
    assert.deepEqual(rx.acceptedIds, [his.id], 'only the other alert is delivered');
    const lateTries = rx.requests.filter((r) => r.at > erasedAt + 50 && r.id === hers.id);
    assert.deepEqual(lateTries.map((r) => r.status), [], 'no attempt to send the erased alert after the erasure');
    await d.stop();
    await rx.close();
  });

  it('receiver answering 500 for 2 s then 200: every alert arrives exactly once', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    rx.failFor(2000, 500);
    const d = deliverer(rx.url, freshDir());
    t.after(() => d.stop());
    const failed: AttemptFailedEvent[] = [];
    d.on('attempt-failed', (e) => failed.push(e));
    await d.start();
    const alerts = Array.from({ length: 8 }, (_, i) => makeAlert(i));
    for (const a of alerts) await d.enqueue(a);
    assert.equal(await d.flush(20_000), true);
    const failures = failed.length;
    for (const e of failed) {
      assert.equal(e.status, 500);
      assert.ok(e.retryInMs !== undefined && e.retryInMs >= FAST.initialMs / 2 && e.retryInMs <= FAST.maxMs, `retry in ${e.retryInMs}`);
    }
    assert.ok(failures >= 3, `expected several failed attempts, saw ${failures}`);
    assert.equal(rx.requests.filter((r) => r.status === 500).length, failures);
    assert.deepEqual(rx.duplicates, []);
    assert.deepEqual(rx.acceptedIds, alerts.map((a) => a.id), 'each alert once, in order');
    assert.deepEqual(rx.rejected, [], 'every attempt was correctly signed (re-signed per attempt)');
    await d.stop();
    await rx.close();
  });

  it('alerts spooled while the receiver is down and the deliverer stopped are delivered after a restart', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    rx.failFor(60_000, 503);
    const dir = freshDir();
    const d1 = deliverer(rx.url, dir);
    t.after(() => d1.stop());
    await d1.start();
    const before = [1, 2, 3].map((i) => makeAlert(i));
    for (const a of before) await d1.enqueue(a);
    await rx.waitFor((r) => r.requests.length >= 2, 10_000);
    await d1.stop(); // "process exit": nothing delivered
    assert.equal(rx.alerts.size, 0);
    assert.equal(await d1.flush(50), false);

    // While stopped, more alerts are spooled (e.g. by a process that had no network at all).
    const offline = new Spool(dir);
    await offline.open();
    const during = [4, 5].map((i) => makeAlert(i));
    for (const a of during) await offline.enqueue(a);
    await offline.close();

    rx.heal();
    const d2 = deliverer(rx.url, dir); // fresh Spool instance on the same directory
    t.after(() => d2.stop());
    await d2.start();
    assert.equal(await d2.flush(10_000), true);
    assert.deepEqual(rx.acceptedIds, [...before, ...during].map((a) => a.id));
    assert.deepEqual(rx.duplicates, []);
    await d2.stop();
    await rx.close();
  });

  it('dead-letters an alert refused with 404 after maxClientErrorAttempts, then goes on', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    rx.failNext(3, { status: 404 });
    const dir = freshDir();
    const d = deliverer(rx.url, dir, { maxClientErrorAttempts: 3 });
    t.after(() => d.stop());
    const dead: DeadEvent[] = [];
    d.on('dead', (e) => dead.push(e));
    await d.start();
    const [a, b] = [makeAlert(1), makeAlert(2)];
    await d.enqueue(a);
    await d.enqueue(b);
    assert.equal(await d.flush(10_000), true);
    assert.deepEqual(dead, [{ id: a.id, reason: 'HTTP 404 after 3 attempts' }]);
    assert.equal(rx.requests.filter((r) => r.id === a.id).length, 3);
    assert.deepEqual(rx.acceptedIds, [b.id]);
    assert.deepEqual(d.spool.deadIds(), [a.id]);
    assert.equal((await d.spool.readDead(a.id)).reason, 'HTTP 404 after 3 attempts');
    assert.equal(await d.enqueue(a), false, 'a dead-lettered id is not re-spooled');
    await d.stop();
    await rx.close();
  });

  it('retries 429 no sooner than Retry-After, and retries timeouts', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    rx.failNext(1, { status: 429, headers: { 'retry-after': '1' } });
    rx.failNext(1, { status: 200, delayMs: 1500 }); // answered after the client gave up
    const d = deliverer(rx.url, freshDir(), { timeoutMs: 300 });
    t.after(() => d.stop());
    const errors: string[] = [];
    d.on('attempt-failed', (e) => errors.push(e.error));
    await d.start();
    await d.enqueue(makeAlert(1));
    assert.equal(await d.flush(10_000), true);
    assert.deepEqual(errors, ['HTTP 429', 'timeout after 300 ms']);
    const [first, second] = rx.requests;
    assert.ok(second.at - first.at >= 950, `retried ${second.at - first.at} ms after a Retry-After of 1 s`);
    assert.equal(rx.alerts.size, 1);
    await d.stop();
    await rx.close();
  });

  it('keeps retrying while nothing listens (network errors), and stop() ends a backoff wait at once', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    const url = rx.url;
    await rx.close(); // connection refused from now on
    const d = deliverer(url, freshDir(), { backoff: { initialMs: 50, maxMs: 60_000 } });
    t.after(() => d.stop());
    const failed: Array<{ status?: number; error: string }> = [];
    d.on('attempt-failed', (e) => failed.push(e));
    await d.start();
    await d.enqueue(makeAlert(1));
    await until('3 failed attempts', () => failed.length >= 3);
    assert.equal(failed[0].status, undefined);
    assert.match(failed[0].error, /ECONNREFUSED|fetch failed/);
    const t0 = Date.now();
    await d.stop();
    assert.ok(Date.now() - t0 < 1000, 'stop() waited for a backoff');
    assert.equal(d.pending, 1, 'the undelivered alert stays spooled');
  });

  it('sends URL credentials as Basic auth and never logs the password or the secret', async (t) => {
    const user = 'hookuser';
    const password = 'S3cr3t-P4ss';
    const rx = await startWebhookReceiver({
      secret: SECRET,
      expectAuthorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    });
    t.after(() => rx.close());
    const authUrl = rx.url.replace('http://', `http://${user}:${password}@`);
    const log = capturedLogger();
    rx.failNext(2, { status: 500 });
    const d = deliverer(authUrl, freshDir(), { logger: log.logger });
    t.after(() => d.stop());
    await d.start();
    await d.enqueue(makeAlert(1));
    assert.equal(await d.flush(10_000), true);
    assert.equal(rx.alerts.size, 1);
    assert.deepEqual(rx.rejected, []);
    await d.stop();
    await rx.close();

    // Now fail at the network level with the credentials in the URL.
    const d2 = deliverer(authUrl, freshDir(), { logger: log.logger });
    t.after(() => d2.stop());
    const errors: string[] = [];
    d2.on('attempt-failed', (e) => errors.push(e.error));
    await d2.start();
    await d2.enqueue(makeAlert(2));
    await until('2 failed attempts', () => errors.length >= 2);
    await d2.stop();

    const text = log.text() + errors.join('\n') + d.maskedUrl;
    assert.ok(text.includes('webhook delivery failed'), 'failures were logged');
    assert.ok(text.includes('***@127.0.0.1'), 'the URL is logged masked');
    assert.ok(!text.includes(password), 'password leaked');
    assert.ok(!text.includes('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), 'secret leaked');
  });

  it('dead-letters a corrupt spool entry instead of stalling', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    const dir = freshDir();
    const s = new Spool(dir);
    await s.open();
    const [a, b] = [makeAlert(1), makeAlert(2)];
    await s.enqueue(a);
    await s.enqueue(b);
    await s.close();
    const [first] = readdirSync(path.join(dir, 'pending')).sort();
    await fs.writeFile(path.join(dir, 'pending', first), 'garbage');
    const d = deliverer(rx.url, dir);
    t.after(() => d.stop());
    const dead: DeadEvent[] = [];
    d.on('dead', (e) => dead.push(e));
    await d.start();
    assert.equal(await d.flush(10_000), true);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].id, a.id);
    assert.match(dead[0].reason, /unreadable spool entry/);
    assert.deepEqual(rx.acceptedIds, [b.id]);
    await d.stop();
    await rx.close();
  });
});

describe('alert dispatcher (several webhooks)', () => {
  it('delivers each alert to every webhook, one spool each, and counts deliveries in the metrics', async (t) => {
    const SECRET2 = 'a-raw-utf8-secret-of-at-least-24-bytes';
    const rx1 = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx1.close());
    const rx2 = await startWebhookReceiver({ secret: SECRET2 });
    t.after(() => rx2.close());
    rx2.failNext(2, { status: 502 });
    const metrics = createMetrics({ defaultMetrics: false });
    const spoolDir = freshDir();
    const disp = new AlertDispatcher({
      webhooks: [
        { url: rx1.url, secret: SECRET },
        { url: rx2.url, secret: SECRET2 },
      ],
      spoolDir,
      backoff: FAST,
      metrics,
      logger: capturedLogger().logger,
    });
    t.after(() => disp.stop());
    await disp.start();
    const alerts = [1, 2, 3].map((i) => makeAlert(i));
    for (const a of alerts) assert.equal(await disp.enqueue(a), true);
    assert.equal(await disp.enqueue(alerts[0]), false);
    assert.equal(await disp.flush(10_000), true);
    assert.deepEqual(rx1.acceptedIds, alerts.map((a) => a.id));
    assert.deepEqual(rx2.acceptedIds, alerts.map((a) => a.id));
    assert.deepEqual(readdirSync(spoolDir).sort(), [webhookSpoolDir(spoolDir, rx1.url), webhookSpoolDir(spoolDir, rx2.url)].map((p) => path.basename(p)).sort());
    const text = await metrics.registry.metrics();
    assert.match(text, /facestream_webhook_deliveries_total\{outcome="delivered"\} 6/);
    assert.match(text, /facestream_webhook_deliveries_total\{outcome="failed"\} 2/);
    assert.match(text, /facestream_spool_pending 0/);
    await disp.stop();
    await rx1.close();
    await rx2.close();
  });
});
