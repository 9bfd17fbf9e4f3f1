/**
 * CameraSource against a real RTSP server (GStreamer, scripts/rtsp-server.py) and the real ffmpeg: TCP and UDP
 * transport, a server that goes away and comes back, a frozen server (watchdog), an unreachable camera next to a
 * working one, and credentials that must never leak.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  CameraSource,
  type CameraSourceEvents,
  type OfflineInfo,
  type TimedFrame,
} from '../../src/ingest/camera-source';
import { makeTestVideo, probeFile, sharedVideos, SKIP_NO_FFMPEG } from '../support/ffmpeg-testsrc';
import { SKIP_NO_RTSP_SERVER, startRtspServer, type RtspTestServer } from '../support/rtsp-server';
import { cameraFor, capturedLogger, closedPort, sleep, waitFor } from './helpers';

const SKIP = SKIP_NO_FFMPEG || SKIP_NO_RTSP_SERVER;
/** A long synthetic clip (so a stream does not end mid-test): 120 s, 320x240, 10 fps, a keyframe every second. */
let longVideo = '';
/** Fast retries so the tests do not wait 30 s; the defaults are exercised by the unit tests of backoffDelay. */
const FAST_BACKOFF = { initialMs: 300, maxMs: 2000, factor: 2, jitter: 0.2 };

before(async () => {
  if (SKIP) return;
  longVideo = await makeTestVideo({ seconds: 120, width: 320, height: 240, fps: 10 });
});

/** Record every non-frame event of a source, in order. */
function recordEvents(source: CameraSource): Array<{ event: string; info: unknown }> {
  const events: Array<{ event: string; info: unknown }> = [];
  for (const e of ['online', 'offline', 'reconnecting', 'ended'] as const) {
    source.on(e, (info: CameraSourceEvents[typeof e][0]) => events.push({ event: e, info }));
  }
  return events;
}

async function withServer(mounts: Record<string, string>, body: (server: RtspTestServer) => Promise<void>): Promise<void> {
  const server = await startRtspServer(mounts);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

for (const transport of ['tcp', 'udp'] as const) {
  test(`RTSP over ${transport.toUpperCase()}: frames at the analysis size, 'online' once`, { skip: SKIP, timeout: 60000 }, async (t) => {
    // The shared clip when present (480x270 → 320x180), else the synthetic one (320x240 → 320x240).
    const file = sharedVideos()[0] ?? longVideo;
    const info = await probeFile(file);
    const expectedH = Math.round((320 * info.height) / info.width / 2) * 2;
    await withServer({ cam: file }, async (server) => {
      const { log, text } = capturedLogger();
      const source = cameraFor(t, { name: `rtsp-${transport}`, url: server.url('cam'), transport, fps: 5, maxWidth: 320, log });
      const events = recordEvents(source);
      const frames: TimedFrame[] = [];
      source.on('frame', (f) => frames.push(f));
      const t0 = Date.now();
      source.start();
      await waitFor(() => frames.length >= 6, 30000, '6 frames over RTSP');
      const firstFrameS = (frames[0]!.ts - t0) / 1000;
      await source.stop();
      t.diagnostic(`first frame after ${firstFrameS.toFixed(2)}s; ${frames.length} frames`);
      for (const f of frames) {
        assert.equal(`${f.width}x${f.height}`, `320x${expectedH}`);
        assert.equal(f.data.length, 320 * expectedH * 3);
      }
      assert.equal(events[0]?.event, 'online');
      assert.deepEqual(events[0]?.info, { camera: `rtsp-${transport}`, width: 320, height: expectedH });
      assert.equal(events.filter((e) => e.event === 'online').length, 1);
      // The transport really asked of ffmpeg (the command line is logged at debug, masked).
      assert.match(text(), new RegExp(`-rtsp_transport ${transport}`));
      assert.match(text(), /-timeout 10000000/, 'RTSP socket timeout in microseconds');
    });
  });
}

test('server stopped for 10 s then restarted: offline, retries, online again, frames resume (same source object)', { skip: SKIP, timeout: 60000 }, async (t) => {
  await withServer({ cam: longVideo }, async (server) => {
    const source = cameraFor(t, {
      name: 'flaky', url: server.url('cam'), fps: 5, watchdogMs: 3000, connectTimeoutMs: 3000, backoff: FAST_BACKOFF,
      log: capturedLogger().log,
    });
    const events = recordEvents(source);
    source.start();
    await waitFor(() => source.stats.frames >= 5, 30000, 'first frames');

    const stoppedAt = Date.now();
    await server.stop();
    await waitFor(() => events.some((e) => e.event === 'offline'), 15000, "'offline' after the server stopped");
    const offlineAfterS = (Date.now() - stoppedAt) / 1000;
    await sleep(Math.max(0, 10000 - (Date.now() - stoppedAt)));
    const framesWhileDown = source.stats.frames;
    const retriesWhileDown = source.stats.reconnects;
    assert.equal(source.stats.online, false);
    assert.ok(retriesWhileDown >= 3, `kept retrying while the server was down (${retriesWhileDown} retries)`);
    assert.match(source.stats.lastError ?? '', /refused|failed|ffprobe/i);

    await server.restart();
    const restartedAt = Date.now();
    await waitFor(() => source.stats.frames >= framesWhileDown + 5, 20000, 'frames after the restart');
    const backS = (Date.now() - restartedAt) / 1000;
    t.diagnostic(`offline ${offlineAfterS.toFixed(1)}s after the stop; ${retriesWhileDown} retries in 10 s; 5 frames ${backS.toFixed(1)}s after the restart`);
    await source.stop();

    const transitions = events.filter((e) => e.event === 'online' || e.event === 'offline').map((e) => e.event);
    assert.deepEqual(transitions, ['online', 'offline', 'online', 'offline'], 'online → offline → online (→ offline on stop)');
    const offline = events.find((e) => e.event === 'offline')!.info as OfflineInfo;
    assert.ok(['exited', 'watchdog'].includes(offline.reason), `offline reason ${offline.reason}`);
    const delays = events.filter((e) => e.event === 'reconnecting').map((e) => (e.info as { delayMs: number }).delayMs);
    assert.ok(delays.every((d) => d <= FAST_BACKOFF.maxMs), `delays capped at maxMs: ${delays.join(',')}`);
    assert.ok(delays.some((d) => d > FAST_BACKOFF.initialMs * 1.2), `delays grow: ${delays.join(',')}`);
  });
});

test('a frozen server (SIGSTOP) trips the watchdog: ffmpeg killed, reconnect after SIGCONT', { skip: SKIP, timeout: 60000 }, async (t) => {
  await withServer({ cam: longVideo }, async (server) => {
    const watchdogMs = 2000;
    const source = cameraFor(t, {
      // ffmpeg's own socket timeout (connectTimeoutMs) is longer, so only the watchdog can catch this stall.
      name: 'frozen', url: server.url('cam'), fps: 5, watchdogMs, connectTimeoutMs: 8000, backoff: FAST_BACKOFF,
      log: capturedLogger().log,
    });
    const events = recordEvents(source);
    source.start();
    await waitFor(() => source.stats.frames >= 5, 30000, 'first frames');

    const frozenAt = Date.now();
    server.pause();
    try {
      await waitFor(() => events.some((e) => e.event === 'offline'), 10000, "'offline' after the freeze");
    } finally {
      await sleep(1000);
      server.resume();
    }
    const offline = events.find((e) => e.event === 'offline')!.info as OfflineInfo;
    const detectS = (Date.now() - frozenAt) / 1000;
    assert.equal(offline.reason, 'watchdog');
    assert.match(offline.message, new RegExp(`no frame for ${watchdogMs} ms; ffmpeg killed`));

    const framesAtResume = source.stats.frames;
    const resumedAt = Date.now();
    await waitFor(() => source.stats.frames >= framesAtResume + 5, 20000, 'frames after SIGCONT');
    t.diagnostic(`watchdog fired; offline seen ${detectS.toFixed(1)}s after SIGSTOP; 5 frames ${((Date.now() - resumedAt) / 1000).toFixed(1)}s after SIGCONT`);
    assert.ok(source.stats.reconnects >= 1);
    await source.stop();
    const transitions = events.filter((e) => e.event === 'online' || e.event === 'offline').map((e) => e.event);
    assert.deepEqual(transitions.slice(0, 3), ['online', 'offline', 'online']);
  });
});

test('an unreachable camera retries while another camera in the same process keeps delivering', { skip: SKIP, timeout: 60000 }, async (t) => {
  await withServer({ cam: longVideo }, async (server) => {
    const port = await closedPort();
    const { log } = capturedLogger();
    const dead = cameraFor(t, { name: 'dead', url: `rtsp://127.0.0.1:${port}/stream`, connectTimeoutMs: 3000, backoff: { ...FAST_BACKOFF, initialMs: 200, maxMs: 800 }, log });
    const alive = cameraFor(t, { name: 'alive', url: server.url('cam'), fps: 5, log });
    const deadEvents = recordEvents(dead);
    const aliveEvents = recordEvents(alive);
    dead.start();
    alive.start();
    await waitFor(() => alive.stats.frames >= 1, 30000, 'the healthy camera online');
    const f0 = alive.stats.frames;
    await sleep(5000);
    const delivered = alive.stats.frames - f0;
    const deadStats = dead.stats;
    await Promise.all([dead.stop(), alive.stop()]);
    t.diagnostic(`healthy camera: ${delivered} frames in 5 s; dead camera: ${deadStats.reconnects} retries, lastError "${deadStats.lastError}"`);

    assert.ok(delivered >= 15, `the healthy camera kept delivering (${delivered} frames in 5 s at 5 fps)`);
    assert.equal(aliveEvents.filter((e) => e.event === 'offline').length, 1, "the healthy camera's only 'offline' is the final stop()");
    assert.equal(deadStats.online, false);
    assert.equal(deadStats.frames, 0);
    assert.ok(deadStats.reconnects >= 4, `the dead camera kept retrying (${deadStats.reconnects})`);
    assert.match(deadStats.lastError ?? '', /Connection refused/);
    const offline = deadEvents.filter((e) => e.event === 'offline');
    assert.equal(offline.length, 1, "'offline' once (a transition), not once per retry");
    assert.equal((offline[0]!.info as OfflineInfo).reason, 'probe-failed');
    assert.ok(deadEvents.filter((e) => e.event === 'reconnecting').length >= 4);
  });
});

test('credentials in camera URLs never appear in logs, errors, events or stats', { skip: SKIP, timeout: 60000 }, async (t) => {
  const user = 'camuser7';
  const password = 'Pa55:w@rd/Zq';
  const encoded = [encodeURIComponent(user), encodeURIComponent(password)];
  const forbidden = [user, password, ...encoded, 'Pa55', 'w@rd', 'rd/Zq', 'rd%2FZq'];
  await withServer({ cam: longVideo }, async (server) => {
    const port = await closedPort();
    const { log, text } = capturedLogger();
    const seen: string[] = [];
    const sources = [
      cameraFor(t, { name: 'good', url: server.url('cam', { user, password }), fps: 5, log }),
      cameraFor(t, { name: 'notfound', url: server.url('no-such-mount', { user, password }), backoff: FAST_BACKOFF, log }),
      cameraFor(t, { name: 'refused', url: `rtsp://${encoded[0]}:${encoded[1]}@127.0.0.1:${port}/x?token=T0kenSecret99`, backoff: FAST_BACKOFF, log }),
    ];
    forbidden.push('T0kenSecret99');
    for (const s of sources) {
      for (const e of ['online', 'offline', 'reconnecting', 'ended'] as const) {
        s.on(e, (info: unknown) => seen.push(JSON.stringify(info)));
      }
      s.on('frame', (f) => seen.push(JSON.stringify({ camera: f.camera, seq: f.seq })));
      seen.push(s.maskedUrl);
      s.start();
    }
    await waitFor(() => sources[0]!.stats.frames >= 3, 30000, 'frames from the camera with credentials');
    await waitFor(() => sources[1]!.stats.reconnects >= 2 && sources[2]!.stats.reconnects >= 2, 20000, 'failing cameras retried');
    for (const s of sources) seen.push(JSON.stringify(s.stats));
    await Promise.all(sources.map((s) => s.stop()));
    for (const bad of [
      `rtsp://${user}:${encoded[1]}@bad host:554/x`,
      `rtsp://${user}:${password}@127.0.0.1:99999/x`,
      `gopher://${user}:${encoded[1]}@cam/x`,
    ]) {
      try {
        new CameraSource({ name: 'bad', url: bad, log });
        assert.fail('expected an error');
      } catch (err) {
        seen.push(String((err as Error).message), String((err as Error).stack));
      }
    }

    const logs = text();
    // The checks below must have something to look at: the failures were logged, with masked URLs.
    assert.match(logs, /404 Not Found/, 'the 404 from the server was logged');
    assert.match(logs, /Connection refused/, 'the refused connection was logged');
    assert.match(logs, /rtsp:\/\/\*\*\*@127\.0\.0\.1/, 'masked URLs were logged');
    assert.match(sources[1]!.stats.lastError ?? '', /404/);
    const everything = `${logs}\n${seen.join('\n')}`;
    for (const secret of forbidden) {
      assert.ok(!everything.includes(secret), `secret fragment ${JSON.stringify(secret)} leaked:\n${everything.split('\n').filter((l) => l.includes(secret)).slice(0, 3).join('\n')}`);
    }
  });
});
