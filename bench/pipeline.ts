/**
 * `npm run bench:pipeline`: the speed of the live pipeline, in two parts, one process.
 *
 * (a) Throughput of ingest + detect + align, in analysed frames per CPU-second ("per core": on shared cores,
 *     frames per second of CPU actually used is the honest figure, whatever else runs on the machine). Sources:
 *     1280x720 and 1920x1080 25 fps H.264 (made by ffmpeg from face-api's six demo photos, slowly zooming, so
 *     there are faces to find and motion to decode). Each frame is decoded by the real ingest path
 *     (CameraSource, realtime:false, at the runtime's default camera maxWidth 1280) and analysed by analyzeFrame
 *     with the detector at maxWidth 640, for YuNet (skipped with a message when its model file is absent) and the
 *     default detector (MTCNN), in three configurations: every frame of a 4 s source analysed with the runtime's
 *     detection schedule (the headline: the analysis rate equals the source rate, one decode per analysed frame;
 *     the whole frame searched every fullDetectionIntervalMs, regions around the faces seen in between, as a camera
 *     at 25 fps runs), the same with every frame searched whole (the schedule off), and a 25 fps camera analysed at
 *     the runtime's default 5 fps on a 10 s source (ffmpeg still decodes all 25 and passes 5).
 *     Decoded frames wait in a list (none dropped), so each analysed frame is paid for exactly once. When more
 *     than BACKLOG_HIGH frames wait, ffmpeg is paused (SIGSTOP) until the list is down to BACKLOG_LOW (SIGCONT):
 *     left alone, a file decoded as fast as possible runs ahead of the analysis by a hundred frames and more
 *     (137 x 2.7 MB measured with YuNet), a backlog no live pipeline holds (it keeps the newest frame only),
 *     whose memory churn and garbage collections cost ~10 ms per frame. Pausing a process costs it no CPU.
 *     CPU = this process (process.cpuUsage(): every thread, OpenCV's, onnxruntime's worker and libuv's included)
 *     + the ffprobe/ffmpeg children (cutime+cstime of /proc/self/stat once they have exited and been reaped, and
 *     /proc/<pid>/stat of the live ffmpeg at the first frame). Figures are steady state: from the arrival of the
 *     first frame to the end of the source, as for a camera that runs for hours; the once-per-connection
 *     ffprobe + ffmpeg start-up is printed apart, and a "with start-up" figure over the short source next to it.
 *     Where the CPU goes, same process, same sources: decode only (CameraSource, no analysis) in both
 *     configurations (ffmpeg and this process apart); the detector call alone and analyzeFrame alone on
 *     pre-decoded frames; for YuNet its network alone on a ready input, run as the detector runs it.
 *
 * (b) Frame-to-alert latency in embedded mode: EmbeddedRuntime in this process on a 1280x720 slideshow of the
 *     same photos (each 1 s, looped) read at its native rate (realtime file source, like a camera) at the
 *     runtime's default 5 fps, a gallery enrolled with the CLI (`facestream enroll`) from face crops of the
 *     photos, a local signed-webhook receiver (test/support/webhook-receiver.ts) and a 1 s cooldown, so every
 *     showing of a photo raises alerts. Per alert, exact: frame ts (TimedFrame.ts, when the frame's last byte
 *     arrived) → alert durably spooled, and → webhook received (timestamped by the receiver). The runtime's own
 *     facestream_frame_to_alert_seconds histogram is printed next to them.
 *
 *   node dist/bench/pipeline.js [--model-dir DIR] [--seconds 10] [--every-frame-seconds 4] [--latency-seconds 30]
 *        [--latency-detector mtcnn|yunet] [--camera-max-width 1280] [--work-dir DIR] [--skip-throughput] [--skip-latency]
 *
 * Generated videos are cached in --work-dir (default <tmp>/facestream-bench-pipeline); the gallery store and
 * spool are made in a fresh temporary directory and removed at the end. Speed is not a test: nothing here
 * fails on a missed target; each figure is marked pass or FAIL against its target.
 */
import { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pino from 'pino';
import { ConfigSchema, type Config } from '../src/config/schema';
import { analyzeFrame } from '../src/detect/analyze';
import { frameToMat, matToFrame } from '../src/detect/cvmat';
import { createDetector, type FaceDetector } from '../src/detect/detector';
import { createNetRunner } from '../src/detect/net-runner';
import { DetectionSchedule, fullEveryFrames } from '../src/detect/schedule';
import { packYunetInput, padToDivisor, YUNET_SYMBOLIC_DIMS } from '../src/detect/yunet';
import type { Frame } from '../src/image/frame';
import { CameraSource } from '../src/ingest/camera-source';
import type { EmbedderDescriptor } from '../src/models/descriptor';
import { ModelRegistry, type ResolvedDetector } from '../src/models/registry';
import { EmbeddedRuntime } from '../src/runtime/embedded';
import { cv } from '../src/util/cv';
import { projectRoot } from '../src/util/paths';
import { resolveDetector } from './models';
import { startWebhookReceiver } from '../test/support/webhook-receiver';

const TARGET_YUNET = 40;
const TARGET_DEFAULT = 20;
const TARGET_P50_MS = 250;
const TARGET_P99_MS = 1000;
const SOURCE_FPS = 25;
/** ffmpeg is paused while this many decoded frames wait for analysis, and resumed at BACKLOG_LOW (see (a)). */
const BACKLOG_HIGH = 4;
const BACKLOG_LOW = 1;
const SAMPLES = [1, 2, 3, 4, 5, 6].map((i) => `sample${i}.jpg`);

interface Args {
  shared: string;
  modelDir?: string;
  seconds: string;
  everyFrameSeconds: string;
  latencySeconds: string;
  latencyDetector: string;
  cameraMaxWidth: string;
  workDir: string;
  skipThroughput?: boolean;
  skipLatency?: boolean;
}

// ---- CPU accounting ------------------------------------------------------------------------------------

/** Clock ticks per second of /proc times. */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds of this process's children that have exited and been reaped (getrusage(RUSAGE_CHILDREN) as
 * /proc shows it: cutime + cstime). Node reaps a child before it emits 'exit', so after a CameraSource has
 * ended its ffprobe and ffmpeg are in here. null where /proc is not available.
 */
function childrenCpuSec(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
    return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
  } catch {
    return null;
  }
}

interface CpuMark {
  self: NodeJS.CpuUsage;
  children: number | null;
  wall: number;
}
interface CpuSpent {
  /** This process, all threads. */
  selfSec: number;
  /** Exited children (ffprobe, ffmpeg); 0 when unknown. */
  childSec: number;
  cpuSec: number;
  wallSec: number;
}

/** CPU seconds of this process's live (not yet reaped) children, from /proc/<pid>/stat; null where unknown. */
function liveChildrenCpuSec(): number | null {
  const pids = childPids();
  if (pids === null) return null;
  let sum = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      sum += (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
    } catch {
      // exited between the listing and the read: its time is in cutime/cstime once reaped
    }
  }
  return sum;
}

function cpuMark(): CpuMark {
  return { self: process.cpuUsage(), children: childrenCpuSec(), wall: performance.now() };
}

/**
 * A mark taken while ffmpeg runs (at the first frame): the live children's CPU so far counts as spent before the
 * mark, so that cpuSince() of it is what the process and its children used from then on, once they have exited.
 */
function cpuMarkWithLiveChildren(): CpuMark {
  const m = cpuMark();
  const live = liveChildrenCpuSec();
  return { ...m, children: m.children !== null && live !== null ? m.children + live : null };
}

function cpuSince(m: CpuMark): CpuSpent {
  const self = process.cpuUsage(m.self);
  const selfSec = (self.user + self.system) / 1e6;
  const now = childrenCpuSec();
  const childSec = now !== null && m.children !== null ? now - m.children : 0;
  return { selfSec, childSec, cpuSec: selfSec + childSec, wallSec: (performance.now() - m.wall) / 1000 };
}

// ---- test sources --------------------------------------------------------------------------------------

function ffmpegRun(args: string[]): void {
  execFileSync('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * A width x height, 25 fps H.264 slideshow of the six face-api photos (fit and padded, each shown 1 s while
 * slowly zooming in: real faces to detect, motion to decode), looped to `seconds`. Cached by size and length.
 */
function slideshow(workDir: string, width: number, height: number, seconds: number): string {
  const out = path.join(workDir, `slideshow-${width}x${height}-${seconds}s.mp4`);
  if (existsSync(out)) return out;
  const clip = path.join(workDir, `slideshow-${width}x${height}-once.mp4`);
  if (!existsSync(clip)) {
    const demo = path.join(projectRoot(), 'node_modules', '@vladmandic', 'face-api', 'demo');
    const inputs = SAMPLES.flatMap((s) => ['-loop', '1', '-framerate', String(SOURCE_FPS), '-t', '1', '-i', path.join(demo, s)]);
    const chains = SAMPLES.map(
      (_, i) =>
        `[${i}:v]scale=${width}:${height}:force_original_aspect_ratio=decrease,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,setsar=1,` +
        `zoompan=z='1+0.0025*on':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s=${width}x${height}:fps=${SOURCE_FPS}[v${i}]`,
    );
    const filter = `${chains.join(';')};${SAMPLES.map((_, i) => `[v${i}]`).join('')}concat=n=${SAMPLES.length}:v=1:a=0[out]`;
    // Camera-like stream: main profile, a keyframe every 2 s, bitrate capped (2 Mb/s at 720p, 4 Mb/s at 1080p).
    const rate = height >= 1080 ? '4M' : '2M';
    const tmp = `${clip}.part.mp4`;
    ffmpegRun([...inputs, '-filter_complex', filter, '-map', '[out]', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main',
      '-pix_fmt', 'yuv420p', '-g', String(2 * SOURCE_FPS), '-crf', '23', '-maxrate', rate, '-bufsize', rate, tmp]);
    renameSync(tmp, clip);
  }
  const tmp = `${out}.part.mp4`;
  ffmpegRun(['-stream_loop', '-1', '-i', clip, '-t', String(seconds), '-c', 'copy', tmp]);
  renameSync(tmp, out);
  return out;
}

// ---- (a) throughput ------------------------------------------------------------------------------------

const quietLog = pino({ level: 'warn' }, pino.destination({ fd: 2, sync: true }));

function source(file: string, fps: number, maxWidth: number): CameraSource {
  return new CameraSource({ name: 'bench', url: file, fps, maxWidth, realtime: false, playOnce: true, log: quietLog });
}

/**
 * Resolves when the source has ended (ffmpeg exited), true when that end was reported as a failure only
 * because fluent-ffmpeg saw stdout close more than 20 ms before the process exit (it then emits "Output stream
 * closed" and kills ffmpeg, which had already finished: every frame was delivered). CameraSource takes that for
 * a failed session and would play the file again; the caller stops the source instead. Rejects on other failures.
 */
function ended(src: CameraSource): Promise<boolean> {
  return new Promise((resolve, reject) => {
    src.once('ended', () => resolve(false));
    src.once('offline', (i) => {
      if (/Output stream closed/.test(i.message)) resolve(true);
      else reject(new Error(`source went offline (${i.reason}): ${i.message}`));
    });
  });
}

/** Pids of this process's children (zombies included, until reaped); null where /proc cannot tell. */
function childPids(): number[] | null {
  try {
    return readdirSync('/proc/self/task').flatMap((tid) =>
      readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return null;
  }
}

/** Waits (at most 3 s) until every child has been reaped, so that its CPU time is in cutime/cstime. */
async function childrenReaped(): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const pids = childPids();
    if (pids === null || pids.length === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sources whose end came as fluent-ffmpeg's "Output stream closed" (see ended()). */
let lateExits = 0;

interface DecodeResult {
  frames: number;
  cpu: CpuSpent;
  /** From the first frame on (frames - 1 of them): no ffprobe, no ffmpeg start-up, no first keyframe wait. */
  steady: CpuSpent;
  size: string;
  kept: Frame[];
}

/** Decode only: every frame the source delivers is counted (and some kept for the detector baseline). */
async function decodeOnly(file: string, fps: number, maxWidth: number, keep = 0): Promise<DecodeResult> {
  const src = source(file, fps, maxWidth);
  const kept: Frame[] = [];
  let frames = 0;
  let size = '';
  let first: CpuMark | undefined;
  src.on('frame', (f) => {
    frames += 1;
    if (frames === 1) first = cpuMarkWithLiveChildren();
    size = `${f.width}x${f.height}`;
    if (keep > 0 && frames % 4 === 1 && kept.length < keep) kept.push(f);
  });
  const done = ended(src);
  const m = cpuMark();
  src.start();
  try {
    if (await done) lateExits += 1;
  } finally {
    await src.stop();
  }
  await childrenReaped();
  return { frames, cpu: cpuSince(m), steady: cpuSince(first ?? m), size, kept };
}

interface PipelineResult {
  frames: number;
  faces: number;
  cpu: CpuSpent;
  /** From the arrival of the first frame on: frames - 1 analysed frames (see DecodeResult.steady). */
  steady: CpuSpent;
  maxBacklog: number;
}

/**
 * The real ingest path into detect+align: every decoded frame is analysed (decoding runs ahead; frames wait in a
 * list, so none is dropped and each analysed frame costs exactly one decode).
 */
async function ingestDetectAlign(file: string, fps: number, maxWidth: number, detector: FaceDetector, embedder: EmbedderDescriptor): Promise<PipelineResult> {
  const src = source(file, fps, maxWidth);
  const queue: Frame[] = [];
  let finished = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let maxBacklog = 0;
  let first: CpuMark | undefined;
  let paused: number[] = [];
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // already exited
      }
    }
  };
  src.on('frame', (f) => {
    first ??= cpuMarkWithLiveChildren();
    queue.push(f);
    maxBacklog = Math.max(maxBacklog, queue.length);
    if (queue.length >= BACKLOG_HIGH && paused.length === 0) {
      paused = childPids() ?? [];
      signal(paused, 'SIGSTOP');
    }
    wake?.();
  });
  ended(src).then(
    (late) => {
      if (late) {
        lateExits += 1;
        void src.stop(); // at once: CameraSource would otherwise play the file again after its backoff
      }
      finished = true;
      wake?.();
    },
    (err: Error) => {
      failure = err;
      finished = true;
      wake?.();
    },
  );
  let frames = 0;
  let faces = 0;
  const m = cpuMark();
  src.start();
  for (;;) {
    const frame = queue.shift();
    if (!frame) {
      if (finished) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
      continue;
    }
    if (paused.length > 0 && queue.length <= BACKLOG_LOW) {
      signal(paused, 'SIGCONT');
      paused = [];
    }
    frames += 1;
    faces += (await analyzeFrame(detector, frame, embedder)).length;
  }
  signal(paused, 'SIGCONT');
  await src.stop();
  await childrenReaped();
  const cpu = cpuSince(m);
  const steady = cpuSince(first ?? m);
  if (failure) throw failure;
  return { frames, faces, cpu, steady, maxBacklog };
}

/** `run` alone on frames already decoded (this process only: no child): the detector, or analyzeFrame. */
async function onDecoded(run: (f: Frame) => Promise<unknown[]>, frames: Frame[]): Promise<{ calls: number; faces: number; cpu: CpuSpent }> {
  let calls = 0;
  let faces = 0;
  const m = cpuMark();
  for (const f of frames) {
    faces += (await run(f)).length;
    calls += 1;
  }
  return { calls, faces, cpu: cpuSince(m) };
}

/**
 * YuNet's network alone, run as the detector runs it (its descriptor's runtime, one thread for onnxruntime) on a
 * ready input of the analysis size: no resize, packing or post-processing.
 */
async function bareYunetForward(resolved: ResolvedDetector, frame: Frame, analysisWidth: number, calls: number): Promise<{ calls: number; cpu: CpuSpent; input: string; runtime: string }> {
  const c = cv();
  const s = Math.min(1, analysisWidth / frame.width);
  const w = Math.round(frame.width * s);
  const h = Math.round(frame.height * s);
  const small = frameToMat(frame).resize(h, w, 0, 0, c.INTER_AREA);
  const pw = padToDivisor(w);
  const ph = padToDivisor(h);
  const input = { data: packYunetInput(small, pw, ph, new Float32Array(3 * pw * ph)), dims: [1, 3, ph, pw] };
  const runtime = resolved.descriptor.runtime;
  const net = createNetRunner(runtime, resolved.paths.model, { symbolicDims: YUNET_SYMBOLIC_DIMS });
  await net.run(input, ['loc', 'conf', 'iou']); // warm-up
  const m = cpuMark();
  for (let i = 0; i < calls; i++) await net.run(input, ['loc', 'conf', 'iou']);
  const cpu = cpuSince(m);
  net.release();
  return { calls, cpu, input: `${pw}x${ph}`, runtime };
}

interface RunFigures {
  frames: number;
  facesPerFrame: number;
  /**
   * Analysed frames per CPU-second (this process + ffmpeg) in steady state: from the arrival of the first frame to
   * the end, i.e. without the once-per-session ffprobe run, ffmpeg start-up and wait for the first frame.
   */
  perCpuSec: number;
  /** The same over the whole session (ffprobe and ffmpeg start-up included). */
  perCpuSecWithStart: number;
  /** Steady-state CPU ms per analysed frame. */
  cpuMsPerFrame: number;
  /** The ffmpeg part of cpuMsPerFrame. */
  ffmpegCpuMsPerFrame: number;
  /** CPU ms of the session before its first frame (ffprobe, ffmpeg start-up, decoding up to the first frame). */
  startCpuMs: number;
  wallFps: number;
  /** Most frames waiting for analysis at once (decoding runs ahead). */
  maxBacklog: number;
  pass: boolean;
}

interface ThroughputRow {
  source: string;
  decodedAs: string;
  detector: string;
  target: number;
  /** Every frame of the 25 fps source analysed, each searched whole (the schedule off): one decode per analysed frame. */
  everyFrame?: RunFigures;
  /**
   * Every frame analysed with the runtime's detection schedule (src/detect/schedule.ts): the whole frame searched
   * every `fullEvery` frames (detector.fullDetectionIntervalMs at 25 fps), only around the faces seen in between.
   */
  everyFrameScheduled?: RunFigures & { fullEvery: number; full: number; regions: number; skipped: number };
  /** The runtime's default analysis rate (5 fps) of the 25 fps source: ffmpeg decodes 5 frames per analysed one. */
  defaultRate?: RunFigures;
  /** Decode only (CameraSource, nothing analysed), steady state, CPU ms per delivered frame: all, and ffmpeg's part. */
  decodeOnlyEveryFrameCpuMsPerFrame?: number;
  decodeOnlyEveryFrameFfmpegCpuMsPerFrame?: number;
  decodeOnlyDefaultRateCpuMsPerFrame?: number;
  decodeOnlyDefaultRateFfmpegCpuMsPerFrame?: number;
  /** CPU ms of a decode-only session before its first frame (ffprobe + ffmpeg start-up + first frame). */
  decodeSessionStartCpuMs?: number;
  detectorAlonePerCpuSec?: number;
  detectorAloneCpuMsPerFrame?: number;
  /** analyzeFrame (detect + align + quality) alone on pre-decoded frames. */
  analyzeAloneCpuMsPerFrame?: number;
  /** everyFrame.perCpuSec / detectorAlonePerCpuSec. */
  ratioPipelineToDetector?: number;
  bareForwardPerCpuSec?: number;
  bareForwardRuntime?: string;
  note?: string;
}

function figures(p: PipelineResult, target: number): RunFigures {
  // Steady state covers the analysis of every frame but the decoding of all frames but the first: divide by
  // frames - 1 (slightly pessimistic: one analysis too many per interval).
  const n = Math.max(1, p.frames - 1);
  const perCpuSec = n / p.steady.cpuSec;
  return {
    frames: p.frames,
    facesPerFrame: p.faces / p.frames,
    perCpuSec,
    perCpuSecWithStart: p.frames / p.cpu.cpuSec,
    cpuMsPerFrame: (p.steady.cpuSec * 1000) / n,
    ffmpegCpuMsPerFrame: (p.steady.childSec * 1000) / n,
    startCpuMs: (p.cpu.cpuSec - p.steady.cpuSec) * 1000,
    wallFps: p.frames / p.cpu.wallSec,
    maxBacklog: p.maxBacklog,
    pass: perCpuSec >= target,
  };
}

const steadyMsPerFrame = (d: DecodeResult, part: 'cpuSec' | 'childSec') => (d.steady[part] * 1000) / Math.max(1, d.frames - 1);

async function throughput(args: Args, modelDir: string | undefined, defaults: Config): Promise<ThroughputRow[]> {
  const cameraMaxWidth = Number(args.cameraMaxWidth);
  const defaultFps = defaults.cameras[0].fps;
  const analysisWidth = defaults.detector.maxWidth;
  const embedder = new ModelRegistry({}).embedder(defaults.embedder.name).descriptor;
  const defaultName = defaults.detector.name;
  const detectors = ['yunet', defaultName].filter((n, i, a) => a.indexOf(n) === i);
  const rows: ThroughputRow[] = [];
  const say = (text: string) => process.stderr.write(`[bench:pipeline] ${text}\n`);

  for (const [width, height] of [[1280, 720], [1920, 1080]] as const) {
    const label = `${height}p`;
    say(`${width}x${height}: making the sources (cached in ${args.workDir}) ...`);
    const long = slideshow(args.workDir, width, height, Number(args.seconds));
    const short = slideshow(args.workDir, width, height, Number(args.everyFrameSeconds));
    // Baselines: decode only, every frame (as analysed below) and at the runtime's default rate.
    const dec = await decodeOnly(short, SOURCE_FPS, cameraMaxWidth, 25);
    const decDefault = await decodeOnly(long, defaultFps, cameraMaxWidth);
    say(`${label}: decode only: ${steadyMsPerFrame(dec, 'cpuSec').toFixed(1)} CPU-ms per frame every frame (${dec.frames} frames, ${dec.size}); ` +
      `${steadyMsPerFrame(decDefault, 'cpuSec').toFixed(1)} CPU-ms per frame at ${defaultFps} fps`);

    for (const name of detectors) {
      const target = name === 'yunet' ? TARGET_YUNET : TARGET_DEFAULT;
      const row: ThroughputRow = { source: label, decodedAs: dec.size, detector: name === defaultName ? `${name} (default)` : name, target };
      rows.push(row);
      const resolved = resolveDetector(name, modelDir);
      if (typeof resolved === 'string') {
        row.note = `skipped: ${resolved}`;
        say(`${name} skipped: ${resolved}`);
        continue;
      }
      const detector = createDetector(resolved, { maxWidth: analysisWidth, minFaceSize: defaults.detector.minFaceSize });
      await detector.detect(dec.kept[0]); // warm-up (the first dnn run allocates)
      say(`${label} ${name}: ingest+detect+align, every frame ...`);
      const all = await ingestDetectAlign(short, SOURCE_FPS, cameraMaxWidth, detector, embedder);
      const fullEvery = fullEveryFrames(defaults.detector.fullDetectionIntervalMs, SOURCE_FPS);
      say(`${label} ${name}: ingest+detect+align, every frame, whole-frame detection every ${fullEvery} frames ...`);
      const scheduled = new DetectionSchedule(detector, { fullEvery });
      const sched = await ingestDetectAlign(short, SOURCE_FPS, cameraMaxWidth, scheduled, embedder);
      say(`${label} ${name}: ingest+detect+align, ${defaultFps} of ${SOURCE_FPS} fps ...`);
      const some = await ingestDetectAlign(long, defaultFps, cameraMaxWidth, detector, embedder);
      const alone = await onDecoded((f) => detector.detect(f), dec.kept);
      const analysed = await onDecoded((f) => analyzeFrame(detector, f, embedder), dec.kept);
      const bare = name === 'yunet' ? await bareYunetForward(resolved, dec.kept[0], analysisWidth, 30) : undefined;
      await detector.close?.();
      row.everyFrame = figures(all, target);
      row.everyFrameScheduled = { ...figures(sched, target), fullEvery, ...scheduled.stats };
      row.defaultRate = figures(some, target);
      row.decodeOnlyEveryFrameCpuMsPerFrame = steadyMsPerFrame(dec, 'cpuSec');
      row.decodeOnlyEveryFrameFfmpegCpuMsPerFrame = steadyMsPerFrame(dec, 'childSec');
      row.decodeOnlyDefaultRateCpuMsPerFrame = steadyMsPerFrame(decDefault, 'cpuSec');
      row.decodeOnlyDefaultRateFfmpegCpuMsPerFrame = steadyMsPerFrame(decDefault, 'childSec');
      row.decodeSessionStartCpuMs = (dec.cpu.cpuSec - dec.steady.cpuSec) * 1000;
      row.detectorAlonePerCpuSec = alone.calls / alone.cpu.cpuSec;
      row.detectorAloneCpuMsPerFrame = (alone.cpu.cpuSec * 1000) / alone.calls;
      row.ratioPipelineToDetector = row.everyFrame.perCpuSec / row.detectorAlonePerCpuSec;
      row.analyzeAloneCpuMsPerFrame = (analysed.cpu.cpuSec * 1000) / analysed.calls;
      row.bareForwardPerCpuSec = bare ? bare.calls / bare.cpu.cpuSec : undefined;
      row.bareForwardRuntime = bare ? `${bare.runtime}, ${bare.input}` : undefined;
      say(`${label} ${name}: ${row.everyFrameScheduled.perCpuSec.toFixed(1)} frames/CPU-s every frame (whole frame every frame ${row.everyFrame.perCpuSec.toFixed(1)}), ${row.defaultRate.perCpuSec.toFixed(1)} at ${defaultFps} fps ` +
        `(${row.everyFrame.facesPerFrame.toFixed(1)} faces/frame)`);
    }
  }
  return rows;
}

// ---- (b) frame-to-alert latency ------------------------------------------------------------------------

/** Face crops of the demo photos, one folder per face (identity), for `facestream enroll`. */
async function galleryFromPhotos(dir: string, detector: FaceDetector): Promise<number> {
  const c = cv();
  const demo = path.join(projectRoot(), 'node_modules', '@vladmandic', 'face-api', 'demo');
  let n = 0;
  for (const [i, sample] of SAMPLES.entries()) {
    const mat = c.imread(path.join(demo, sample));
    const faces = await detector.detect(matToFrame(mat));
    faces.forEach((f, k) => {
      if (Math.min(f.box.width, f.box.height) < 40) return;
      const mx = f.box.width * 0.5;
      const my = f.box.height * 0.5;
      const x = Math.max(0, Math.floor(f.box.x - mx));
      const y = Math.max(0, Math.floor(f.box.y - my));
      const x2 = Math.min(mat.cols, Math.ceil(f.box.x + f.box.width + mx));
      const y2 = Math.min(mat.rows, Math.ceil(f.box.y + f.box.height + my));
      const idDir = path.join(dir, `photo${i + 1}-face${k + 1}`);
      mkdirSync(idDir, { recursive: true });
      c.imwrite(path.join(idDir, 'face.jpg'), mat.getRegion(new c.Rect(x, y, x2 - x, y2 - y)));
      n += 1;
    });
  }
  return n;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

interface Quantiles {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface LatencyResult {
  detector: string;
  cameraFps: number;
  videoSeconds: number;
  identities: number;
  framesAnalysed: number;
  framesDropped: number;
  alertsRaised: number;
  alertsCooldown: number;
  webhooksReceived: number;
  cpuCoresBusy: number;
  detectMsMean: number;
  embedBatches: number;
  embedBatchMsMean: number;
  embeddings: number;
  spool: Quantiles;
  webhook: Quantiles;
  /** Alert spooled → webhook received (delivery alone). */
  delivery: Quantiles;
  /** Event-loop delay while the runtime ran (monitorEventLoopDelay, 10 ms resolution). */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** 1-minute load average of the machine at the start and end of the run (other processes included). */
  loadAverage: [number, number];
  histogram: { count: number; meanMs: number; p50UpperBoundMs: number; p99UpperBoundMs: number };
  pass: boolean;
}

async function latency(args: Args, modelDir: string | undefined): Promise<LatencyResult | string> {
  const seconds = Number(args.latencySeconds);
  const detectorName = args.latencyDetector;
  const resolved = resolveDetector(detectorName, modelDir);
  if (typeof resolved === 'string') return `skipped: ${resolved}`;
  const file = slideshow(args.workDir, 1280, 720, seconds);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facestream-bench-latency-'));
  try {
    const galleryDir = path.join(tmp, 'gallery');
    const store = path.join(tmp, 'store');
    const crops = await galleryFromPhotos(galleryDir, createDetector(resolved, { maxWidth: 640 }));
    process.stderr.write(`[bench:pipeline] latency: enrolling ${crops} face crops with the CLI ...\n`);
    const cli = path.join(projectRoot(), 'dist', 'src', 'cli', 'main.js');
    const enrolArgs = [cli, 'enroll', '--gallery', galleryDir, '--store', store, '--several-faces', 'largest', '--detector', detectorName, '--json'];
    if (modelDir && existsSync(modelDir)) enrolArgs.push('--model-dir', modelDir);
    const enrolled = JSON.parse(
      execFileSync(process.execPath, enrolArgs, { env: { ...process.env, FACESTREAM_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'ignore'], timeout: 180_000 }).toString(),
    ) as { identities: { status: string }[] };
    const identities = enrolled.identities.filter((i) => i.status === 'enrolled').length;

    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const receiver = await startWebhookReceiver({ secret });
    const config = ConfigSchema.parse({
      cameras: [{ name: 'slideshow', url: file }],
      detector: { name: detectorName },
      ...(modelDir && existsSync(modelDir) ? { modelDir } : {}),
      store,
      alerts: { webhooks: [{ url: receiver.url, secret }], cooldownSec: 1, spoolDir: path.join(tmp, 'spool') },
      http: { port: 0, host: '127.0.0.1' },
    });

    // Exact per-alert timestamps. The runtime observes frame_to_alert (Date.now() - frame ts) right after the
    // alert is spooled and, in the same synchronous step, logs "watchlist alert" with its id: the observation
    // is paired with the next such log line (a duplicate decision logs without an observation and is skipped).
    const byId = new Map<string, { frameTs: number; spooledAt: number }>();
    let pendingObservation: { frameTs: number; spooledAt: number } | undefined;
    const sink = {
      write(line: string): void {
        const rec = JSON.parse(line) as { msg?: string; alertId?: string; level?: number };
        if (rec.msg === 'watchlist alert' && rec.alertId && pendingObservation) byId.set(rec.alertId, pendingObservation);
        if (rec.msg === 'watchlist alert') pendingObservation = undefined;
        if ((rec.level ?? 0) >= 40) process.stderr.write(line);
      },
    };
    const runtime = new EmbeddedRuntime(config, { exitWhenSourcesEnd: true, log: pino({ level: 'info' }, sink) });
    const hist = runtime.metrics.frameToAlertSeconds;
    const observe = hist.observe.bind(hist) as (...a: unknown[]) => void;
    (hist as unknown as { observe: (...a: unknown[]) => void }).observe = (...a: unknown[]) => {
      const seconds = (typeof a[0] === 'number' ? a[0] : a[1]) as number;
      const spooledAt = Date.now();
      pendingObservation = { frameTs: spooledAt - seconds * 1000, spooledAt };
      observe(...a);
    };

    process.stderr.write(`[bench:pipeline] latency: embedded runtime on a ${seconds} s 1280x720 slideshow at native rate ...\n`);
    await runtime.start();
    const load0 = os.loadavg()[0];
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const m = cpuMark();
    // A file that ends with fluent-ffmpeg's "Output stream closed" is played again by CameraSource (see ended());
    // do not let that run on for ever.
    const guard = setTimeout(() => {
      process.stderr.write('[bench:pipeline] latency: the source did not end in time (played again?); stopping the runtime\n');
      void runtime.stop();
    }, (seconds * 2 + 60) * 1000);
    await runtime.runToEnd();
    clearTimeout(guard);
    const cpu = cpuSince(m);
    loopDelay.disable();
    const load1 = os.loadavg()[0];
    const json = await runtime.metrics.registry.getMetricsAsJSON();
    await runtime.stop();
    await receiver.close();

    const metric = (name: string) => json.find((x) => x.name === `facestream_${name}`);
    const sum = (name: string, pred: (labels: Record<string, string | number>) => boolean = () => true) =>
      (metric(name)?.values ?? []).filter((v) => pred(v.labels as Record<string, string | number>)).reduce((a, v) => a + v.value, 0);
    const histValues = (metric('frame_to_alert_seconds')?.values ?? []) as { value: number; labels: Record<string, string | number>; metricName?: string }[];
    const hCount = histValues.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const hSum = histValues.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    const buckets = histValues.filter((v) => v.metricName?.endsWith('_bucket')).map((v) => ({ le: Number(v.labels.le), n: v.value }));
    const bucketQuantile = (q: number) => (buckets.find((b) => b.n >= q * hCount)?.le ?? NaN) * 1000;
    const stage = (metric('stage_duration_seconds')?.values ?? []) as { value: number; labels: Record<string, string | number>; metricName?: string }[];
    const dCount = stage.find((v) => v.labels.stage === 'detect' && v.metricName?.endsWith('_count'))?.value ?? 0;
    const dSum = stage.find((v) => v.labels.stage === 'detect' && v.metricName?.endsWith('_sum'))?.value ?? 0;
    const eCount = stage.find((v) => v.labels.stage === 'embed' && v.metricName?.endsWith('_count'))?.value ?? 0;
    const eSum = stage.find((v) => v.labels.stage === 'embed' && v.metricName?.endsWith('_sum'))?.value ?? 0;

    const spoolMs = [...byId.values()].map((v) => v.spooledAt - v.frameTs).sort((a, b) => a - b);
    const firstArrival = new Map<string, number>();
    for (const r of receiver.requests) if (r.status === 200 && r.id && !firstArrival.has(r.id)) firstArrival.set(r.id, r.at);
    const arrived = [...firstArrival.entries()].filter(([id]) => byId.has(id)).map(([id, at]) => ({ at, ...byId.get(id)! }));
    const hookMs = arrived.map((a) => a.at - a.frameTs).sort((a, b) => a - b);
    const deliveryMs = arrived.map((a) => a.at - a.spooledAt).sort((a, b) => a - b);
    const stats = (v: number[]) => ({ n: v.length, p50Ms: percentile(v, 0.5), p99Ms: percentile(v, 0.99), maxMs: v.length ? v[v.length - 1] : NaN });
    const spool = stats(spoolMs);
    const webhook = stats(hookMs);
    return {
      detector: detectorName,
      cameraFps: config.cameras[0].fps,
      videoSeconds: seconds,
      identities,
      framesAnalysed: sum('frames_total'),
      framesDropped: sum('frames_dropped_total'),
      alertsRaised: sum('alerts_total', (l) => l.outcome === 'raised'),
      alertsCooldown: sum('alerts_total', (l) => l.outcome === 'cooldown'),
      webhooksReceived: receiver.alerts.size,
      cpuCoresBusy: cpu.selfSec / cpu.wallSec,
      detectMsMean: dCount ? (dSum / dCount) * 1000 : NaN,
      embedBatches: eCount,
      embedBatchMsMean: eCount ? (eSum / eCount) * 1000 : NaN,
      embeddings: sum('embeddings_total'),
      spool,
      webhook,
      delivery: stats(deliveryMs),
      eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
      loadAverage: [load0, load1],
      histogram: { count: hCount, meanMs: hCount ? (hSum / hCount) * 1000 : NaN, p50UpperBoundMs: bucketQuantile(0.5), p99UpperBoundMs: bucketQuantile(0.99) },
      pass: webhook.n > 0 && webhook.p50Ms <= TARGET_P50_MS && webhook.p99Ms <= TARGET_P99_MS && spool.p50Ms <= TARGET_P50_MS && spool.p99Ms <= TARGET_P99_MS,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- output --------------------------------------------------------------------------------------------

const fmt = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));

function table(header: string[], lines: string[][]): string {
  return `| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n${lines.map((l) => `| ${l.join(' | ')} |`).join('\n')}\n`;
}

async function main(): Promise<void> {
  const program = new Command()
    .option('--shared <dir>', 'shared test data', process.env.FACESTREAM_SHARED_DIR ?? path.resolve(projectRoot(), '..', 'shared'))
    .option('--model-dir <dir>', 'model directory tried after the default one, for YuNet (default: <shared>/models)')
    .option('--seconds <n>', 'length of the throughput sources analysed at the runtime default rate', '10')
    .option('--every-frame-seconds <n>', 'length of the throughput sources analysed frame by frame', '4')
    .option('--latency-seconds <n>', 'length of the latency slideshow (6 photos, 1 s each, looped)', '30')
    .option('--latency-detector <name>', 'detector of the latency run (default: the default detector)', ConfigSchema.parse({}).detector.name)
    .option('--camera-max-width <px>', 'CameraSource maxWidth of the throughput runs (default: the runtime default)', String(ConfigSchema.parse({ cameras: [{ name: 'x', url: 'x.mp4' }] }).cameras[0].maxWidth))
    .option('--work-dir <dir>', 'cache of generated videos', path.join(os.tmpdir(), 'facestream-bench-pipeline'))
    .option('--skip-throughput', 'skip part (a)')
    .option('--skip-latency', 'skip part (b)')
    .parse();
  const args = program.opts<Args>();
  const modelDir = args.modelDir ?? path.join(args.shared, 'models');
  mkdirSync(args.workDir, { recursive: true });
  const defaults = ConfigSchema.parse({ cameras: [{ name: 'x', url: 'x.mp4' }] });
  const started = performance.now();
  const out = process.stdout;
  const result: {
    bench: 'pipeline';
    cpus: number;
    openCvThreads: number;
    detectorRuntimes: string;
    clockTicks: number;
    throughput?: ThroughputRow[];
    latency?: LatencyResult | string;
    loadAverageAtStart: number;
    ingestLateExits?: number;
  } = {
    bench: 'pipeline',
    cpus: os.availableParallelism(),
    openCvThreads: cv().getNumThreads(),
    detectorRuntimes: ['yunet', 'mtcnn']
      .map((n) => {
        const r = resolveDetector(n, modelDir);
        return typeof r === 'string' ? undefined : `${n}: ${r.descriptor.runtime}${r.descriptor.runtime === 'onnxruntime' ? ' (1 thread)' : ''}`;
      })
      .filter(Boolean)
      .join(', '),
    clockTicks: CLK_TCK,
    loadAverageAtStart: os.loadavg()[0],
  };
  out.write(`bench:pipeline: ${result.cpus} CPUs, machine load average ${result.loadAverageAtStart.toFixed(1)} at start (every process; per-CPU-second figures do not depend on it, wall-clock ones do)\n`);
  if (childrenCpuSec() === null) out.write('note: /proc/self/stat is not readable here, so ffmpeg CPU time is NOT counted (figures are too high)\n');

  if (!args.skipThroughput) {
    const rows = await throughput(args, modelDir, defaults);
    result.throughput = rows;
    const fps = defaults.cameras[0].fps;
    out.write(
      `\n(a) ingest + detect + align: analysed frames per CPU-second ("per core"; CPU = this process + its ffmpeg). ` +
        `25 fps H.264 sources, CameraSource maxWidth ${args.cameraMaxWidth} (runtime default), detector maxWidth ${defaults.detector.maxWidth}; ` +
        `${result.cpus} CPUs, OpenCV threads ${result.openCvThreads}, detector networks on ${result.detectorRuntimes}.\n` +
        `HEADLINE = "every frame": the analysis rate equals the source rate (25 of 25 fps, all frames of a ${args.everyFrameSeconds} s source ` +
        `analysed: one decode per analysed frame), with the runtime's detection schedule (src/detect/schedule.ts, ` +
        `detector.fullDetectionIntervalMs ${defaults.detector.fullDetectionIntervalMs}): the whole frame searched every ` +
        `${fullEveryFrames(defaults.detector.fullDetectionIntervalMs, SOURCE_FPS)} frames (and after a face was lost), only around the faces ` +
        'of the frame before in between; every frame gets fresh boxes and landmarks for the faces in view. ' +
        '"whole frame every frame": the same frames with the schedule off (fullDetectionIntervalMs 0). ' +
        `"${fps} of 25 fps": a 25 fps camera analysed at the runtime's default ${fps} fps ` +
        `(${args.seconds} s source; ffmpeg decodes all 25 frames a second and passes ${fps}: 5 decodes per analysed frame; ` +
        `at ${fps} fps the schedule searches every frame whole).\n` +
        'Steady state: CPU from the arrival of the first frame to the end of the source (a live camera runs for hours; the ' +
        'once-per-session ffprobe + ffmpeg start-up is shown apart, and in the "with start-up" figure over this short source).\n\n',
    );
    const cell = (f: RunFigures | undefined) => (f ? `${fmt(f.perCpuSec)} ${f.pass ? '(pass)' : '(FAIL)'}` : '-');
    out.write(
      table(
        ['source', 'decoded as', 'detector', 'target', 'EVERY FRAME: frames/CPU-s (frames searched whole / in regions / skipped)', 'whole frame every frame: frames/CPU-s', `${fps} of 25 fps: frames/CPU-s`,
          'whole frame every frame / 5 of 25, with session start-up: frames/CPU-s', 'frames', 'faces/frame',
          'CPU ms/frame, whole frame every frame (ffmpeg part)', `CPU ms/frame ${fps} of 25 (ffmpeg part)`, 'session start-up CPU ms', 'wall fps, whole frame every frame'],
        rows.map((r) =>
          r.note || !r.everyFrame || !r.defaultRate
            ? [r.source, r.decodedAs, r.detector, `>= ${r.target}`, (r.note ?? '-').split('. Expected')[0], '-', '-', '', '', '', '', '', '', '']
            : [r.source, r.decodedAs, r.detector, `>= ${r.target}`,
                r.everyFrameScheduled
                  ? `${cell(r.everyFrameScheduled)} (${r.everyFrameScheduled.full} / ${r.everyFrameScheduled.regions} / ${r.everyFrameScheduled.skipped})`
                  : '-',
                cell(r.everyFrame),
                cell(r.defaultRate),
                `${fmt(r.everyFrame.perCpuSecWithStart)} / ${fmt(r.defaultRate.perCpuSecWithStart)}`,
                `${r.everyFrame.frames} + ${r.defaultRate.frames}`, fmt(r.everyFrame.facesPerFrame),
                `${fmt(r.everyFrame.cpuMsPerFrame)} (${fmt(r.everyFrame.ffmpegCpuMsPerFrame)})`,
                `${fmt(r.defaultRate.cpuMsPerFrame)} (${fmt(r.defaultRate.ffmpegCpuMsPerFrame)})`,
                fmt(r.everyFrame.startCpuMs, 0), fmt(r.everyFrame.wallFps)],
        ),
      ),
    );
    out.write('\nWhere the CPU goes (same process, same sources; CPU ms per frame, steady state):\n\n');
    out.write(
      table(
        ['source', 'detector', 'decode only, every frame: all (ffmpeg, this process)', `decode only, ${fps} of 25 fps: all (ffmpeg, this process)`,
          'detector alone', 'analyzeFrame alone (detect + align + quality)', 'bare network forward', 'pipeline every frame / detector alone (frames/CPU-s)'],
        rows
          .filter((r) => r.everyFrame)
          .map((r) => {
            const part = (all?: number, ff?: number) => `${fmt(all)} (${fmt(ff)}, ${fmt((all ?? NaN) - (ff ?? NaN))})`;
            return [r.source, r.detector,
              part(r.decodeOnlyEveryFrameCpuMsPerFrame, r.decodeOnlyEveryFrameFfmpegCpuMsPerFrame),
              part(r.decodeOnlyDefaultRateCpuMsPerFrame, r.decodeOnlyDefaultRateFfmpegCpuMsPerFrame),
              fmt(r.detectorAloneCpuMsPerFrame), fmt(r.analyzeAloneCpuMsPerFrame),
              r.bareForwardPerCpuSec ? `${fmt(1000 / r.bareForwardPerCpuSec)} (${r.bareForwardRuntime})` : '-',
              fmt(r.ratioPipelineToDetector, 2)];
          }),
      ),
    );
    const startMs = rows.find((r) => r.decodeSessionStartCpuMs !== undefined)?.decodeSessionStartCpuMs;
    out.write(
      '\n"decode only" = CameraSource delivering frames that nobody analyses (ffmpeg decode + scale + BGR conversion, and this process ' +
        'reading the pipe and cutting frames); "detector alone" = detector.detect() (resize to 640 + network + post-processing) ' +
        'on pre-decoded frames, this process only; "analyzeFrame alone" = detect + align + quality on the same frames; ' +
        '"bare network forward" = the YuNet network alone on a ready input of the analysis size, run as the detector runs it. ' +
        `A decode session's start-up (ffprobe + ffmpeg start + first frame) costs ${fmt(startMs, 0)} CPU ms once per camera connection.\n`,
    );
  }

  if (!args.skipLatency) {
    const lat = await latency(args, modelDir);
    result.latency = lat;
    out.write(`\n(b) frame-to-alert latency, embedded mode (EmbeddedRuntime in-process, realtime file source, cooldown 1 s)\n\n`);
    if (typeof lat === 'string') out.write(`${lat}\n`);
    else {
      out.write(
        `detector ${lat.detector}, camera ${lat.cameraFps} fps, ${lat.videoSeconds} s of 1280x720 slideshow; ${lat.identities} identities enrolled; ` +
          `${lat.framesAnalysed} frames analysed, ${lat.framesDropped} dropped; detect ${fmt(lat.detectMsMean, 0)} ms/frame mean; ` +
          `${lat.embeddings} embeddings in ${lat.embedBatches} batches of ${fmt(lat.embedBatchMsMean, 0)} ms mean; ` +
          `${lat.alertsRaised} alerts raised (${lat.alertsCooldown} suppressed by cooldown), ${lat.webhooksReceived} received by the webhook; ` +
          `this process used ${fmt(lat.cpuCoresBusy, 2)} cores on average (machine load average ${fmt(lat.loadAverage[0])} → ${fmt(lat.loadAverage[1])} on ` +
          `${result.cpus} CPUs); event-loop delay p50 ${fmt(lat.eventLoopDelayMs.p50, 0)} / p99 ${fmt(lat.eventLoopDelayMs.p99, 0)} / max ${fmt(lat.eventLoopDelayMs.max, 0)} ms\n\n`,
      );
      out.write(
        table(
          ['frame ts →', 'alerts', 'p50 ms', 'p99 ms', 'max ms', 'target p50 / p99', 'pass'],
          [
            ['alert spooled (exact)', String(lat.spool.n), fmt(lat.spool.p50Ms, 0), fmt(lat.spool.p99Ms, 0), fmt(lat.spool.maxMs, 0), `<= ${TARGET_P50_MS} / <= ${TARGET_P99_MS}`,
              lat.spool.n > 0 && lat.spool.p50Ms <= TARGET_P50_MS && lat.spool.p99Ms <= TARGET_P99_MS ? 'yes' : 'NO'],
            ['webhook received (exact)', String(lat.webhook.n), fmt(lat.webhook.p50Ms, 0), fmt(lat.webhook.p99Ms, 0), fmt(lat.webhook.maxMs, 0), `<= ${TARGET_P50_MS} / <= ${TARGET_P99_MS}`,
              lat.webhook.n > 0 && lat.webhook.p50Ms <= TARGET_P50_MS && lat.webhook.p99Ms <= TARGET_P99_MS ? 'yes' : 'NO'],
            ['(alert spooled → webhook received)', String(lat.delivery.n), fmt(lat.delivery.p50Ms, 0), fmt(lat.delivery.p99Ms, 0), fmt(lat.delivery.maxMs, 0), '', ''],
            ['facestream_frame_to_alert_seconds (buckets)', String(lat.histogram.count), `<= ${fmt(lat.histogram.p50UpperBoundMs, 0)}`, `<= ${fmt(lat.histogram.p99UpperBoundMs, 0)}`,
              `mean ${fmt(lat.histogram.meanMs, 0)}`, '', ''],
          ],
        ),
      );
      out.write('\nPercentiles are nearest-rank over the alerts (with ~100 alerts p99 is the second-worst or worst one). Frame ts is when the frame\'s last byte reached facestream, so ffmpeg\'s own decode delay is not included.\n');
    }
  }
  result.ingestLateExits = lateExits;
  if (lateExits > 0) {
    out.write(
      `\nnote: ${lateExits} throughput source(s) ended with fluent-ffmpeg's "Output stream closed" (ffmpeg's exit seen > 20 ms after ` +
        'its stdout closed, on a busy event loop); CameraSource reports that as a failed session and, for a file, would play it again. ' +
        'All frames had been delivered; the bench stopped those sources.\n',
    );
  }
  out.write(`\nbench:pipeline took ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  out.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
