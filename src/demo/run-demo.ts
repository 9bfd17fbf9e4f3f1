/**
 * `facestream demo`: the whole product on one machine with nothing but the installed packages.
 *   1. a camera clip: the group photos @vladmandic/face-api ships, as an mp4 slideshow (ffmpeg)
 *   2. an enrolment folder: three people's faces cropped from one photo each (facestream's detector), enrolled
 *      (the enroll code path) and put on watchlist "demo"
 *   3. the camera: GStreamer's RTSP server (scripts/rtsp-server.py) serving the clip; an alert receiver: a local
 *      HTTP server checking every Standard Webhooks signature and saving each alert's face JPEG
 *   4. the embedded runtime (EmbeddedRuntime, what `facestream run` runs) on the RTSP camera until the clip ends
 *   5. a summary, then everything is stopped
 * Every child process (ffmpeg, the RTSP server, the runtime's ffmpeg) is stopped on success, failure and abort.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { openGallery, openModels, type Models } from '../cli/common';
import { loadConfig } from '../config/load';
import type { Config, ConfigOverrides } from '../config/schema';
import { EmbeddedRuntime } from '../runtime/embedded';
import { cropWatchlistFaces, enrolWatchlist, type Crop } from './enrol-watchlist';
import { tapLogger, type TapState, type TrackRecord } from './log-tap';
import { startRtspServer, type DemoRtspServer } from './rtsp-server';
import { DEMO_DISTANCE_THRESHOLD, SAMPLE_PHOTOS, samplePhotoDir, WATCHLIST_PICKS } from './sample-photos';
import { clipSeconds, DEFAULT_PLAN, renderSlideshow, slideAt, slideshowArgs, type SlideshowPlan } from './slideshow';
import { startDemoReceiver, type DemoReceiver, type ReceivedAlert } from './webhook-receiver';

export const DEFAULT_DEMO_DIR = 'facestream-demo';
export const DEFAULT_HTTP_PORT = 9464;
const CAMERA = 'lobby';
const WATCHLIST = 'demo';
const MARKER = '.facestream-demo';
/**
 * Photo order: person-a's first appearance is sample3.jpg, a photo she was NOT enrolled from, so her alert shows a
 * recognition; her enrolment photo comes later, within the 60 s cooldown (one alert per identity per camera).
 */
const PHOTO_ORDER = ['sample3.jpg', 'sample2.jpg', 'sample4.jpg', 'sample1.jpg', 'sample5.jpg', 'sample6.jpg'];

export interface DemoOptions {
  dir: string;
  /** Metrics port; undefined = 9464, or any free port when 9464 is busy. */
  httpPort?: number;
  /** Distance threshold (matching.distance); default DEMO_DISTANCE_THRESHOLD (see sample-photos.ts). */
  distance?: number;
  print?: (line: string) => void;
  signal?: AbortSignal;
}

export interface DemoAlert {
  id: string;
  identity: string;
  camera: string;
  svm: number;
  distance: number;
  detector: number;
  /** Photo on screen when the face was first seen, and when (seconds into the clip). */
  photo?: string;
  at?: number;
  /** False when the identity is not in that photo: a stranger was alerted. */
  expected: boolean;
  jpeg: string;
}

export interface DemoSummary {
  dir: string;
  clip: string;
  clipSeconds: number;
  watchlist: string;
  enrolled: { identity: string; photo: string; crop: string; appearsIn: readonly string[] }[];
  thresholds: { svm: number; distance: number };
  cooldownSec: number;
  alerts: DemoAlert[];
  /** Webhook requests the receiver refused (bad signature or body): 0 in a good run. */
  rejected: string[];
  /**
   * Face tracks that got a match decision: the photo on screen, the identity it was recognised as (if any; an alert
   * or a cooldown-suppressed one), `expected` false when that identity is not in the photo (a stranger recognised),
   * and for the others the closest enrolled identity and distance.
   */
  tracks: { trackId: string; photo?: string; identity?: string; expected: boolean; candidate?: string; distance?: number; reason?: string }[];
  counters: Record<string, number>;
  metricsUrl: string;
  timings: Record<string, number>;
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const print = options.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const signal = options.signal;
  const dir = path.resolve(options.dir);
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  let tStep = t0;
  const lap = (name: string) => {
    const now = Date.now();
    timings[name] = (now - tStep) / 1000;
    tStep = now;
  };
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  };
  const checkAbort = () => {
    if (signal?.aborted) throw new Error('interrupted');
  };

  try {
    print(`facestream demo: work dir ${dir}`);
    await prepareDir(dir);

    // ---- 1. camera clip ------------------------------------------------------------------------------------
    const photoDir = samplePhotoDir();
    const plan: SlideshowPlan = { ...DEFAULT_PLAN, photos: PHOTO_ORDER.map((p) => path.join(photoDir, p)) };
    const clip = path.join(dir, 'camera.mp4');
    const seconds = clipSeconds(plan);
    print(
      `[1/5] camera clip: ${SAMPLE_PHOTOS.length} group photos from npm @vladmandic/face-api (${photoDir}) → ${clip} ` +
        `(${plan.width}x${plan.height} H.264, ${plan.photoSec} s per photo with a slow zoom + ${plan.gapSec} s empty scene, ${seconds} s)`,
    );
    if (await sameClip(clip, plan)) print('      reusing the clip made by an earlier run');
    else {
      // Rendered under a temporary name and renamed, so an interrupted render never passes for a finished clip.
      await rm(`${clip}.args.json`, { force: true });
      const partial = path.join(dir, 'camera.partial.mp4');
      await renderSlideshow(plan, partial, signal);
      await rename(partial, clip);
      await writeFile(`${clip}.args.json`, JSON.stringify(slideshowArgs(plan, clip)));
    }
    lap('clip');
    checkAbort();

    // ---- 2. enrolment --------------------------------------------------------------------------------------
    const store = path.join(dir, 'store');
    const galleryDir = path.join(dir, 'gallery');
    const baseConfig = demoConfig({ store });
    print(`[2/5] watchlist: cropping ${WATCHLIST_PICKS.length} faces with the ${baseConfig.detector.name} detector → ${galleryDir}/<name>/, enrolling with ${baseConfig.embedder.name} → ${store}`);
    let models: Models | undefined = await openModels(baseConfig);
    cleanups.push(async () => models?.close());
    const crops: Crop[] = await cropWatchlistFaces(models.detector, photoDir, WATCHLIST_PICKS, galleryDir);
    for (const c of crops) {
      const pick = WATCHLIST_PICKS.find((p) => p.identity === c.identity)!;
      print(`      ${c.identity}: face ${Math.round(c.box.width)}x${Math.round(c.box.height)} px of ${c.faces} in ${pick.where} → ${path.relative(dir, c.file)}`);
    }
    const opened = await openGallery(baseConfig, models.embedder);
    const enrolled = await enrolWatchlist(galleryDir, { detector: models.detector, embedder: models.embedder, store: opened.store, gallery: opened.gallery, config: baseConfig }, WATCHLIST);
    await models.close();
    models = undefined;
    const distance = options.distance ?? DEMO_DISTANCE_THRESHOLD;
    const th = { svm: enrolled.gallery.thresholds.svm, distance };
    print(`      enrolled ${enrolled.ids.join(', ')} (one photo each) on watchlist "${WATCHLIST}"`);
    print(
      `      match rule: SVM score >= ${th.svm} and distance to the nearest enrolled face <= ${distance}` +
        (distance === enrolled.gallery.thresholds.distance
          ? ' (the embedder default)'
          : ` (demo setting matching.distance; the uncalibrated default ${enrolled.gallery.thresholds.distance} has a stranger in these photos right at the edge)`),
    );
    lap('enrol');
    checkAbort();

    // ---- 3. camera and alert receiver ----------------------------------------------------------------------
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const alertsDir = path.join(dir, 'alerts');
    let onlineAt: number | undefined;
    const received: DemoAlert[] = [];
    const describe = (r: ReceivedAlert): DemoAlert => {
      const a = r.alert;
      const at = onlineAt === undefined ? undefined : (Date.parse(a.firstSeen) - onlineAt) / 1000;
      const slide = at === undefined ? undefined : slideAt(plan, at);
      const photo = slide ? path.basename(slide.photo) : undefined;
      const pick = WATCHLIST_PICKS.find((p) => p.identity === a.identity.id);
      return {
        id: a.id,
        identity: a.identity.id,
        camera: a.camera,
        svm: a.scores.svm,
        distance: a.scores.distance,
        detector: a.scores.detector,
        photo,
        at,
        expected: !!pick && photo !== undefined && pick.appearsIn.includes(photo),
        jpeg: r.jpeg,
      };
    };
    const receiver: DemoReceiver = await startDemoReceiver({
      secret,
      alertsDir,
      onAlert: (r) => {
        const a = describe(r);
        received.push(a);
        print(
          `  ALERT ${a.identity} on camera ${a.camera}${a.photo ? ` (${a.photo}, ${fmtClock(a.at!)}${a.expected ? '' : ', NOT a photo this person is in'})` : ''}: ` +
            `svm ${a.svm.toFixed(3)}, distance ${a.distance.toFixed(3)}, detector ${a.detector.toFixed(3)}; ` +
            `alert ${a.id}, signature OK; face → ${path.relative(dir, a.jpeg)}`,
        );
      },
      onRejected: (reason) => print(`  receiver REFUSED a webhook: ${reason}`),
    });
    cleanups.push(() => receiver.close());
    const rtsp: DemoRtspServer = await startRtspServer(clip, 'demo');
    cleanups.push(() => rtsp.stop());
    print(`[3/5] camera: GStreamer RTSP server (pid ${rtsp.pid}) at ${rtsp.url}; alert receiver at ${receiver.url} (Standard Webhooks, random whsec_ secret)`);
    lap('servers');
    checkAbort();

    // ---- 4. the pipeline -----------------------------------------------------------------------------------
    const httpPort = await choosePort(options.httpPort, print);
    const config = demoConfig({
      store,
      cameras: [{ name: CAMERA, url: rtsp.url }],
      alerts: { webhooks: [{ url: receiver.url, secret }], spoolDir: path.join(dir, 'spool') },
      http: { port: httpPort, host: '127.0.0.1' },
      matching: { distance },
    });
    const logFile = path.join(dir, 'facestream.log');
    const tap: TapState = { tracks: new Map(), errors: [] };
    let ended: ((why: string) => void) | undefined;
    const endOfClip = new Promise<string>((r) => (ended = r));
    const log = tapLogger(logFile, tap, (event, message) => {
      if (event === 'online') onlineAt ??= tap.onlineAt;
      if (event === 'error') print(`  facestream error: ${message}`);
      // A camera that goes away near the end of the clip: the stream has ended (the server said EOS, or not).
      if (event === 'offline' && onlineAt !== undefined && Date.now() - onlineAt > seconds * 900) ended?.('camera offline at the end of the clip');
    });
    rtsp.onEos(() => {
      // The runtime probes the stream before decoding it; only the decoding session plays to the end. The camera
      // normally ends at once after the server's end-of-stream; if its ffmpeg does not notice, stop waiting.
      if (onlineAt !== undefined && Date.now() - onlineAt > seconds * 500) setTimeout(() => ended?.('the RTSP server finished the clip'), 5000).unref();
    });
    // As `facestream run --exit-when-sources-end`: a stream that ends cleanly ends its camera.
    const runtime = new EmbeddedRuntime(config, { log, exitWhenSourcesEnd: true, flushTimeoutMs: 30_000 });
    cleanups.push(() => runtime.stop());
    print(
      `[4/5] facestream run (embedded): camera ${CAMERA}=${rtsp.url}, ${config.cameras[0].fps} analysed frames/s, ` +
        `detector ${config.detector.name}, embedder ${config.embedder.name}; log → ${path.relative(dir, logFile)}`,
    );
    await runtime.start();
    let sourcesEnded = false;
    void runtime.sourcesEnded().then(() => {
      sourcesEnded = true;
      ended?.('end of stream');
    });
    const metricsUrl = `http://127.0.0.1:${runtime.httpPort}/metrics`;
    print(`      metrics at ${metricsUrl} (health at /healthz, /readyz) while it runs`);
    await waitFor(() => onlineAt !== undefined, 45_000, signal, () => `camera ${CAMERA} did not come online within 45 s (see ${logFile})`);
    print(`      camera ${CAMERA} online; watching the ${seconds} s clip...`);
    const why = await race(endOfClip, (seconds + 45) * 1000, signal, `the clip did not end within ${seconds + 45} s of the camera coming online (see ${logFile})`);
    lap('stream');
    print(`      ${why}: delivering pending alerts`);
    await rtsp.stop();
    if (sourcesEnded) {
      // The camera ended: what `run --exit-when-sources-end` does next (pending decisions settled, spool delivered).
      if (!(await race(runtime.runToEnd(), 40_000, signal, 'alerts were still undelivered after 40 s'))) throw new Error('alerts were still undelivered after 30 s');
    } else {
      // The camera did not end by itself (its ffmpeg missed the end of stream): the server is gone now, so it
      // goes offline; then wait for the last embeddings and for the spool to drain.
      const camUp = async () => (await runtime.metrics.cameraUp.get()).values.find((v) => v.labels.camera === CAMERA)?.value ?? 0;
      await waitFor(async () => (await camUp()) === 0, 15_000, signal, () => 'the camera did not stop after the clip ended').catch(() => undefined);
      await sleep(1000);
      await waitFor(async () => (await runtime.metrics.spoolPending.get()).values[0]?.value === 0, 30_000, signal, () => 'alerts were still undelivered after 30 s');
    }
    const metricsText = await fetchText(metricsUrl).catch((e: Error) => `# could not scrape ${metricsUrl}: ${e.message}\n`);
    await writeFile(path.join(dir, 'metrics.txt'), metricsText);
    const counters = pickCounters(metricsText);
    await runtime.stop();
    await receiver.close();
    lap('drain');

    // ---- 5. summary ----------------------------------------------------------------------------------------
    const tracks = [...tap.tracks.values()].map((t: TrackRecord) => {
      const s = onlineAt === undefined ? undefined : slideAt(plan, (t.firstAt - onlineAt) / 1000);
      const photo = s ? path.basename(s.photo) : undefined;
      const identity = t.accepted[0];
      const expected = t.accepted.every((id) => photo !== undefined && !!WATCHLIST_PICKS.find((p) => p.identity === id)?.appearsIn.includes(photo));
      return { trackId: t.trackId, photo, identity, expected, candidate: t.candidate, distance: t.distance, reason: t.reason };
    });
    const summary: DemoSummary = {
      dir,
      clip,
      clipSeconds: seconds,
      watchlist: WATCHLIST,
      enrolled: crops.map((c) => ({ identity: c.identity, photo: c.photo, crop: c.file, appearsIn: WATCHLIST_PICKS.find((p) => p.identity === c.identity)!.appearsIn })),
      thresholds: { svm: th.svm, distance: th.distance },
      cooldownSec: config.alerts.cooldownSec,
      alerts: received,
      rejected: receiver.rejected.map((r) => r.reason),
      tracks,
      counters,
      metricsUrl,
      timings: { ...timings, total: (Date.now() - t0) / 1000 },
    };
    await writeFile(path.join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    printSummary(summary, print);
    return summary;
  } finally {
    await cleanup();
  }
}

function demoConfig(overrides: ConfigOverrides): Config {
  // The demo's settings only: the user's FACESTREAM_* variables and config file are not read.
  return loadConfig({ env: {}, overrides });
}

/** Creates the work dir, or cleans the demo's own outputs from an earlier run; refuses a foreign non-empty dir. */
async function prepareDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new Error(`${dir} is not empty and was not made by the demo: give --dir an empty or new directory`);
  }
  await writeFile(path.join(dir, MARKER), 'made by `facestream demo`; the demo deletes and remakes its outputs here\n');
  for (const name of ['gallery', 'store', 'spool', 'alerts', 'facestream.log', 'metrics.txt', 'summary.json', 'camera.partial.mp4']) {
    await rm(path.join(dir, name), { recursive: true, force: true });
  }
}

async function sameClip(clip: string, plan: SlideshowPlan): Promise<boolean> {
  if (!existsSync(clip)) return false;
  const args = await readFile(`${clip}.args.json`, 'utf8').catch(() => '');
  return args === JSON.stringify(slideshowArgs(plan, clip));
}

async function choosePort(requested: number | undefined, print: (l: string) => void): Promise<number> {
  if (requested !== undefined) return requested;
  if (await portFree(DEFAULT_HTTP_PORT)) return DEFAULT_HTTP_PORT;
  print(`      port ${DEFAULT_HTTP_PORT} is busy: serving metrics on a free port instead`);
  return 0;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, signal: AbortSignal | undefined, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new Error('interrupted');
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(what());
    await sleep(200);
  }
}

function race<T>(p: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(what)), timeoutMs);
    const onAbort = () => reject(new Error('interrupted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

/** A few counters from the Prometheus text (summed over labels), for the summary. */
export function pickCounters(text: string): Record<string, number> {
  const want: Record<string, RegExp> = {
    frames: /^facestream_frames_total\{/,
    framesDropped: /^facestream_frames_dropped_total\{/,
    faces: /^facestream_faces_detected_total\{/,
    tracks: /^facestream_tracks_started_total\{/,
    embeddings: /^facestream_embeddings_total /,
    matched: /^facestream_matches_total\{result="match"\}/,
    unknown: /^facestream_matches_total\{result="unknown"\}/,
    alertsRaised: /^facestream_alerts_total\{outcome="raised"\}/,
    alertsCooldown: /^facestream_alerts_total\{outcome="cooldown"\}/,
    delivered: /^facestream_webhook_deliveries_total\{outcome="delivered"\}/,
  };
  const out: Record<string, number> = {};
  for (const [key, re] of Object.entries(want)) {
    out[key] = text
      .split('\n')
      .filter((l) => re.test(l))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  }
  return out;
}

function fmtClock(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function printSummary(s: DemoSummary, print: (l: string) => void): void {
  // Paths under the current directory are shown relative to it, others in full.
  const rel = (p: string) => {
    const r = path.relative(process.cwd(), p);
    return r === '' ? '.' : r.startsWith('..') || path.isAbsolute(r) ? p : r;
  };
  print('[5/5] summary');
  const byId = new Map<string, DemoAlert[]>();
  for (const a of s.alerts) byId.set(a.identity, [...(byId.get(a.identity) ?? []), a]);
  const wrong = s.alerts.filter((a) => !a.expected);
  const wrongTracks = s.tracks.filter((t) => !t.expected);
  print(
    `  alerts received: ${s.alerts.length}, every signature verified${s.rejected.length ? `; ${s.rejected.length} webhook(s) REFUSED: ${s.rejected.join('; ')}` : ''}` +
      (wrong.length ? `; ${wrong.length} on a photo the person is NOT in (a stranger alerted)` : '; each on a photo the person is in'),
  );
  if (wrongTracks.length) print(`  ${wrongTracks.length} face track(s) recognised as someone not in the photo shown (strangers taken for enrolled people)`);
  for (const e of s.enrolled) {
    const got = byId.get(e.identity) ?? [];
    const where = got.map((a) => `${a.photo ?? '?'} at ${a.at === undefined ? '?' : fmtClock(a.at)}`).join(', ');
    const notes = e.appearsIn
      .filter((p) => !got.some((a) => a.photo === p))
      .map((p) =>
        s.tracks.some((t) => t.photo === p && t.identity === e.identity)
          ? `recognised again on ${p}, no second alert within the ${s.cooldownSec} s cooldown`
          : `NOT recognised on ${p}`,
      );
    print(
      `    ${e.identity.padEnd(9)} ${String(got.length).padStart(2)} alert${got.length === 1 ? ' ' : 's'} ${where ? `(${where})` : ''}  ` +
        `[enrolled from ${e.photo}; in ${e.appearsIn.join(' and ')}${notes.length ? `; ${notes.join('; ')}` : ''}]`,
    );
  }
  const photos = [...new Set(s.tracks.map((t) => t.photo ?? '?'))];
  print(`  face tracks matched against the gallery: ${s.tracks.length} (per photo, in clip order):`);
  for (const photo of photos) {
    const ts = s.tracks.filter((t) => (t.photo ?? '?') === photo);
    const known = ts.filter((t) => t.identity).map((t) => `${t.identity}${t.expected ? '' : ' (WRONG: not in this photo)'}`);
    const strangers = ts.filter((t) => !t.identity);
    const nearest = strangers.filter((t) => t.distance !== undefined).map((t) => t.distance!);
    print(
      `    ${photo.padEnd(12)} ${known.length ? `recognised ${[...new Set(known)].join(', ')}; ` : ''}${strangers.length} unknown face track${strangers.length === 1 ? '' : 's'}` +
        (nearest.length ? ` (closest to an enrolled face: distance ${Math.min(...nearest).toFixed(3)}; threshold ${s.thresholds.distance})` : ''),
    );
  }
  const c = s.counters;
  print(
    `  pipeline: ${c.frames} frames analysed (${c.framesDropped} dropped while busy), ${c.faces} faces, ${c.tracks} tracks, ${c.embeddings} embeddings; ` +
      `alerts raised ${c.alertsRaised}, held back by the ${s.cooldownSec} s per-identity cooldown ${c.alertsCooldown}, delivered ${c.delivered}`,
  );
  print(`  face JPEGs of the alerts: ${rel(path.join(s.dir, 'alerts'))}/<alert id>.jpg; enrolment crops: ${rel(path.join(s.dir, 'gallery'))}/<name>/`);
  print(`  metrics: ${s.metricsUrl} was live during the run (Prometheus text); its last scrape is in ${rel(path.join(s.dir, 'metrics.txt'))}`);
  print(`  log: ${rel(path.join(s.dir, 'facestream.log'))} (JSON lines; "track matched" = one match decision, "watchlist alert" = one alert); summary: ${rel(path.join(s.dir, 'summary.json'))}`);
  print(`  time: clip ${s.timings.clip}s, enrolment ${s.timings.enrol}s, stream ${s.timings.stream}s, total ${s.timings.total}s`);
  print('  the same on real cameras with the CLI (npx facestream ..., or node dist/src/cli/main.js ...):');
  print(`    facestream enroll --gallery ${rel(path.join(s.dir, 'gallery'))} --store facestream-data/store    # <gallery>/<name>/: photos or clips of each person`);
  print(`    facestream watchlist create ${s.watchlist} --identities ${s.enrolled.map((e) => e.identity).join(',')} --store facestream-data/store`);
  print('    facestream calibrate --unknown FACES-NOT-ON-THE-LIST/ --target-fpir 0.01 --store facestream-data/store   # thresholds for your cameras');
  print('    export FACESTREAM_WEBHOOK_SECRET=whsec_...    # the secret your webhook receiver verifies (>= 24 bytes, base64)');
  print('    facestream run --camera lobby=rtsp://USER:PASS@CAMERA-IP/stream1 --webhook https://YOUR-RECEIVER/hook --store facestream-data/store');
  print(`    (the demo's threshold as a setting: FACESTREAM_MATCHING__DISTANCE=${s.thresholds.distance}; metrics: curl http://127.0.0.1:9464/metrics while it runs)`);
}
