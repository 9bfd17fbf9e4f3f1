/**
 * The demo's "camera": an H.264 mp4 slideshow of still photos, made with ffmpeg. Each photo is fitted into the
 * frame (letter-boxed), slowly zoomed in (so consecutive frames differ, as a camera's do) and followed by a short
 * black gap: the empty scene ends every face track before the next photo's people appear, so two people never
 * share a track because they stood at the same place in consecutive photos.
 */
import { spawn } from 'node:child_process';

export interface SlideshowPlan {
  photos: readonly string[];
  width: number;
  height: number;
  fps: number;
  /** Seconds each photo is shown. */
  photoSec: number;
  /** Seconds of black after each photo (longer than the tracker's maxAge, 1.5 s by default). */
  gapSec: number;
  /** Zoom at the end of a photo (1 = none). */
  endZoom: number;
}

export const DEFAULT_PLAN: Omit<SlideshowPlan, 'photos'> = { width: 1280, height: 720, fps: 25, photoSec: 3.2, gapSec: 1.8, endZoom: 1.08 };

export interface Slide {
  photo: string;
  /** Seconds from the start of the clip. */
  start: number;
  end: number;
}

export function slides(plan: SlideshowPlan): Slide[] {
  const period = plan.photoSec + plan.gapSec;
  return plan.photos.map((photo, i) => ({ photo, start: i * period, end: i * period + plan.photoSec }));
}

export function clipSeconds(plan: SlideshowPlan): number {
  return plan.photos.length * (plan.photoSec + plan.gapSec);
}

/**
 * The slide a face seen `sec` seconds into the clip belongs to, or undefined for a non-finite time. Faces are
 * only on screen during a slide, so the times are split in the middle of each gap: that absorbs the small
 * difference between the receiver's clock and the clip's (the first decoded frame is taken as time 0).
 */
export function slideAt(plan: SlideshowPlan, sec: number): (Slide & { index: number }) | undefined {
  if (!Number.isFinite(sec)) return undefined;
  const all = slides(plan);
  const period = plan.photoSec + plan.gapSec;
  const index = Math.max(0, Math.min(all.length - 1, Math.floor((sec + plan.gapSec / 2) / period)));
  return { ...all[index], index };
}

/** ffmpeg arguments that render the plan into `out` (overwriting it). */
export function slideshowArgs(plan: SlideshowPlan, out: string): string[] {
  if (plan.photos.length === 0) throw new RangeError('a slideshow needs at least one photo');
  const { width: w, height: h, fps } = plan;
  const frames = Math.round(plan.photoSec * fps);
  // zoompan works in input pixels and rounds its window position to whole pixels: feeding it a 2x canvas
  // halves the visible jitter of a slow zoom.
  const W = w * 2;
  const H = h * 2;
  const step = (plan.endZoom - 1) / Math.max(1, frames - 1);
  const chains = plan.photos.map(
    (_p, i) =>
      `[${i}:v]scale=${W}:${H}:force_original_aspect_ratio=decrease,pad=${W}:${H}:(ow-iw)/2:(oh-ih)/2,setsar=1,` +
      `zoompan=z='1+${step.toFixed(6)}*on':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=${frames}:s=${w}x${h}:fps=${fps},` +
      // zoompan's timestamps confuse tpad: renumber the frames first.
      `setpts=N/(${fps}*TB),tpad=stop_duration=${plan.gapSec}:color=black[v${i}]`,
  );
  const inputs = plan.photos.map((_p, i) => `[v${i}]`).join('');
  const graph = `${chains.join(';')};${inputs}concat=n=${plan.photos.length}:v=1:a=0,format=yuv420p[out]`;
  return [
    '-hide_banner', '-loglevel', 'error', '-y',
    ...plan.photos.flatMap((p) => ['-i', p]),
    '-filter_complex', graph,
    '-map', '[out]',
    // A keyframe every second: a client that (re)joins the RTSP stream decodes at once.
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-g', String(fps), '-r', String(fps),
    '-movflags', '+faststart',
    out,
  ];
}

/** Renders the slideshow with ffmpeg (FFMPEG_PATH or `ffmpeg` on PATH). Rejects with ffmpeg's message on failure. */
export function renderSlideshow(plan: SlideshowPlan, out: string, signal?: AbortSignal): Promise<void> {
  const ffmpeg = process.env.FFMPEG_PATH ?? 'ffmpeg';
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, slideshowArgs(plan, out), { stdio: ['ignore', 'ignore', 'pipe'], signal, killSignal: 'SIGKILL' });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.once('error', (err) => {
      const e = err as NodeJS.ErrnoException;
      reject(new Error(e.code === 'ENOENT' ? `${ffmpeg} not found: install ffmpeg (npm run setup does)` : `ffmpeg failed to start: ${e.message}`));
    });
    child.once('exit', (code, sig) => {
      if (code === 0) resolve();
      else reject(new Error(`ffmpeg could not make the slideshow (exit ${code ?? sig}): ${stderr.trim() || 'no message'}`));
    });
  });
}
