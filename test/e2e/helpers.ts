/**
 * Helpers for the end-to-end tests of the embedded mode: the REAL command line (node dist/src/cli/main.js) as a
 * child process (CliProcess, test/support/cli-process.ts: its pino log lines parsed as they arrive, killed with
 * its process group), fixtures made with the real `enroll` command, and clean-up that kills every process a test
 * started, pass or fail.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/util/paths';
import { CliProcess, type ExitInfo } from '../support/cli-process';
import { sharedDir } from '../support/shared';
import { sleep } from '../support/net';
export { closedPort, sleep } from '../support/net';
export { CLI, CliProcess, type ExitInfo, type LogLine } from '../support/cli-process';

/** A Standard Webhooks secret for the run (32 random bytes). */
export const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

/** The shared clips (absolute paths); only meaningful when sharedDir() is defined. */
export function sharedVideo(name: string): string {
  return path.join(sharedDir() ?? path.resolve(projectRoot(), '..', 'shared'), 'data', 'video', name);
}

/** The environment of a facestream child: the webhook secret set, no stray config file, info logs. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FACESTREAM_WEBHOOK_SECRET: WEBHOOK_SECRET, FACESTREAM_LOG_LEVEL: 'info' };
  delete env.FACESTREAM_CONFIG;
  delete env.FACESTREAM_DEBUG;
  return { ...env, ...extra };
}

/** Starts `facestream <args>`; the test kills it (and its ffmpeg children) when it ends, pass or fail. */
export function startCli(t: TestContext, args: readonly string[], env: NodeJS.ProcessEnv = cliEnv()): CliProcess {
  const p = new CliProcess(args, env);
  t.after(async () => {
    if (!p.running) return;
    p.killAll();
    await p.exited;
  });
  return p;
}

/** Runs `facestream <args>` to completion (killed after `timeoutMs`). */
export async function runCli(t: TestContext, args: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<CliProcess & { exit: ExitInfo }> {
  const p = startCli(t, args, env);
  await p.waitForExit(timeoutMs, `facestream ${args.join(' ')}`);
  return p as CliProcess & { exit: ExitInfo };
}

/** A temporary directory removed when the test ends (kept, and printed, with FACESTREAM_E2E_KEEP=1). */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `facestream-e2e-${prefix}-`));
  t.after(() => {
    if (process.env.FACESTREAM_E2E_KEEP) t.diagnostic(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * Enrols the woman (head-pose-face-detection-female.mp4, folder woman/) and the man (-male.mp4, folder man/) with
 * the real `enroll` command into `store` (default `<dir>/store`; a redis:// URL enrols into Redis); returns the store.
 */
export async function enrolWomanAndMan(t: TestContext, dir: string, store: string = path.join(dir, 'store'), env?: NodeJS.ProcessEnv): Promise<string> {
  const gallery = path.join(dir, 'gallery');
  for (const [who, clip] of [['woman', 'head-pose-face-detection-female.mp4'], ['man', 'head-pose-face-detection-male.mp4']] as const) {
    mkdirSync(path.join(gallery, who), { recursive: true });
    copyFileSync(sharedVideo(clip), path.join(gallery, who, clip));
  }
  const p = await runCli(t, ['enroll', '--gallery', gallery, '--store', store], 120_000, env);
  if (p.exit.code !== 0 || !/woman\s+enrolled/.test(p.stdout) || !/man\s+enrolled/.test(p.stdout)) {
    throw new Error(`enroll failed (exit ${JSON.stringify(p.exit)}):\n${p.stdout}\n${p.tail()}`);
  }
  return store;
}

/** `times` plays of an mp4 back to back, without re-encoding (ffmpeg -stream_loop N-1 -c copy). */
export async function loopClip(src: string, times: number, dest: string): Promise<string> {
  await promisify(execFile)('ffmpeg', [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-stream_loop', String(times - 1), '-i', src, '-map', '0:v:0', '-c', 'copy', dest,
  ]);
  return dest;
}


/** Polls `cond` every 100 ms until it holds; throws after `timeoutMs`. */
export async function pollUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** GET a URL as text (undefined when nothing answers). */
export async function fetchText(url: string): Promise<{ status: number; type: string; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
  } catch {
    return undefined;
  }
}

/** The value of one Prometheus sample line, e.g. metricValue(text, 'facestream_camera_up{camera="a"}'). */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** Pending alert files in every webhook spool under `spoolDir`. */
export function spooledAlertIds(spoolDir: string): string[] {
  if (!existsSync(spoolDir)) return [];
  const ids: string[] = [];
  for (const w of readdirSync(spoolDir)) {
    const pending = path.join(spoolDir, w, 'pending');
    if (!existsSync(pending)) continue;
    for (const f of readdirSync(pending)) {
      const m = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/.exec(f);
      if (m) ids.push(m[1]);
    }
  }
  return ids;
}

/** True when stderr shows a JavaScript stack trace. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+(\(.+:\d+:\d+\)|:\d+:\d+)$/m.test(text);
}
