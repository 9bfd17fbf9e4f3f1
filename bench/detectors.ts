/**
 * `node dist/bench/detectors.js`: the numbers behind the default detector. For MTCNN, YuNet and
 * OpenCV's Haar cascade (boxes only):
 *   - the six @vladmandic/face-api demo photos (22 faces, ground truth in
 *     test/fixtures/detect/faceapi-samples.json) at 640 px wide: faces found (IoU >= 0.4),
 *     false detections, median ms per image, and the longest event-loop stall while detecting;
 *   - LFW-dev (150 photos of 250x250, one subject each): photos with at least one detection.
 *
 *   node dist/bench/detectors.js [--model-dir DIR] [--runs 3] [--shared DIR]
 *
 * Model files: the default model directory, then --model-dir (default <shared>/models).
 */
import { Command } from 'commander';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { matToFrame } from '../src/detect/cvmat';
import { createDetector } from '../src/detect/detector';
import { matchBoxes } from '../src/detect/match-boxes';
import type { Box } from '../src/detect/types';
import type { Frame } from '../src/image/frame';
import { cv } from '../src/util/cv';
import { projectRoot } from '../src/util/paths';
import { resolveDetector } from './models';

const HAAR_FILE = '/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml';
const HAAR_PARAMS = { scaleFactor: 1.1, minNeighbors: 5, minSize: 20 };

interface BoxDetector {
  name: string;
  detect(frame: Frame): Promise<Box[]>;
}

interface Row {
  name: string;
  found?: number;
  falsePositives?: number;
  msPerImage?: number;
  maxStallMs?: number;
  lfwAny?: number;
  lfwMs?: number;
  note?: string;
}


function haar(): BoxDetector | string {
  if (!existsSync(HAAR_FILE)) return `${HAAR_FILE} absent (Debian package opencv-data)`;
  const c = cv();
  const classifier = new c.CascadeClassifier(HAAR_FILE);
  return {
    name: `haar (scale ${HAAR_PARAMS.scaleFactor}, neighbours ${HAAR_PARAMS.minNeighbors})`,
    async detect(frame) {
      const grey = new c.Mat(Buffer.from(frame.data), frame.height, frame.width, c.CV_8UC3).cvtColor(c.COLOR_BGR2GRAY);
      const { objects } = await classifier.detectMultiScaleAsync(
        grey,
        HAAR_PARAMS.scaleFactor,
        HAAR_PARAMS.minNeighbors,
        0,
        new c.Size(HAAR_PARAMS.minSize, HAAR_PARAMS.minSize),
      );
      return objects.map((r) => ({ x: r.x, y: r.y, width: r.width, height: r.height }));
    },
  };
}

/** Longest gap between 1-ms timer ticks while `fn` runs: how long the event loop was blocked. */
async function withStallMeter<T>(fn: () => Promise<T>): Promise<{ result: T; maxStallMs: number }> {
  let last = performance.now();
  let maxStallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxStallMs = Math.max(maxStallMs, now - last);
    last = now;
  }, 1);
  try {
    const result = await fn();
    maxStallMs = Math.max(maxStallMs, performance.now() - last);
    return { result, maxStallMs };
  } finally {
    clearInterval(timer);
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const program = new Command()
    .option('--shared <dir>', 'shared test data', process.env.FACESTREAM_SHARED_DIR ?? path.resolve(projectRoot(), '..', 'shared'))
    .option('--model-dir <dir>', 'model directory tried after the default one (default: <shared>/models)')
    .option('--runs <n>', 'timed runs over the six photos', '3')
    .parse();
  const opts = program.opts<{ shared: string; modelDir?: string; runs: string }>();
  const runs = Math.max(1, Number(opts.runs));
  const modelDir = opts.modelDir ?? path.join(opts.shared, 'models');
  const c = cv();

  const gtFile = path.join(projectRoot(), 'test', 'fixtures', 'detect', 'faceapi-samples.json');
  const gt = (JSON.parse(readFileSync(gtFile, 'utf8')) as { images: { file: string; faces: Box[] }[] }).images;
  const sampleDir = path.join(projectRoot(), 'node_modules', '@vladmandic', 'face-api', 'demo');
  // Photos at 640 px wide, ground truth scaled to match.
  const samples = gt.map((g) => {
    const full = c.imread(path.join(sampleDir, g.file));
    const s = 640 / full.cols;
    const mat = full.resize(Math.round(full.rows * s), 640, 0, 0, c.INTER_AREA);
    const sy = mat.rows / full.rows;
    const faces = g.faces.map((b) => ({ x: b.x * s, y: b.y * sy, width: b.width * s, height: b.height * sy }));
    return { file: g.file, frame: matToFrame(mat), faces };
  });
  const total = samples.reduce((n, s) => n + s.faces.length, 0);

  const lfwDir = path.join(opts.shared, 'data', 'lfw-dev');
  const lfw = existsSync(lfwDir)
    ? readdirSync(lfwDir)
        .sort()
        .flatMap((n) =>
          readdirSync(path.join(lfwDir, n))
            .sort()
            .map((f) => path.join(lfwDir, n, f)),
        )
        .map((f) => matToFrame(c.imread(f)))
    : [];

  const candidates: (BoxDetector | string)[] = [];
  for (const name of ['mtcnn', 'yunet', 'faceapi-tiny']) {
    const r = resolveDetector(name, modelDir);
    if (typeof r === 'string') {
      candidates.push(`${name}: ${r}`);
      continue;
    }
    const d = createDetector(r);
    candidates.push({ name, detect: async (f) => (await d.detect(f)).map((x) => x.box) });
  }
  const h = haar();
  candidates.push(typeof h === 'string' ? `haar: ${h}` : h);

  const rows: Row[] = [];
  for (const det of candidates) {
    if (typeof det === 'string') {
      rows.push({ name: det.split(':')[0], note: det });
      continue;
    }
    await det.detect(samples[0].frame); // warm-up
    const times = samples.map(() => [] as number[]);
    let found = 0;
    let falsePositives = 0;
    const { maxStallMs } = await withStallMeter(async () => {
      for (let r = 0; r < runs; r++) {
        for (let i = 0; i < samples.length; i++) {
          const t0 = performance.now();
          const boxes = await det.detect(samples[i].frame);
          times[i].push(performance.now() - t0);
          if (r === 0) {
            const m = matchBoxes(boxes, samples[i].faces, 0.4);
            found += m.found;
            falsePositives += m.falsePositives;
          }
        }
      }
    });
    const msPerImage = times.reduce((a, t) => a + median(t), 0) / samples.length;
    let lfwAny = 0;
    const t0 = performance.now();
    for (const f of lfw) if ((await det.detect(f)).length > 0) lfwAny++;
    const lfwMs = lfw.length ? (performance.now() - t0) / lfw.length : undefined;
    rows.push({ name: det.name, found, falsePositives, msPerImage, maxStallMs, lfwAny, lfwMs });
  }

  const header = [
    'detector',
    `faces found /${total}`,
    'false det.',
    'ms/image (640 px)',
    'max loop stall ms',
    `LFW-dev >=1 face /${lfw.length}`,
    'LFW ms/image',
  ];
  const fmt = (v: number | undefined, digits = 0) => (v === undefined ? '-' : v.toFixed(digits));
  const lines = rows.map((r) =>
    r.note
      ? [r.name, r.note]
      : [r.name, fmt(r.found), fmt(r.falsePositives), fmt(r.msPerImage), fmt(r.maxStallMs), fmt(r.lfwAny), fmt(r.lfwMs, 1)],
  );
  process.stdout.write(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n`);
  for (const l of lines) process.stdout.write(`| ${l.join(' | ')} |\n`);
  process.stdout.write(
    `\n${runs} timed run(s) over ${samples.length} photos; median per photo, averaged. ` +
      `Haar: ${HAAR_FILE}, min size ${HAAR_PARAMS.minSize} px, boxes only (no landmarks, so no alignment).\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
