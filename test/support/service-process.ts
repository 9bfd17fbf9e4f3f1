/**
 * A distributed-mode service as a real child process (service-child.ts), for tests that need a process to die
 * abruptly or to be signalled: its pino log lines are parsed as they arrive, its HTTP port is read from the
 * "metrics at" line, and it is killed with its whole process group (its ffmpeg children too) — by kill9(), by
 * stop() (SIGTERM, then SIGKILL after a grace period), and when the test process exits.
 *
 *   const p = await startServiceProcess('ingest', { FACESTREAM_KAFKA__BROKERS: broker.brokers.join(','), … });
 *   await p.waitForLog((l) => l.msg === 'ingest: camera started', 30_000, 'a camera');
 *   p.kill9();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/util/paths';

export const SERVICE_CHILD = path.join(projectRoot(), 'dist', 'test', 'support', 'service-child.js');

export interface ServiceLogLine {
  level: number;
  time: number;
  msg: string;
  camera?: string;
  [key: string]: unknown;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* gone */
  }
}

export class ServiceProcess {
  readonly child: ChildProcess;
  readonly logs: ServiceLogLine[] = [];
  readonly textLines: string[] = [];
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private pending = '';
  private readonly listeners = new Set<() => void>();

  constructor(readonly role: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [SERVICE_CHILD, role], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env });
    live.add(this.child);
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.pending += d;
      const parts = this.pending.split('\n');
      this.pending = parts.pop() ?? '';
      for (const line of parts) this.onLine(line);
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this.child);
        killGroup(this.child, 'SIGKILL'); // whatever it left behind (ffmpeg)
        this.notify();
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The HTTP port from the "metrics at" line (undefined until the service is up). */
  get httpPort(): number | undefined {
    for (const line of this.textLines) {
      const m = /metrics at http:\/\/[^:]+:(\d+)\//.exec(line);
      if (m) return Number(m[1]);
    }
    return undefined;
  }

  logsWith(msg: string, camera?: string): ServiceLogLine[] {
    return this.logs.filter((l) => l.msg === msg && (camera === undefined || l.camera === camera));
  }

  /** SIGKILL the service and everything it started: no shutdown work, no leaving the consumer groups. */
  kill9(): void {
    killGroup(this.child, 'SIGKILL');
  }

  /** SIGTERM (graceful), SIGKILL of the group after `graceMs`; resolves on exit. */
  async stop(graceMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill9(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  waitForLog(pred: (l: ServiceLogLine) => boolean, timeoutMs: number, what: string): Promise<ServiceLogLine> {
    return this.waitUntil(() => this.logs.find(pred), timeoutMs, what);
  }

  waitUntil<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        fn();
      };
      const check = () => {
        const v = probe();
        if (v !== undefined) done(() => resolve(v));
        else if (this.exit) done(() => reject(new Error(`${this.role} exited (${JSON.stringify(this.exit)}) before ${what}\n${this.tail()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`))), timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  tail(lines = 30): string {
    const all = this.stderr.split('\n').filter((l) => !l.includes('"ffmpeg stderr"'));
    return `--- ${this.role} (pid ${this.child.pid}) stderr, last ${lines} lines ---\n${all.slice(-lines).join('\n')}`;
  }

  private onLine(line: string): void {
    if (line.startsWith('{')) {
      try {
        this.logs.push(JSON.parse(line) as ServiceLogLine);
        return;
      } catch {
        /* not JSON */
      }
    }
    if (line.trim()) this.textLines.push(line);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

/**
 * Starts the service with `env` (FACESTREAM_* settings; the parent's FACESTREAM_CONFIG is not inherited) and
 * resolves once it printed its metrics line; rejects (after killing it) when it exits or takes longer than
 * `timeoutMs`.
 */
export async function startServiceProcess(role: 'ingest' | 'embed' | 'match' | 'alerts', env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<ServiceProcess> {
  const base: NodeJS.ProcessEnv = { ...process.env, FACESTREAM_LOG_LEVEL: process.env.FACESTREAM_CHILD_LOG_LEVEL ?? 'info', FACESTREAM_HTTP__PORT: '0', FACESTREAM_HTTP__HOST: '127.0.0.1' };
  delete base.FACESTREAM_CONFIG;
  const p = new ServiceProcess(role, { ...base, ...env });
  try {
    await p.waitUntil(() => p.httpPort, timeoutMs, `${role} to start`);
  } catch (err) {
    p.kill9();
    await p.exited;
    throw err;
  }
  return p;
}

/** FACESTREAM_* variables for a config-override object's Kafka settings (brokers and prefixes). */
export function kafkaEnv(o: { brokers: string[]; topicPrefix: string; groupPrefix: string; cameraPartitions?: number; sessionTimeoutMs?: number; partitions?: number }): NodeJS.ProcessEnv {
  return {
    FACESTREAM_KAFKA__BROKERS: o.brokers.join(','),
    FACESTREAM_KAFKA__TOPIC_PREFIX: o.topicPrefix,
    FACESTREAM_KAFKA__GROUP_PREFIX: o.groupPrefix,
    ...(o.cameraPartitions !== undefined ? { FACESTREAM_KAFKA__CAMERA_PARTITIONS: String(o.cameraPartitions) } : {}),
    ...(o.sessionTimeoutMs !== undefined ? { FACESTREAM_KAFKA__SESSION_TIMEOUT_MS: String(o.sessionTimeoutMs) } : {}),
    ...(o.partitions !== undefined ? { FACESTREAM_KAFKA__PARTITIONS: String(o.partitions) } : {}),
  };
}
