/**
 * The REAL command line (node dist/src/cli/main.js) as a child process for tests: stdout and stderr captured, its
 * pino JSON log lines parsed as they arrive (other stderr lines kept as text), waits on a log line, on any condition
 * of the output, or on the exit, with errors that show the end of its stderr.
 *
 * Each child is started in its own process group (detached) and is killed as a group, so the ffmpeg and ffprobe
 * processes it spawned go with it, even after a SIGKILL of facestream itself; whatever is still running when the
 * test process exits is killed too.
 *
 *   const p = new CliProcess(['run', '--config', file], env);
 *   await p.waitForLog((l) => l.msg === 'camera started', 30_000, 'a camera');
 *   p.killAll();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/util/paths';

/** The compiled command line. */
export const CLI = path.join(projectRoot(), 'dist', 'src', 'cli', 'main.js');

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

/** Signals the process group of a child started here (it leads its own group). */
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

  /** SIGTERM to facestream (graceful shutdown), SIGKILL of the group after `graceMs`; resolves on exit. */
  async stop(graceMs = 20_000): Promise<ExitInfo> {
    if (!this.running) return this.exit!;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.killAll(), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Log lines with this msg (optionally of one camera). */
  logsWith(msg: string, camera?: string): LogLine[] {
    return this.logs.filter((l) => l.msg === msg && (camera === undefined || l.camera === camera));
  }

  /** The metrics URL printed on stderr once the embedded-mode runtime is up. */
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
          done(() => reject(new Error(`facestream ${this.args[0]} exited (${JSON.stringify(this.exit)}) before ${what}\n${this.tail()}`)));
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

  /** The last lines of stderr (ffmpeg's own chatter left out), for assertion messages. */
  tail(lines = 40): string {
    const all = this.stderr.split('\n').filter((l) => !l.includes('"ffmpeg stderr"'));
    return `--- facestream ${this.args[0]} (pid ${this.child.pid}) stderr (last ${lines} lines) ---\n${all.slice(-lines).join('\n')}`;
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
