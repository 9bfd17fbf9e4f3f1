import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { matToFrame } from '../../src/detect/cvmat';
import { analyzeFrame } from '../../src/detect/analyze';
import { createDetector } from '../../src/detect/detector';
import {
  assessQuality,
  DEFAULT_QUALITY_THRESHOLDS,
  poseFromLandmarks,
  qualityGate,
  sharpness,
} from '../../src/detect/quality';
import type { FaceDetection, FaceQuality, Landmarks5 } from '../../src/detect/types';
import { ModelRegistry } from '../../src/models/registry';
import { cv } from '../../src/util/cv';
import { resolveDetector, SHARED_DIR } from './helpers';

/** A 3-D face (x right, y down, z towards the camera), in units of half the eye distance. */
const FACE_3D = [
  [-1, 0, 0], // image-left eye
  [1, 0, 0], // image-right eye
  [0, 1.27, 1], // nose tip: 0.56 of the eye-mouth distance, one half eye distance in front
  [-0.8, 2.27, 0], // mouth corners
  [0.8, 2.27, 0],
];

/** Orthographic view after turning the head by yaw (about y) then pitch (about x) and rolling. */
function view(yawDeg: number, pitchDeg: number, rollDeg: number, scale = 30, cx = 100, cy = 80): Landmarks5 {
  const [ya, pa, ra] = [yawDeg, pitchDeg, rollDeg].map((d) => (d * Math.PI) / 180);
  return FACE_3D.map(([x, y, z]) => {
    // yaw > 0 turns the nose towards +x (image right)
    const x1 = x * Math.cos(ya) + z * Math.sin(ya);
    const z1 = -x * Math.sin(ya) + z * Math.cos(ya);
    // pitch > 0 turns the nose down (+y)
    const y2 = y * Math.cos(pa) + z1 * Math.sin(pa);
    const px = x1 * Math.cos(ra) - y2 * Math.sin(ra);
    const py = x1 * Math.sin(ra) + y2 * Math.cos(ra);
    return { x: cx + scale * px, y: cy + scale * py };
  }) as Landmarks5;
}

test('poseFromLandmarks: frontal is ~0, signs and magnitudes follow the head model', () => {
  const frontal = poseFromLandmarks(view(0, 0, 0));
  for (const v of [frontal.yaw, frontal.pitch, frontal.roll]) assert.ok(Math.abs(v) < 0.5, `frontal: ${v}`);
  for (const yaw of [-40, -20, 15, 35]) {
    const p = poseFromLandmarks(view(yaw, 0, 0));
    assert.ok(Math.abs(p.yaw - yaw) < 2, `yaw ${yaw}: got ${p.yaw}`);
    assert.ok(Math.abs(p.pitch) < 3, `yaw ${yaw}: pitch ${p.pitch}`);
  }
  for (const pitch of [-25, 20]) {
    const p = poseFromLandmarks(view(0, pitch, 0));
    assert.ok(Math.abs(p.pitch - pitch) < 4, `pitch ${pitch}: got ${p.pitch}`);
    assert.ok(Math.abs(p.yaw) < 1, `pitch ${pitch}: yaw ${p.yaw}`);
  }
  // Roll is measured and removed before yaw/pitch.
  const rolled = poseFromLandmarks(view(25, 0, 30));
  assert.ok(Math.abs(rolled.roll - 30) < 0.5, `roll ${rolled.roll}`);
  assert.ok(Math.abs(rolled.yaw - 25) < 2, `rolled yaw ${rolled.yaw}`);
});

/** A 112x112 BGR crop of fine texture (a smooth frame would have no sharpness to lose). */
function texturedCrop(seed = 1): { width: number; height: number; data: Uint8Array } {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const data = new Uint8Array(112 * 112 * 3);
  for (let i = 0; i < 112 * 112; i++) {
    const v = Math.round(60 + 140 * rnd());
    data.set([v, v, v], i * 3);
  }
  return { width: 112, height: 112, data };
}

function blurred(crop: { width: number; height: number; data: Uint8Array }, sigma: number) {
  const c = cv();
  const mat = new c.Mat(Buffer.from(crop.data), crop.height, crop.width, c.CV_8UC3);
  const out = mat.gaussianBlur(new c.Size(0, 0), sigma);
  return { width: crop.width, height: crop.height, data: new Uint8Array(out.getData()) };
}

const DET: FaceDetection = { box: { x: 50, y: 40, width: 90, height: 110 }, score: 0.99, landmarks: view(0, 0, 0, 18) };

test('sharpness: a sharp crop scores far above the default minimum, a blurred one below it', () => {
  const sharp = texturedCrop();
  const soft = blurred(sharp, 2);
  const qs = assessQuality(DET, sharp);
  const qb = assessQuality(DET, soft);
  assert.ok(qs.blur > 10 * DEFAULT_QUALITY_THRESHOLDS.minBlur, `sharp ${qs.blur}`);
  assert.ok(qb.blur < DEFAULT_QUALITY_THRESHOLDS.minBlur, `blurred ${qb.blur}`);
  assert.ok(qs.score > qb.score, 'the sharp crop ranks higher');
  assert.equal(qualityGate(qs), null);
  assert.match(qualityGate(qb) ?? '', /^too blurry/);
  assert.equal(qs.faceSize, 90);
  assert.ok(Math.abs(qs.eyeDistance - 36) < 1e-9);
  assert.throws(() => sharpness({ width: 10, height: 10, data: new Uint8Array(3) }), /width\*height\*3/);
});

test('qualityGate names the failing criterion; thresholds can be overridden', () => {
  const good: FaceQuality = { eyeDistance: 40, faceSize: 100, blur: 80, yaw: 5, pitch: -3, roll: 2, score: 0.8 };
  assert.equal(qualityGate(good), null);
  assert.match(qualityGate({ ...good, faceSize: 30 }) ?? '', /^too small: face 30 px < 40 px/);
  assert.match(qualityGate({ ...good, eyeDistance: 9 }) ?? '', /^too small: eye distance/);
  assert.match(qualityGate({ ...good, yaw: -60 }) ?? '', /^too much pose: yaw -60/);
  assert.match(qualityGate({ ...good, pitch: 40 }) ?? '', /^too much pose: pitch/);
  assert.match(qualityGate({ ...good, roll: 70 }) ?? '', /^too much pose: roll/);
  assert.equal(qualityGate({ ...good, faceSize: 30 }, { minFaceSize: 24 }), null);
  // Pose lowers the score.
  const turned = assessQuality({ ...DET, landmarks: view(40, 0, 0, 18) }, texturedCrop());
  assert.ok(Math.abs(turned.yaw - 40) < 2);
  assert.ok(turned.score < assessQuality(DET, texturedCrop()).score);
});

test('real faces: LFW photos pass the blur gate, the same photos blurred (sigma 3) do not', async (t) => {
  const lfw = path.join(SHARED_DIR, 'data', 'lfw-dev');
  const resolved = resolveDetector('mtcnn');
  if (!existsSync(lfw)) return t.skip(`${lfw} absent (set FACESTREAM_SHARED_DIR)`);
  if (typeof resolved === 'string') return t.skip(resolved);
  const detector = createDetector(resolved);
  const embedder = new ModelRegistry().get('mobilefacenet');
  assert.equal(embedder.kind, 'embedder');
  if (embedder.kind !== 'embedder') return;
  const c = cv();
  const files = readdirSync(lfw)
    .sort()
    .slice(0, 10)
    .map((d) => path.join(lfw, d, readdirSync(path.join(lfw, d)).sort()[0]));
  let sharpPass = 0;
  let blurPass = 0;
  for (const f of files) {
    const mat = c.imread(f);
    const [sharp] = await analyzeFrame(detector, matToFrame(mat), embedder);
    const [soft] = await analyzeFrame(detector, matToFrame(mat.gaussianBlur(new c.Size(0, 0), 3)), embedder);
    if (sharp && sharp.quality.blur >= DEFAULT_QUALITY_THRESHOLDS.minBlur) sharpPass++;
    if (soft && soft.quality.blur >= DEFAULT_QUALITY_THRESHOLDS.minBlur) blurPass++;
  }
  await detector.close?.();
  assert.ok(sharpPass >= 9, `sharp LFW photos passing the blur gate: ${sharpPass}/10`);
  assert.ok(blurPass <= 1, `blurred LFW photos passing the blur gate: ${blurPass}/10`);
});
