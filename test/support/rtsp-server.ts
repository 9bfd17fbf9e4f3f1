/**
 * Starts scripts/rtsp-server.py (GStreamer RTSP server, Debian's /usr/bin/python3; the demo uses it too) serving mp4 files at
 * rtsp://127.0.0.1:PORT/<mount>, with stop/restart on the same port and pause/resume (SIGSTOP/SIGCONT) to
 * simulate a camera that vanishes or freezes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/util/paths';

export const RTSP_PYTHON = process.env.FACESTREAM_RTSP_PYTHON ?? '/usr/bin/python3';
export const RTSP_SERVER_SCRIPT = path.join(projectRoot(), 'scripts', 'rtsp-server.py');

/** node:test `skip` value: false when the GStreamer RTSP server can run, else the reason printed. */
export const SKIP_NO_RTSP_SERVER: string | false = (() => {
  const r = spawnSync(
    RTSP_PYTHON,
    ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"],
    { stdio: 'ignore', timeout: 20000 },
  );
  return r.error || r.status !== 0
    ? `needs ${RTSP_PYTHON} with python3-gi and gir1.2-gst-rtsp-server-1.0 (GStreamer RTSP server)`
    : false;
})();

export interface RtspTestServer {
  readonly port: number;
  /** Process id of the running server (undefined while stopped). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** rtsp://[user:password@]127.0.0.1:PORT/mount */
  url(mount: string, credentials?: { user: string; password: string }): string;
  /** SIGTERM and wait for exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Start again on the same port (stopping first if running). */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its sockets but answers nothing (a frozen camera). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export async function startRtspServer(
  mounts: Record<string, string>,
  options: { port?: number; readyTimeoutMs?: number } = {},
): Promise<RtspTestServer> {
  const mountArgs = Object.entries(mounts).flatMap(([name, file]) => ['--mount', `${name}=${file}`]);
  if (mountArgs.length === 0) throw new Error('startRtspServer: give at least one mount');
  const readyTimeoutMs = options.readyTimeoutMs ?? 15000;

  let child: ChildProcess | undefined;
  let paused = false;

  const launch = (port: number): Promise<{ child: ChildProcess; port: number }> =>
    new Promise((resolve, reject) => {
      const proc = spawn(RTSP_PYTHON, [RTSP_SERVER_SCRIPT, '--port', String(port), ...mountArgs], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      live.add(proc);
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`RTSP server not ready within ${readyTimeoutMs} ms; stderr: ${err.trim()}`));
      }, readyTimeoutMs);
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /READY (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ child: proc, port: Number(m[1]) });
        }
      });
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        if (err.length > 20000) err = err.slice(-10000);
      });
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        clearTimeout(timer);
        reject(new Error(`RTSP server exited before READY (code ${code}, signal ${signal}): ${err.trim()}`));
      });
      proc.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });

  const first = await launch(options.port ?? 0);
  child = first.child;
  const port = first.port;

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (paused) {
      proc.kill('SIGCONT');
      paused = false;
    }
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  return {
    port,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined;
    },
    url(mount, credentials) {
      const auth = credentials
        ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@`
        : '';
      return `rtsp://${auth}127.0.0.1:${port}/${mount}`;
    },
    stop,
    async restart() {
      await stop();
      // The port may linger briefly (TIME_WAIT, a client mid-teardown): retry for a few seconds.
      let lastErr: unknown;
      for (let i = 0; i < 10; i++) {
        try {
          child = (await launch(port)).child;
          return;
        } catch (e) {
          lastErr = e;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      throw lastErr;
    },
    pause() {
      if (!child) throw new Error('RTSP server is not running');
      child.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      if (!child) throw new Error('RTSP server is not running');
      child.kill('SIGCONT');
      paused = false;
    },
  };
}
