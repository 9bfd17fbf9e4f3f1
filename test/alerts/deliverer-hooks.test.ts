/**
 * The deliverer's hooks (beforeSend / afterDelivered / beforeDead) against a real HTTP receiver: 'skip' drops an
 * alert unsent, 'retry-later' (or a throwing hook) sends nothing until cleared, a failing afterDelivered is retried
 * without a second POST and keeps the alert spooled until it succeeds, beforeDead runs before dead/ and is retried.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import type { Alert } from '../../src/alerts/alert';
import { DeliveryHooks, WebhookDeliverer } from '../../src/alerts/deliverer';
import { Spool } from '../../src/alerts/spool';
import { startWebhookReceiver } from '../support/webhook-receiver';
import { makeAlert } from './make-alert';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const root = mkdtempSync(path.join(os.tmpdir(), 'facestream-hooks-'));
after(() => fs.rm(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => path.join(root, `d${n++}`);

function deliverer(url: string, dir: string, hooks: DeliveryHooks, maxClientErrorAttempts = 5): WebhookDeliverer {
  return new WebhookDeliverer({
    url,
    secret: SECRET,
    spool: new Spool(dir),
    backoff: { initialMs: 20, maxMs: 100 },
    timeoutMs: 2000,
    maxClientErrorAttempts,
    logger: pino({ level: 'silent' }),
    hooks,
  });
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('webhook deliverer hooks', () => {
  it("beforeSend 'skip' drops the alert unsent; the others are delivered in order", async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    const [a, b, c] = [1, 2, 3].map((i) => makeAlert(i));
    const asked: string[] = [];
    const d = deliverer(rx.url, freshDir(), { beforeSend: (alert) => (asked.push(alert.id), alert.id === b.id ? 'skip' : 'send') });
    t.after(() => d.stop());
    const skipped: string[] = [];
    d.on('skipped', (e) => skipped.push(e.id));
    await d.start();
    for (const x of [a, b, c]) await d.enqueue(x);
    assert.equal(await d.flush(10_000), true);
    assert.deepEqual(rx.acceptedIds, [a.id, c.id]);
    assert.deepEqual(skipped, [b.id]);
    assert.deepEqual(asked, [a.id, b.id, c.id]);
    assert.equal(d.pending, 0);
    assert.equal(await d.enqueue(b), false, 'a skipped id is remembered: re-enqueueing it is a no-op');
    await d.stop();
  });

  it("'retry-later' and a throwing beforeSend send nothing until cleared; then each alert once", async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    let calls = 0;
    let cleared = false;
    const d = deliverer(rx.url, freshDir(), {
      beforeSend: () => {
        calls++;
        if (cleared) return 'send';
        if (calls % 2 === 0) return 'retry-later';
        throw new Error('redis down');
      },
    });
    t.after(() => d.stop());
    const deferred: { error: string; retryInMs: number }[] = [];
    d.on('deferred', (e) => deferred.push(e));
    await d.start();
    const alerts = [1, 2].map((i) => makeAlert(i));
    for (const x of alerts) await d.enqueue(x);
    await until('5 deferrals', () => deferred.length >= 5);
    assert.equal(rx.requests.length, 0, 'nothing is sent while beforeSend does not clear it');
    assert.equal(d.pending, 2);
    assert.ok(deferred.some((e) => e.error === 'redis down'));
    assert.ok(deferred.every((e) => e.retryInMs >= 10 && e.retryInMs <= 100), JSON.stringify(deferred));
    cleared = true;
    assert.equal(await d.flush(10_000), true);
    assert.deepEqual(rx.acceptedIds, alerts.map((x) => x.id));
    assert.deepEqual(rx.duplicates, []);
    await d.stop();
  });

  it('a failing afterDelivered is retried without a new POST; the alert leaves the spool only after it succeeded', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    let marks = 0;
    let pendingAtSuccess = -1;
    const dir = freshDir();
    const d: WebhookDeliverer = deliverer(rx.url, dir, {
      afterDelivered: () => {
        if (++marks < 3) throw new Error('mark failed');
        pendingAtSuccess = d.spool.size;
      },
    });
    t.after(() => d.stop());
    const delivered: string[] = [];
    d.on('delivered', (e) => delivered.push(e.id));
    await d.start();
    const a = makeAlert(1);
    await d.enqueue(a);
    assert.equal(await d.flush(10_000), true);
    assert.equal(marks, 3);
    assert.equal(pendingAtSuccess, 1, 'still spooled while the hook ran');
    assert.equal(rx.requests.length, 1, 'one POST');
    assert.deepEqual(delivered, [a.id]);
    await d.stop();
  });

  it('stopped while afterDelivered keeps failing: the alert stays spooled; a restart asks beforeSend again', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    const dir = freshDir();
    const d1 = deliverer(rx.url, dir, {
      afterDelivered: () => {
        throw new Error('redis down');
      },
    });
    t.after(() => d1.stop());
    await d1.start();
    const a = makeAlert(1);
    await d1.enqueue(a);
    await rx.waitFor((r) => r.acceptedIds.length === 1, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    await d1.stop();
    await d1.spool.close();
    assert.equal(rx.requests.length, 1);

    // The record the hook could not write is what a restart consults: here it says "already delivered".
    const asked: Alert[] = [];
    const d2 = deliverer(rx.url, dir, { beforeSend: (alert) => (asked.push(alert), 'skip') });
    t.after(() => d2.stop());
    await d2.start();
    assert.equal(await d2.flush(10_000), true);
    assert.deepEqual(asked.map((x) => x.id), [a.id]);
    assert.equal(rx.requests.length, 1, 'not sent again');
    await d2.stop();
  });

  it('beforeDead runs (and is retried) before the alert moves to dead/; no extra POSTs', async (t) => {
    const rx = await startWebhookReceiver({ secret: SECRET });
    t.after(() => rx.close());
    rx.failNext(2, { status: 410 });
    const calls: { id: string; reason: string; alert?: Alert; pending: number }[] = [];
    const d: WebhookDeliverer = deliverer(
      rx.url,
      freshDir(),
      {
        beforeDead: (id, reason, alert) => {
          calls.push({ id, reason, alert, pending: d.spool.size });
          if (calls.length === 1) throw new Error('kafka down');
        },
      },
      2,
    );
    t.after(() => d.stop());
    const dead: string[] = [];
    d.on('dead', (e) => dead.push(e.id));
    await d.start();
    const [a, b] = [makeAlert(1), makeAlert(2)];
    await d.enqueue(a);
    await d.enqueue(b);
    assert.equal(await d.flush(10_000), true);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls.map((c) => [c.id, c.reason, c.alert?.id, c.pending]), [
      [a.id, 'HTTP 410 after 2 attempts', a.id, 2],
      [a.id, 'HTTP 410 after 2 attempts', a.id, 2],
    ]);
    assert.deepEqual(dead, [a.id]);
    assert.deepEqual(d.spool.deadIds(), [a.id]);
    assert.equal(rx.requests.filter((r) => r.id === a.id).length, 2);
    assert.deepEqual(rx.acceptedIds, [b.id]);
    await d.stop();
  });
});
