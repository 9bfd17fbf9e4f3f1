/**
 * Runs scripts/rtsp-server.py (GStreamer's RTSP server through Debian's python3-gi) serving one mp4 file, the
 * demo's camera. The script is the one the tests use too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../util/paths';

/** Debian's python3 (it has python3-gi); a pyenv or venv python3 first on PATH usually has not. */
export const RTSP_PYTHON = process.env.FACESTREAM_RTSP_PYTHON ?? '/usr/bin/python3';
export const RTSP_SERVER_SCRIPT = path.join(projectRoot(), 'scripts', 'rtsp-server.py');

export interface DemoRtspServer {
  url: string;
  port: number;
  pid: number | undefined;
  /** Calls `listener` each time a client's stream of the file reaches its end ("EOS" from the server). */
  onEos(listener: () => void): void;
  /** SIGTERM, SIGKILL after 3 s; resolves when it has exited. */
  stop(): Promise<void>;
}

export function startRtspServer(file: string, mount: string, options: { readyTimeoutMs?: number } = {}): Promise<DemoRtspServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      // --exit-with-stdin: the server exits when this process does, however it ends (its stdin pipe closes).
      child = spawn(RTSP_PYTHON, [RTSP_SERVER_SCRIPT, '--port', '0', '--exit-with-stdin', '--mount', `${mount}=${file}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(new Error(`cannot start the RTSP server: ${(err as Error).message}`));
      return;
    }
    const eosListeners: (() => void)[] = [];
    let ready = false;
    let stdout = '';
    let stderr = '';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the RTSP server was not ready within ${readyTimeoutMs / 1000} s: ${stderr.trim() || 'no message'}`));
    }, readyTimeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      let nl: number;
      while ((nl = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, nl).trim();
        stdout = stdout.slice(nl + 1);
        const m = /^READY (\d+)$/.exec(line);
        if (m && !ready) {
          ready = true;
          clearTimeout(timer);
          const port = Number(m[1]);
          resolve({
            url: `rtsp://127.0.0.1:${port}/${mount}`,
            port,
            get pid() {
              return child.exitCode === null && child.signalCode === null ? child.pid : undefined;
            },
            onEos: (l) => eosListeners.push(l),
            stop,
          });
        } else if (line === `EOS ${mount}`) {
          for (const l of eosListeners) l();
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      const e = err as NodeJS.ErrnoException;
      reject(
        new Error(
          e.code === 'ENOENT'
            ? `${RTSP_PYTHON} not found: the demo's RTSP server needs Debian's python3 with python3-gi and gir1.2-gst-rtsp-server-1.0 (npm run setup installs them)`
            : `cannot start the RTSP server: ${e.message}`,
        ),
      );
    });
    child.once('exit', (code, sig) => {
      if (ready) return;
      clearTimeout(timer);
      const hint = /gi|GstRtspServer|Namespace/.test(stderr) ? ' (needs python3-gi and gir1.2-gst-rtsp-server-1.0: npm run setup installs them)' : '';
      reject(new Error(`the RTSP server exited before it was ready (${code ?? sig})${hint}: ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no message'}`));
    });
  });
}
