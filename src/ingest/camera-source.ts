/**
 * One camera: ffmpeg (via fluent-ffmpeg) decodes the stream into BGR24 frames at the analysis rate and size; a
 * watchdog kills a silent ffmpeg; a live source reconnects forever with capped exponential backoff; the consumer
 * always gets the newest frame (latest-frame slot, never a queue).
 *
 * Secrets: the URL (with credentials) is handed to ffmpeg/ffprobe only. Everything this class logs, emits, throws
 * or exposes in stats goes through maskSourceUrl()/scrubSecrets() first, including ffmpeg's stderr, which echoes
 * the URL. (The URL is still visible in the ffmpeg process's argv to local users who can list processes.)
 */
import { EventEmitter } from 'node:events';
import type { PassThrough } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import type { Frame } from '../image/frame';
import { logger, type Logger } from '../util/log';
import { backoffDelay, DEFAULT_BACKOFF, validateBackoff, type BackoffOptions } from './backoff';
import {
  analysisSize,
  ffmpegInputOptions,
  ffmpegOutputOptions,
  type InputArgsOptions,
  type RtspTransport,
} from './ffmpeg-args';
import { FrameSplitter } from './frame-splitter';
import { LatestSlot } from './latest-slot';
import { probeVideo } from './probe';
import { parseSourceUrl, scrubSecrets, SourceUrlError, type SourceUrl } from './source-url';

export interface CameraSourceOptions {
  /** Camera name (used in logs, events, frames). Not secret. */
  readonly name: string;
  /** rtsp://, rtsps://, http(s)://, file:// URL or a file path. May carry credentials. */
  readonly url: string;
  /** Analysis rate: at most this many frames per second (default 5). */
  readonly fps?: number;
  /** Frames wider than this are downscaled keeping the aspect ratio; never upscaled (default 640). */
  readonly maxWidth?: number;
  /** RTP transport for RTSP (default 'tcp'). */
  readonly transport?: RtspTransport;
  /** Extra ffmpeg input options, e.g. ['-hwaccel', 'vaapi']. */
  readonly hwaccel?: readonly string[];
  /** Files: read at native rate (-re), like a live camera (default true for files, false otherwise). */
  readonly realtime?: boolean;
  /** No frame for this long → ffmpeg is killed and the source reconnects (default 10000). */
  readonly watchdogMs?: number;
  /**
   * Probe timeout and ffmpeg's socket I/O timeout (default 10000). A session gets connectTimeoutMs + watchdogMs
   * for its first frame.
   */
  readonly connectTimeoutMs?: number;
  /** Reconnect delays (default 1 s doubling to 30 s, ±20% jitter). */
  readonly backoff?: Partial<BackoffOptions>;
  /** When ffmpeg ends cleanly, emit 'ended' instead of starting again (default: true for files, false for live). */
  readonly playOnce?: boolean;
  /** Logger (default: the facestream logger); a child with {camera} is used. */
  readonly log?: Logger;
}

/** A decoded frame with where and when it came from. */
export interface TimedFrame extends Frame {
  readonly camera: string;
  /** Per source, increasing from 1, continuing across reconnects. */
  readonly seq: number;
  /** Wall-clock ms (Date.now()) when the frame's last byte arrived. */
  readonly ts: number;
}

export type OfflineReason = 'probe-failed' | 'exited' | 'watchdog' | 'spawn-failed' | 'stopped';

export interface OnlineInfo {
  readonly camera: string;
  readonly width: number;
  readonly height: number;
}
export interface OfflineInfo {
  readonly camera: string;
  readonly reason: OfflineReason;
  /** What happened, credentials masked. */
  readonly message: string;
}
export interface ReconnectInfo {
  readonly camera: string;
  /** 1 for the first retry after a working session (or after start). */
  readonly attempt: number;
  readonly delayMs: number;
}
export interface EndedInfo {
  readonly camera: string;
}

export interface CameraSourceEvents {
  online: [OnlineInfo];
  offline: [OfflineInfo];
  reconnecting: [ReconnectInfo];
  ended: [EndedInfo];
  frame: [TimedFrame];
}

export interface CameraSourceStats {
  /** Frames decoded. */
  readonly frames: number;
  /** Frames overwritten in a frames() slot before the consumer took them. */
  readonly dropped: number;
  /** Connection attempts after the first (each retry counts). */
  readonly reconnects: number;
  readonly online: boolean;
  readonly lastFrameAt: number | null;
  /** Last failure, credentials masked. */
  readonly lastError: string | null;
}

export type CameraState = 'idle' | 'connecting' | 'online' | 'offline' | 'ended' | 'stopped';

interface SessionOutcome {
  readonly reason: OfflineReason;
  readonly message: string;
  /** ffmpeg exited with status 0 (end of file / end of stream). */
  readonly clean: boolean;
  readonly gotFrames: boolean;
}

const STDERR_TAIL = 8;

/**
 * One decoder thread per camera: ffmpeg's default (frame threads = cores) adds CPU per frame for the hand-over
 * between threads and delays each frame by a frame per extra thread. Measured with Debian's ffmpeg 5.1 on the
 * 2-core dev machine, CPU ms per output frame (H.264, 25 fps, output 1280x720 BGR): 1080p 11.2 -> 9.7, 1080p
 * with 5 of 25 frames passed 38.0 -> 35.2 per passed frame, 720p 4.6 -> 4.5. A process serving several cameras
 * gets its parallelism from the cameras.
 */
const DECODER_THREADS = ['-threads', '1'];

export class CameraSource extends EventEmitter<CameraSourceEvents> {
  readonly name: string;
  /** The URL with credentials masked: safe to show. */
  readonly maskedUrl: string;

  private readonly src: SourceUrl;
  private readonly rawUrl: string;
  private readonly fps: number;
  private readonly maxWidth: number;
  private readonly watchdogMs: number;
  private readonly connectTimeoutMs: number;
  private readonly backoff: BackoffOptions;
  private readonly playOnce: boolean;
  private readonly inputArgs: InputArgsOptions;
  private readonly log: Logger;

  private stateValue: CameraState = 'idle';
  private stopping = false;
  private loopDone: Promise<void> | undefined;
  private cancelCurrent: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private readonly slots = new Set<LatestSlot<TimedFrame>>();
  private seq = 0;
  private counters = { frames: 0, dropped: 0, reconnects: 0 };
  private lastFrameAt: number | null = null;
  private lastError: string | null = null;

  /** Throws SourceUrlError (URL masked) or RangeError on invalid options. */
  constructor(options: CameraSourceOptions) {
    super();
    if (typeof options.name !== 'string' || options.name.trim() === '') {
      throw new RangeError('camera name must be a non-empty string');
    }
    this.name = options.name;
    this.rawUrl = options.url;
    try {
      this.src = parseSourceUrl(options.url);
    } catch (err) {
      if (err instanceof SourceUrlError) throw new SourceUrlError(`camera "${this.name}": ${err.message}`);
      throw err;
    }
    this.maskedUrl = this.src.masked;
    this.fps = options.fps ?? 5;
    this.maxWidth = options.maxWidth ?? 640;
    this.watchdogMs = options.watchdogMs ?? 10000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10000;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.playOnce = options.playOnce ?? !this.src.live;
    const transport = options.transport ?? 'tcp';
    const bad = (what: string, v: unknown): never => {
      throw new RangeError(`camera "${this.name}": ${what}, got ${JSON.stringify(v)}`);
    };
    if (!(Number.isFinite(this.fps) && this.fps > 0 && this.fps <= 240)) bad('fps must be in (0, 240]', this.fps);
    if (!(Number.isInteger(this.maxWidth) && this.maxWidth >= 2)) bad('maxWidth must be an integer >= 2', this.maxWidth);
    if (!(this.watchdogMs >= 100)) bad('watchdogMs must be >= 100', this.watchdogMs);
    if (!(this.connectTimeoutMs >= 100)) bad('connectTimeoutMs must be >= 100', this.connectTimeoutMs);
    if (transport !== 'tcp' && transport !== 'udp') bad("transport must be 'tcp' or 'udp'", transport);
    if (options.hwaccel !== undefined && !(Array.isArray(options.hwaccel) && options.hwaccel.every((a) => typeof a === 'string'))) {
      bad('hwaccel must be an array of strings', options.hwaccel);
    }
    validateBackoff(this.backoff);
    this.inputArgs = {
      kind: this.src.kind,
      transport,
      realtime: options.realtime ?? this.src.kind === 'file',
      hwaccel: options.hwaccel ?? [],
      ioTimeoutMs: this.connectTimeoutMs,
    };
    this.log = (options.log ?? logger()).child({ camera: this.name });
  }

  get state(): CameraState {
    return this.stateValue;
  }

  /** Frames per second ffmpeg delivers for analysis (the camera's analysis rate). */
  get analysisFps(): number {
    return this.fps;
  }

  get stats(): CameraSourceStats {
    return {
      ...this.counters,
      online: this.stateValue === 'online',
      lastFrameAt: this.lastFrameAt,
      lastError: this.lastError,
    };
  }

  /** Start decoding (and reconnecting). Calling it again while running does nothing; after stop() it throws. */
  start(): void {
    if (this.stateValue === 'stopped' || this.stateValue === 'ended') {
      throw new Error(`camera "${this.name}": cannot start again after it ${this.stateValue}; create a new CameraSource`);
    }
    if (this.loopDone) return;
    this.stateValue = 'connecting';
    this.log.info({ url: this.maskedUrl, fps: this.fps, maxWidth: this.maxWidth }, 'camera starting');
    this.loopDone = this.loop().catch((err: unknown) => {
      // Not expected: the loop handles its own failures. Never let a camera crash the process.
      this.lastError = this.scrub(String((err as Error)?.message ?? err));
      this.log.error({ err: this.lastError }, 'camera loop failed');
    });
  }

  /** Kill ffmpeg, stop reconnecting, end every frames() iterator. Resolves when ffmpeg is gone. */
  async stop(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    const wasOnline = this.stateValue === 'online';
    this.stopping = true;
    this.wake?.();
    this.cancelCurrent?.();
    await this.loopDone;
    for (const slot of this.slots) slot.close(false);
    this.slots.clear();
    this.stateValue = 'stopped';
    if (wasOnline) this.safeEmit('offline', { camera: this.name, reason: 'stopped', message: 'stopped' });
    this.log.info('camera stopped');
  }

  /**
   * The newest frame each time the consumer asks: a one-frame slot, never a queue. Frames that arrive while the
   * consumer is busy overwrite the held one (counted in stats.dropped). Ends on stop() or after 'ended' (a frame
   * still held at the end of a file is delivered first).
   */
  frames(): AsyncIterable<TimedFrame> {
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<TimedFrame, undefined> => {
        const slot = new LatestSlot<TimedFrame>();
        if (this.stateValue === 'stopped' || this.stateValue === 'ended' || this.stopping) slot.close(false);
        else this.slots.add(slot);
        return {
          next: () => slot.take(),
          return: async () => {
            slot.close(false);
            this.slots.delete(slot);
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    let first = true;
    while (!this.stopping) {
      if (!first) this.counters.reconnects += 1;
      first = false;
      const outcome = await this.runSession();
      if (this.stopping) break;
      if (outcome.gotFrames) attempt = 0;
      if (outcome.clean && this.playOnce) {
        this.end();
        return;
      }
      if (outcome.clean && !this.src.live) continue; // a file played in a loop: start over at once
      this.goOffline(outcome);
      const delayMs = backoffDelay(attempt, this.backoff);
      attempt += 1;
      this.safeEmit('reconnecting', { camera: this.name, attempt, delayMs });
      this.log.debug({ attempt, delayMs }, 'camera reconnecting');
      await this.sleep(delayMs);
    }
  }

  private async runSession(): Promise<SessionOutcome> {
    const probe = probeVideo(this.src.input, this.inputArgs, this.connectTimeoutMs);
    this.cancelCurrent = () => probe.kill();
    let size: { width: number; height: number };
    let fastStart: boolean;
    try {
      const probed = await probe.result;
      size = analysisSize(probed.stream, this.maxWidth);
      fastStart = probed.headerOnly;
    } catch (err) {
      return { reason: 'probe-failed', message: this.scrub((err as Error).message), clean: false, gotFrames: false };
    } finally {
      this.cancelCurrent = undefined;
    }
    if (this.stopping) return { reason: 'stopped', message: 'stopped', clean: false, gotFrames: false };
    return this.decode(size.width, size.height, fastStart);
  }

  private decode(width: number, height: number, fastStart: boolean): Promise<SessionOutcome> {
    return new Promise<SessionOutcome>((resolve) => {
      const splitter = new FrameSplitter(width, height);
      const tail: string[] = [];
      const startedAt = Date.now();
      let lastFrame = startedAt;
      let gotFrames = false;
      let spawned = false;
      let killReason: 'watchdog' | 'stopped' | undefined;
      let exit: { ok: boolean; message: string } | undefined;
      let outputEnded = false;
      let settled = false;

      const cmd = ffmpeg()
        .input(this.src.input)
        .inputOptions(...ffmpegInputOptions({ ...this.inputArgs, fastStart }), ...DECODER_THREADS)
        .outputOptions(...ffmpegOutputOptions({ fps: this.fps, width, height }));

      const kill = (reason: 'watchdog' | 'stopped'): void => {
        killReason ??= reason;
        if (spawned) cmd.kill('SIGKILL');
      };
      this.cancelCurrent = () => kill('stopped');

      // Connecting and the first keyframe may take longer than the gap between two frames.
      const firstFrameLimit = this.connectTimeoutMs + this.watchdogMs;
      const tick = Math.max(50, Math.min(1000, Math.floor(this.watchdogMs / 4)));
      const watchdog = setInterval(() => {
        const limit = gotFrames ? this.watchdogMs : firstFrameLimit;
        if (Date.now() - lastFrame > limit && killReason === undefined) {
          this.log.debug({ silentMs: Date.now() - lastFrame }, 'watchdog: no frame, killing ffmpeg');
          kill('watchdog');
        }
      }, tick);

      const finish = (): void => {
        if (settled || exit === undefined || !outputEnded) return;
        settled = true;
        clearInterval(watchdog);
        this.cancelCurrent = undefined;
        const detail = tail.length > 0 ? `: ${tail.slice(-3).join(' | ')}` : '';
        if (killReason === 'stopped') {
          resolve({ reason: 'stopped', message: 'stopped', clean: false, gotFrames });
        } else if (killReason === 'watchdog') {
          const limit = gotFrames ? this.watchdogMs : firstFrameLimit;
          const what = gotFrames ? `no frame for ${limit} ms` : `no first frame within ${limit} ms`;
          resolve({ reason: 'watchdog', message: `${what}; ffmpeg killed${detail}`, clean: false, gotFrames });
        } else if (!spawned) {
          resolve({ reason: 'spawn-failed', message: this.scrub(exit.message), clean: false, gotFrames });
        } else if (exit.ok || /Output stream closed/.test(exit.message)) {
          // fluent-ffmpeg kills ffmpeg (and reports "Output stream closed") when it notices the exit more than
          // 20 ms after stdout closed, as happens on a busy event loop: stdout ended, so the stream did end.
          // Treating it as a failure would replay a file source.
          resolve({ reason: 'exited', message: `ffmpeg exited with status 0 (end of stream)${detail}`, clean: true, gotFrames });
        } else {
          resolve({ reason: 'exited', message: tail.length > 0 ? `ffmpeg failed${detail}` : this.scrub(exit.message), clean: false, gotFrames });
        }
      };
      const processEnded = (ok: boolean, message: string): void => {
        if (exit !== undefined) return;
        exit = { ok, message };
        // stdout normally ends with the process; do not wait forever if something still holds the pipe.
        setTimeout(() => {
          outputEnded = true;
          finish();
        }, 2000).unref();
        finish();
      };

      cmd.on('start', (commandLine: string) => {
        spawned = true;
        this.log.debug({ cmd: this.scrub(commandLine) }, 'ffmpeg started');
        if (killReason !== undefined) cmd.kill('SIGKILL');
      });
      cmd.on('stderr', (line: string) => {
        const clean = this.scrub(line).trim();
        if (clean === '') return;
        tail.push(clean);
        if (tail.length > STDERR_TAIL) tail.shift();
        this.log.debug({ ffmpeg: clean }, 'ffmpeg stderr');
      });
      cmd.on('end', () => processEnded(true, 'ffmpeg exited with status 0'));
      cmd.on('error', (err: Error) => processEnded(false, this.scrub(err.message.split('\n')[0] ?? '')));

      const out = cmd.pipe() as PassThrough;
      out.on('data', (chunk: Buffer) => {
        if (killReason !== undefined) return;
        splitter.push(chunk, (frame) => {
          lastFrame = Date.now();
          gotFrames = true;
          this.deliver(frame, lastFrame);
        });
      });
      const outputDone = (): void => {
        outputEnded = true;
        finish();
      };
      out.on('end', outputDone);
      out.on('close', outputDone);
      out.on('error', outputDone);
    });
  }

  private deliver(frame: Frame, ts: number): void {
    this.seq += 1;
    this.counters.frames += 1;
    this.lastFrameAt = ts;
    const timed: TimedFrame = { width: frame.width, height: frame.height, data: frame.data, camera: this.name, seq: this.seq, ts };
    if (this.stateValue !== 'online') {
      this.stateValue = 'online';
      this.log.info({ width: frame.width, height: frame.height }, 'camera online');
      this.safeEmit('online', { camera: this.name, width: frame.width, height: frame.height });
    }
    for (const slot of this.slots) if (slot.put(timed)) this.counters.dropped += 1;
    this.safeEmit('frame', timed);
  }

  private goOffline(outcome: SessionOutcome): void {
    this.lastError = outcome.message;
    if (this.stateValue === 'offline') {
      this.log.debug({ reason: outcome.reason, err: outcome.message }, 'camera still offline');
      return;
    }
    this.stateValue = 'offline';
    this.log.warn({ reason: outcome.reason, err: outcome.message }, 'camera offline');
    this.safeEmit('offline', { camera: this.name, reason: outcome.reason, message: outcome.message });
  }

  private end(): void {
    this.stateValue = 'ended';
    for (const slot of this.slots) slot.close(true);
    this.slots.clear();
    this.log.info({ frames: this.counters.frames }, 'camera source ended');
    this.safeEmit('ended', { camera: this.name });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** A listener that throws must not break decoding (or the reconnect loop). */
  private safeEmit<K extends keyof CameraSourceEvents>(event: K, ...args: CameraSourceEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: CameraSourceEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.log.error({ event, err: this.scrub(String((err as Error)?.message ?? err)) }, 'camera event listener threw');
    }
  }

  private scrub(text: string): string {
    return scrubSecrets(text, this.rawUrl);
  }
}
