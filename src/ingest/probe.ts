/**
 * Runs ffprobe to learn a source's video size before decoding. Spawned directly (child_process.execFile) rather
 * than through fluent-ffmpeg's ffprobe(): that one has no timeout and no handle to kill a probe hanging on a
 * frozen camera, and its error message embeds the command line (with the URL's credentials).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { ffprobeArgs, parseProbeJson, type InputArgsOptions, type ProbedStream } from './ffmpeg-args';

const NEEDS_FULL_PROBE = /no size|unspecified size|could not find codec parameters|invalid data/i;

export interface ProbeResult {
  readonly stream: ProbedStream;
  /** The header-only probe sufficed, so ffmpeg may skip its own stream analysis too (fastStart). */
  readonly headerOnly: boolean;
}

export interface ProbeHandle {
  readonly result: Promise<ProbeResult>;
  /** SIGKILL the probe (the promise then rejects). */
  kill(): void;
}

export class ProbeError extends Error {
  constructor(message: string, readonly stderr: string) {
    super(message);
    this.name = 'ProbeError';
  }
}

export function ffprobePath(): string {
  return process.env.FFPROBE_PATH ?? 'ffprobe';
}

/**
 * Probe `input`. Error messages contain only ffprobe's own stderr; callers must still scrub them, because ffprobe
 * echoes the URL (credentials included) in its messages.
 */
export function probeVideo(input: string, o: InputArgsOptions, timeoutMs: number): ProbeHandle {
  let current: ChildProcess | undefined;
  let killed = false;
  const once = (fast: boolean): Promise<ProbedStream> =>
    new Promise((resolve, reject) => {
      if (killed) return reject(new ProbeError('probe cancelled', ''));
      current = execFile(
        ffprobePath(),
        ffprobeArgs(input, o, fast),
        { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, windowsHide: true, encoding: 'utf8' },
        (err, stdout, stderr) => {
          current = undefined;
          const errText = String(stderr).trim();
          if (err) {
            const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown; signal?: unknown };
            let why: string;
            if (killed) why = 'probe cancelled';
            else if (e.code === 'ENOENT') why = `ffprobe not found (${ffprobePath()}); install ffmpeg`;
            else if (e.killed || e.signal === 'SIGKILL') why = `ffprobe got no answer within ${timeoutMs} ms`;
            else why = `ffprobe failed (exit code ${String(e.code)})`;
            return reject(new ProbeError(errText ? `${why}: ${lastLines(errText, 3)}` : why, errText));
          }
          try {
            resolve(parseProbeJson(String(stdout)));
          } catch (parseErr) {
            reject(new ProbeError(`ffprobe: ${(parseErr as Error).message}`, errText));
          }
        },
      );
    });
  // RTSP: a header-only probe first (the size comes from the SPS in the SDP: instant instead of seconds of
  // analysis). If that misses the size (camera without SPS in its SDP), probe again with full stream analysis.
  const fast = o.kind === 'rtsp';
  const result = once(fast).then(
    (stream): ProbeResult => ({ stream, headerOnly: fast }),
    async (err: unknown): Promise<ProbeResult> => {
      if (fast && !killed && err instanceof ProbeError && NEEDS_FULL_PROBE.test(err.message)) {
        return { stream: await once(false), headerOnly: false };
      }
      throw err;
    },
  );
  return {
    result,
    kill() {
      killed = true;
      current?.kill('SIGKILL');
    },
  };
}

function lastLines(text: string, n: number): string {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '').slice(-n).join(' | ');
}
