/**
 * End to end, embedded mode: alerts survive a failing webhook and a crash. (1) The receiver answers 500 for the
 * first 30 s: facestream keeps retrying and, before it exits at the end of its files, every alert has arrived
 * exactly once. (2) facestream is SIGKILLed after it spooled an alert the receiver refused; the next start with the
 * same spool delivers it, exactly once.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeTestVideo, SKIP_NO_FFMPEG } from '../support/ffmpeg-testsrc';
import { skipWithoutShared } from '../support/shared';
import { startWebhookReceiver } from '../support/webhook-receiver';
import { enrolWomanAndMan, sharedVideo, spooledAlertIds, startCli, tempDir, WEBHOOK_SECRET } from './helpers';

const SKIP = skipWithoutShared('run the embedded webhook end-to-end test (needs data/video)') || SKIP_NO_FFMPEG;

test('embedded: webhook failures and a crash lose no alert and duplicate none', { skip: SKIP, timeout: 230_000 }, async (t) => {
  const dir = tempDir(t, 'webhook');
  const store = await enrolWomanAndMan(t, dir);
  const pair = sharedVideo('head-pose-face-detection-female-and-male.mp4');
  const walk = sharedVideo('face-demographics-walking-and-pause.mp4');
  // Retries every ≤ 4 s (default: doubling up to 60 s), so delivery resumes soon after the receiver heals and well
  // within the 60 s that runToEnd waits for pending alerts once the files have ended.
  const config = path.join(dir, 'facestream.yaml');
  writeFileSync(config, 'alerts:\n  backoff:\n    initialMs: 500\n    maxMs: 4000\n');

  await t.test('receiver answers 500 for 30 s: every alert arrives exactly once before exit', { timeout: 150_000 }, async (t) => {
    const receiver = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
    t.after(() => receiver.close());
    const spool = path.join(dir, 'spool-500');
    const t0 = Date.now();
    receiver.failFor(30_000, 500);
    const fs = startCli(t, [
      'run', '--config', config,
      '--camera', `pair=${pair}`, '--camera', `walk=${walk}`, '--fps', '10',
      '--webhook', receiver.url, '--http-port', '0', '--exit-when-sources-end',
      '--store', store, '--spool', spool,
    ]);
    const exit = await fs.waitForExit(120_000, 'facestream to deliver and exit');
    const took = Date.now() - t0;
    t.diagnostic(`exited after ${(took / 1000).toFixed(1)} s; ${receiver.requests.length} requests, ${receiver.requests.filter((r) => r.status === 500).length} answered 500`);
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status\n${fs.tail()}`);

    const raised = fs.logsWith('watchlist alert').map((l) => String(l.alertId));
    assert.ok(raised.length >= 2, `at least the woman and the man alerted on the pair clip (got ${raised.length})\n${fs.tail()}`);
    assert.ok(receiver.requests.some((r) => r.status === 500), 'the receiver refused deliveries while failing (retries were exercised)');
    assert.ok(took >= 30_000, 'facestream waited for the receiver to recover before exiting');
    assert.deepEqual(receiver.rejected.map((r) => `${r.status} ${r.reason}`), [], 'every request verified');
    assert.deepEqual(receiver.duplicates, [], 'no alert accepted twice');
    assert.deepEqual([...receiver.acceptedIds].sort(), [...new Set(raised)].sort(), 'each raised alert accepted exactly once');
    for (const a of receiver.alerts.values()) assert.ok(Date.parse(a.createdAt) < t0 + 30_000, 'alert created while the receiver failed');
    assert.deepEqual(spooledAlertIds(spool), [], 'the spool is empty after delivery');
    assert.equal(fs.logsWith('webhook delivery failed; will retry').length > 0, true, 'failed attempts logged');
  });

  await t.test('SIGKILL after an alert is spooled: the next start delivers it exactly once', { timeout: 150_000 }, async (t) => {
    const receiver = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
    t.after(() => receiver.close());
    const spool = path.join(dir, 'spool-crash');
    receiver.failFor(600_000, 503); // down for the whole first run

    const first = startCli(t, [
      'run', '--config', config, '--camera', `pair=${pair}`, '--fps', '10',
      '--webhook', receiver.url, '--http-port', '0', '--store', store, '--spool', spool,
    ]);
    const alertLine = await first.waitForLog((l) => l.msg === 'watchlist alert', 90_000, 'a "watchlist alert" log line');
    // …and facestream has tried to deliver it at least once (refused), so the crash hits an alert mid-retry.
    await receiver.waitFor((r) => r.requests.some((q) => q.id === alertLine.alertId), 20_000);
    first.killAll(); // SIGKILL facestream and its ffmpeg: a crash, nothing flushed or closed
    const exit1 = await first.waitForExit(15_000);
    assert.equal(exit1.signal, 'SIGKILL');
    const id = String(alertLine.alertId);
    const spooled = spooledAlertIds(spool);
    t.diagnostic(`spooled before the restart: ${spooled.join(', ')}; ${receiver.requests.length} refused requests`);
    assert.ok(spooled.includes(id), `alert ${id} is in the spool after the crash (spool: ${spooled.join(', ') || 'empty'})`);
    assert.equal(receiver.acceptedIds.length, 0, 'nothing accepted while the receiver was down');

    // The receiver is back; facestream starts again on a camera with no faces, so only spooled alerts can arrive.
    receiver.heal();
    const faceless = await makeTestVideo({ seconds: 2, width: 320, height: 240, fps: 10 });
    const second = startCli(t, [
      'run', '--config', config, '--camera', `empty=${faceless}`, '--fps', '10',
      '--webhook', receiver.url, '--http-port', '0', '--exit-when-sources-end', '--store', store, '--spool', spool,
    ]);
    const exit2 = await second.waitForExit(90_000, 'the second run to deliver the spooled alert and exit');
    assert.deepEqual(exit2, { code: 0, signal: null }, `exit status of the second run\n${second.tail()}`);
    assert.ok(second.logs.some((l) => l.msg === 'delivering alerts spooled earlier'), 'the second run announced the spooled alerts');
    assert.equal(second.logsWith('watchlist alert').length, 0, 'the second run raised no alert of its own');
    assert.equal(receiver.acceptedIds.filter((x) => x === id).length, 1, `alert ${id} accepted exactly once`);
    assert.deepEqual([...receiver.acceptedIds].sort(), [...spooled].sort(), 'exactly the spooled alerts were delivered, once each');
    assert.deepEqual(receiver.duplicates, []);
    assert.deepEqual(receiver.rejected.map((r) => `${r.status} ${r.reason}`), [], 'every request verified');
    assert.equal(receiver.alerts.get(id)?.camera, 'pair');
    assert.deepEqual(spooledAlertIds(spool), [], 'the spool is empty after delivery');
  });
});
