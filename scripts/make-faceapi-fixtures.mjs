#!/usr/bin/env node
/**
 * Makes the parity fixtures for the face-api → ONNX converters (test/fixtures/faceapi/descriptors.json and
 * detector-landmarks.json),
 * ONCE, from face-api's own TF.js FaceRecognitionNet. Run by hand; the tests only read the result.
 *
 *   node scripts/make-faceapi-fixtures.mjs
 *
 * Nothing is installed into the project: TF.js and a JPEG decoder go into a scratch prefix
 * (TFJS_PREFIX, default /tmp/tfjs-env; installed with `npm install --prefix` when missing), and the
 * script re-runs itself with NODE_PATH pointing there so face-api's `require('@tensorflow/tfjs')`
 * resolves. tfjs-node is not used (it downloads a native library); the pure-JS cpu backend is.
 *
 * Inputs: real faces (SSD-MobileNet + 68-landmark aligned boxes on face-api's demo/sample*.jpg,
 * squared, cropped and resized to 150x150 RGB uint8) and a few seeded random uint8 images.
 * Each 150x150x3 uint8 input is fed as an int32 tensor to computeFaceDescriptor, so face-api
 * neither resizes nor pads it and the stored input is exactly what the network saw.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const TFJS_VERSION = '4.22.0';
const JPEG_JS_VERSION = '0.4.4';
const SIZE = 150;
const FACES_PER_IMAGE = 1;
const RANDOM_SEEDS = [1, 2, 3];
const DETECTOR_CUT = 128;
const LANDMARK_CUT = 112;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const prefix = path.resolve(process.env.TFJS_PREFIX ?? '/tmp/tfjs-env');
const prefixModules = path.join(prefix, 'node_modules');
const faceApiDir = path.join(root, 'node_modules', '@vladmandic', 'face-api');
const outFile = path.join(root, 'test', 'fixtures', 'faceapi', 'descriptors.json');

function ensureScratchEnv() {
  if (existsSync(path.join(prefixModules, '@tensorflow', 'tfjs', 'package.json')) && existsSync(path.join(prefixModules, 'jpeg-js'))) return;
  console.log(`installing @tensorflow/tfjs@${TFJS_VERSION} into scratch prefix ${prefix}`);
  mkdirSync(prefix, { recursive: true });
  execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund',
    `@tensorflow/tfjs@${TFJS_VERSION}`, `@tensorflow/tfjs-backend-wasm@${TFJS_VERSION}`, `jpeg-js@${JPEG_JS_VERSION}`], { stdio: 'inherit' });
}

/** mulberry32: a tiny seeded PRNG, so the random inputs can be re-made bit for bit. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const f32 = (v) => Number(Math.fround(v).toPrecision(9)); // 9 significant digits round-trip a float32

async function main() {
  ensureScratchEnv();
  if (!(process.env.NODE_PATH ?? '').split(path.delimiter).includes(prefixModules)) {
    const env = { ...process.env, NODE_PATH: [prefixModules, process.env.NODE_PATH].filter(Boolean).join(path.delimiter) };
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env });
    process.exit(r.status ?? 1);
  }

  const require = createRequire(path.join(prefixModules, 'noop.js'));
  const jpeg = require('jpeg-js');
  const faceapi = require(path.join(faceApiDir, 'dist', 'face-api.node-wasm.js'));
  const tf = faceapi.tf;
  await tf.setBackend('cpu');
  await tf.ready();
  const faceApiVersion = JSON.parse(readFileSync(path.join(faceApiDir, 'package.json'), 'utf8')).version;
  console.log(`face-api ${faceApiVersion}, tfjs ${tf.version_core}, backend ${tf.getBackend()}`);

  const modelDir = path.join(faceApiDir, 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);

  const samples = [];
  const describe = async (id, source, rgb, extra) => {
    if (rgb.length !== SIZE * SIZE * 3) throw new Error(`${id}: expected ${SIZE * SIZE * 3} bytes, got ${rgb.length}`);
    const input = tf.tensor3d(Int32Array.from(rgb), [SIZE, SIZE, 3], 'int32');
    const descriptor = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(input);
    input.dispose();
    samples.push({ id, source, ...extra, input: gzipSync(Buffer.from(rgb), { level: 9 }).toString('base64'), descriptor: Array.from(descriptor, f32) });
    console.log(`${id}: |d| = ${Math.hypot(...descriptor).toFixed(4)}`);
  };

  for (let k = 1; k <= 6; k++) {
    const file = path.join(faceApiDir, 'demo', `sample${k}.jpg`);
    const img = jpeg.decode(readFileSync(file), { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    const image = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
    const found = await faceapi
      .detectAllFaces(image, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5, maxResults: 10 }))
      .withFaceLandmarks();
    found.sort((a, b) => b.detection.score - a.detection.score);
    for (const [i, f] of found.slice(0, FACES_PER_IMAGE).entries()) {
      const b = f.alignedRect.box;
      const side = Math.round(Math.max(b.width, b.height));
      const x = Math.max(0, Math.min(img.width - side, Math.round(b.x + b.width / 2 - side / 2)));
      const y = Math.max(0, Math.min(img.height - side, Math.round(b.y + b.height / 2 - side / 2)));
      const crop = tf.tidy(() => {
        const c = tf.slice(image, [y, x, 0], [side, side, 3]).toFloat().expandDims(0);
        return tf.image.resizeBilinear(c, [SIZE, SIZE], false, false).round().clipByValue(0, 255).squeeze([0]).toInt();
      });
      const rgb = Uint8Array.from(await crop.data());
      crop.dispose();
      await describe(`sample${k}-face${i}`, `demo/sample${k}.jpg`, rgb, { cropBox: [x, y, side, side], detectionScore: f32(f.detection.score) });
    }
    image.dispose();
  }

  for (const seed of RANDOM_SEEDS) {
    const rand = mulberry32(seed);
    const rgb = new Uint8Array(SIZE * SIZE * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = Math.floor(rand() * 256);
    await describe(`random-seed${seed}`, `mulberry32(${seed}) uint8 noise`, rgb, {});
  }

  const fixture = {
    description: 'face-api FaceRecognitionNet.computeFaceDescriptor outputs for 150x150 RGB uint8 inputs; made by scripts/make-faceapi-fixtures.mjs',
    faceApiVersion,
    tfjsVersion: tf.version_core,
    backend: tf.getBackend(),
    input: { width: SIZE, height: SIZE, channels: 3, layout: 'HWC', colorOrder: 'RGB', encoding: 'base64 of gzip of uint8 HWC bytes' },
    samples,
  };
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(fixture, null, 1)}\n`);
  console.log(`wrote ${samples.length} samples to ${path.relative(root, outFile)} (${readFileSync(outFile).length} bytes)`);

  // The detector and landmark converters' fixtures: the same inputs, cut to the nets' sizes (the top-left
  // 128x128 of each 150x150 crop for the tiny face detector, run at inputSize 128 so face-api neither pads nor
  // resizes; the top-left 112x112 for the landmark nets), and the nets' raw outputs.
  await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68TinyNet.loadFromDisk(modelDir);
  const cut = (rgb, n) => {
    const out = new Float32Array(n * n * 3);
    for (let y = 0; y < n; y++) for (let x = 0; x < n * 3; x++) out[y * n * 3 + x] = rgb[y * SIZE * 3 + x];
    return tf.tensor3d(out, [n, n, 3], 'float32');
  };
  const netSamples = [];
  for (const s of samples) {
    const rgb = new Uint8Array(gunzipSync(Buffer.from(s.input, 'base64')));
    const det = cut(rgb, DETECTOR_CUT);
    const grid = await faceapi.nets.tinyFaceDetector.forward(det, DETECTOR_CUT);
    const lmIn = cut(rgb, LANDMARK_CUT);
    const full = faceapi.nets.faceLandmark68Net.runNet(await faceapi.toNetInput(lmIn));
    const tiny = faceapi.nets.faceLandmark68TinyNet.runNet(await faceapi.toNetInput(lmIn));
    netSamples.push({
      id: s.id,
      tinyDetectorGrid: { shape: grid.shape, nhwc: Array.from(await grid.data(), f32) },
      landmarks68: Array.from(await full.data(), f32),
      landmarks68Tiny: Array.from(await tiny.data(), f32),
    });
    for (const t of [det, grid, lmIn, full, tiny]) t.dispose();
  }
  const netFile = path.join(path.dirname(outFile), 'detector-landmarks.json');
  writeFileSync(
    netFile,
    `${JSON.stringify(
      {
        description:
          `raw outputs of face-api's TinyFaceDetector (inputSize ${DETECTOR_CUT}) and FaceLandmark68Net / FaceLandmark68TinyNet (112) ` +
          `on the top-left ${DETECTOR_CUT}x${DETECTOR_CUT} / ${LANDMARK_CUT}x${LANDMARK_CUT} of each input of descriptors.json; made by scripts/make-faceapi-fixtures.mjs`,
        faceApiVersion,
        tfjsVersion: tf.version_core,
        backend: tf.getBackend(),
        detectorCut: DETECTOR_CUT,
        landmarkCut: LANDMARK_CUT,
        samples: netSamples,
      },
      null,
      1,
    )}\n`,
  );
  console.log(`wrote ${netSamples.length} samples to ${path.relative(root, netFile)} (${readFileSync(netFile).length} bytes)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
