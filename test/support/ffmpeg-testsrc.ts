/**
 * Test videos: the shared clips (/work/shared/data/video/*.mp4, 480x270 H.264, 2-5 s) and, so the RTSP tests run
 * without shared, synthetic H.264 mp4 files made with ffmpeg's testsrc (cached in the OS temp dir).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/util/paths';

export const SHARED_DIR = process.env.FACESTREAM_SHARED_DIR ?? path.resolve(projectRoot(), '..', 'shared');
export const SHARED_VIDEO_DIR = path.join(SHARED_DIR, 'data', 'video');

/** The shared test clips, sorted by name (empty when shared is absent). */
export function sharedVideos(): string[] {
  if (!existsSync(SHARED_VIDEO_DIR)) return [];
  return readdirSync(SHARED_VIDEO_DIR)
    .filter((f) => f.endsWith('.mp4'))
    .sort()
    .map((f) => path.join(SHARED_VIDEO_DIR, f));
}

/** node:test `skip` value: false when the shared clips are there, else the reason printed. */
export const SKIP_NO_SHARED_VIDEO: string | false =
  sharedVideos().length > 0 ? false : `needs ${SHARED_VIDEO_DIR}/*.mp4 (shared test videos absent; set FACESTREAM_SHARED_DIR)`;

/** node:test `skip` value: false when ffmpeg and ffprobe run, else the reason printed. */
export const SKIP_NO_FFMPEG: string | false = (() => {
  for (const tool of ['ffmpeg', 'ffprobe']) {
    const r = spawnSync(tool, ['-version'], { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `needs ${tool} on PATH (apt-get install ffmpeg)`;
  }
  return false;
})();

export interface VideoStreamInfo {
  width: number;
  height: number;
  /** Frames per second (r_frame_rate). */
  fps: number;
  /** Seconds. */
  duration: number;
}

/** ffprobe a local file (test helper: the size, rate and duration the decoder should reproduce). */
export async function probeFile(file: string): Promise<VideoStreamInfo> {
  const { stdout } = await promisify(execFile)('ffprobe', [
    '-v', 'error', '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,r_frame_rate,duration', '-of', 'json', file,
  ]);
  const s = (JSON.parse(stdout) as { streams: Array<Record<string, string | number>> }).streams[0];
  if (!s) throw new Error(`${file} has no video stream`);
  const [num, den] = String(s.r_frame_rate).split('/').map(Number);
  return { width: Number(s.width), height: Number(s.height), fps: num! / (den || 1), duration: Number(s.duration) };
}

export interface TestVideoOptions {
  seconds: number;
  width: number;
  height: number;
  fps: number;
}

/**
 * An H.264 (baseline-ish, keyframe every second) mp4 of ffmpeg's moving test pattern. Cached by parameters; written
 * to a temporary name and renamed, so test files running at the same time never see a half-written file.
 */
export async function makeTestVideo(o: TestVideoOptions): Promise<string> {
  const dir = path.join(os.tmpdir(), 'facestream-test-videos');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `testsrc-${o.width}x${o.height}-${o.fps}fps-${o.seconds}s.mp4`);
  if (existsSync(file)) return file;
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp.mp4`;
  await promisify(execFile)('ffmpeg', [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=${o.width}x${o.height}:rate=${o.fps}`,
    '-t', String(o.seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(Math.max(1, Math.round(o.fps))),
    '-pix_fmt', 'yuv420p', '-movflags', '+faststart',
    tmp,
  ]);
  renameSync(tmp, file);
  return file;
}
