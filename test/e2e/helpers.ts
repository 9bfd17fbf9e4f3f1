/**
 * Helpers for the end-to-end tests of the embedded mode: the REAL command line (node dist/src/cli/main.js) as a
 * child process, its pino log lines parsed as they arrive, fixtures made with the real `enroll` command, and
 * clean-up that kills every process a test started, pass or fail.
 *
 * Each facestream child is started in its own process group (detached) and is killed as a group, so the ffmpeg
 * and ffprobe processes it spawned go with it, even after a SIGKILL of facestream itself.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/util/paths';
import { sharedDir } from '../support/shared';
import { sleep } from '../support/net';
export { closedPort, sleep } from '../support/net';

/** The compiled command line. */
export const CLI = path.join(projectRoot(), 'dist', 'src', 'cli', 'main.js');

/** A Standard Webhooks secret for the run (32 random bytes). */
export const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

/** The shared clips (absolute paths); only meaningful when sharedDir() is defined. */
export function sharedVideo(name: string): string {
  return path.join(sharedDir() ?? path.resolve(projectRoot(), '..', 'shared'), 'data', 'video', name);
}

/** A pino JSON line of facestream's stderr. */
export interface LogLine {
  level: number;
  time: number;
  msg: string;
  camera?: string;
  [key: string]: unknown;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<ChildProcess>();

/** SIGKILL the process group of a child started here (it leads its own group). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* the group is gone */
  }
}

// Last resort if a test run is interrupted: no facestream/ffmpeg outlives the test process.
process.once('exit', () => {
  for (const child of live) killGroup(child);
});

/** A running `facestream …` child process with its output captured and its log lines parsed. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly logs: LogLine[] = [];
  /** Non-JSON stderr lines (e.g. "facestream: metrics at …"). */
  readonly textLines: string[] = [];
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  private pending = '';
  private readonly listeners = new Set<() => void>();

  constructor(readonly args: readonly string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [CLI, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    live.add(this.child);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => this.onStderr(d));
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        if (this.pending) this.onLine(this.pending);
        this.pending = '';
        this.exit = { code, signal };
        live.delete(this.child);
        // Whatever facestream left behind (it should have stopped its ffmpeg children itself).
        killGroup(this.child);
        this.notify();
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Sends a signal to facestream only (SIGTERM: graceful shutdown). */
  signal(sig: NodeJS.Signals): void {
    if (this.running && this.child.pid !== undefined) process.kill(this.child.pid, sig);
  }

  /** SIGKILL facestream and everything it started (a crash). */
  killAll(): void {
    killGroup(this.child, 'SIGKILL');
  }

  /** Log lines with this msg (optionally of one camera). */
  logsWith(msg: string, camera?: string): LogLine[] {
    return this.logs.filter((l) => l.msg === msg && (camera === undefined || l.camera === camera));
  }

  /** The metrics URL printed on stderr once the runtime is up. */
  get metricsUrl(): string | undefined {
    for (const line of this.textLines) {
      const m = /^facestream: metrics at (http:\/\/\S+\/metrics)/.exec(line);
      if (m) return m[1];
    }
    return undefined;
  }

  /** Resolves with the first log line (already seen or coming) that satisfies `pred`; rejects on timeout or exit. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    return this.waitUntil(() => this.logs.find(pred), timeoutMs, what);
  }

  /** Resolves once `probe()` returns something other than undefined (checked after each output chunk). */
  waitUntil<T>(probe: () => T | undefined, timeoutMs: number, what: string, { allowExit = false } = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = probe();
        if (v !== undefined) return done(() => resolve(v));
        if (!allowExit && this.exit) {
          done(() => reject(new Error(`facestream exited (${JSON.stringify(this.exit)}) before ${what}\n${this.tail()}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`))), timeoutMs);
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        fn();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Waits for the process to exit; on timeout it is killed (group) and an error names what was awaited. */
  async waitForExit(timeoutMs: number, what = 'facestream to exit'): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const msg = `timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`;
        this.killAll();
        reject(new Error(msg));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The last lines of stderr, for assertion messages. */
  tail(lines = 40): string {
    const all = this.stderr.split('\n').filter((l) => !l.includes('"ffmpeg stderr"'));
    return `--- facestream ${this.args[0]} stderr (last ${lines} lines) ---\n${all.slice(-lines).join('\n')}`;
  }

  private onStderr(d: string): void {
    this.stderr += d;
    this.pending += d;
    const parts = this.pending.split('\n');
    this.pending = parts.pop() ?? '';
    for (const line of parts) this.onLine(line);
    this.notify();
  }

  private onLine(line: string): void {
    if (line.startsWith('{')) {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
        return;
      } catch {
        /* not JSON after all */
      }
    }
    if (line.trim()) this.textLines.push(line);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
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
