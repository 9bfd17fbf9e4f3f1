/**
 * `facestream demo` end to end through the real CLI: slideshow (ffmpeg) → GStreamer RTSP camera → embedded runtime
 * → signed webhooks into the demo's receiver. Needs only what set-up installs (no ../shared): the test points
 * FACESTREAM_SHARED_DIR at a missing folder to make sure of it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { DemoSummary } from '../../src/demo/run-demo';
import { WATCHLIST_PICKS } from '../../src/demo/sample-photos';
import { projectRoot } from '../../src/util/paths';
import { SKIP_NO_RTSP_SERVER } from '../support/rtsp-server';

const cli = path.join(projectRoot(), 'dist', 'src', 'cli', 'main.js');

function runDemo(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'demo', '--dir', dir, '--http-port', '0'],
      {
        timeout: 280_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 << 20,
        env: { ...process.env, FACESTREAM_SHARED_DIR: path.join(dir, 'no-shared-here') },
      },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Processes whose command line contains `needle` (Linux /proc; none elsewhere). */
function processesWith(needle: string): string[] {
  if (!existsSync('/proc/self/cmdline')) return [];
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) found.push(`${pid}: ${cmd}`);
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

test('facestream demo: alerts only for enrolled people on photos they are in, all signed, everything stopped', { skip: SKIP_NO_RTSP_SERVER, timeout: 300_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-demo-'));
  try {
    const { code, stdout, stderr } = await runDemo(dir);
    assert.equal(code, 0, `demo exited ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);

    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as DemoSummary;
    const enrolled = new Set(summary.enrolled.map((e) => e.identity));
    assert.deepEqual([...enrolled].sort(), WATCHLIST_PICKS.map((p) => p.identity).sort());
    assert.ok(summary.alerts.length >= 1, `expected at least one alert:\n${stdout}`);
    assert.deepEqual(summary.rejected, [], 'every webhook must carry a valid signature');
    for (const a of summary.alerts) {
      assert.ok(enrolled.has(a.identity), `alert for ${a.identity}, who was not enrolled`);
      const pick = WATCHLIST_PICKS.find((p) => p.identity === a.identity)!;
      assert.ok(a.photo && pick.appearsIn.includes(a.photo), `${a.identity} alerted on ${a.photo}, a photo she is not in (a stranger alerted)`);
      assert.ok(a.distance <= summary.thresholds.distance && a.svm >= summary.thresholds.svm, `alert scores outside the match rule: ${JSON.stringify(a)}`);
      const jpeg = readFileSync(a.jpeg);
      assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff], `${a.jpeg} is not a JPEG`);
    }
    // Each alert id once (the receiver counts a re-delivery once), each printed as it arrived with its signature checked.
    assert.equal(new Set(summary.alerts.map((a) => a.id)).size, summary.alerts.length);
    assert.equal(stdout.match(/^ {2}ALERT .*signature OK/gm)?.length ?? 0, summary.alerts.length, stdout);
    // Strangers were seen, matched against the gallery and not taken for anyone (not even behind the cooldown).
    assert.ok(summary.tracks.filter((t) => !t.identity).length >= 5, `expected unknown face tracks:\n${stdout}`);
    assert.deepEqual(summary.tracks.filter((t) => !t.expected), [], 'face tracks recognised as someone not in the photo');
    assert.ok(summary.counters.frames > 0 && summary.counters.delivered === summary.alerts.length, JSON.stringify(summary.counters));
    assert.match(readFileSync(path.join(dir, 'metrics.txt'), 'utf8'), /^facestream_frames_total\{camera="lobby"\} \d+/m);
    assert.match(stdout, /metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);

    // Nothing the demo started is left: the RTSP server (its argv holds the clip path) and the camera's ffmpeg
    // (its argv holds the RTSP URL).
    const url = /at (rtsp:\/\/127\.0\.0\.1:\d+\/demo)/.exec(stdout)?.[1];
    assert.ok(url, 'the demo prints the camera URL');
    assert.deepEqual(processesWith(dir), [], 'processes left running with the demo dir in their command line');
    assert.deepEqual(processesWith(url), [], 'processes left running with the camera URL in their command line');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
