/** Shared set-up for the detection tests: sample photos, ground truth and model resolution. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { matToFrame } from '../../src/detect/cvmat';
import { createDetector, type DetectorOptions, type FaceDetector } from '../../src/detect/detector';
import type { Box } from '../../src/detect/types';
import type { Frame } from '../../src/image/frame';
import { ModelFileError, ModelRegistry, ResolvedDetector } from '../../src/models/registry';
import { cv } from '../../src/util/cv';
import { projectRoot } from '../../src/util/paths';

export const SHARED_DIR = process.env.FACESTREAM_SHARED_DIR ?? path.resolve(projectRoot(), '..', 'shared');
export const SHARED_MODELS = path.join(SHARED_DIR, 'models');
export const SAMPLE_DIR = path.join(projectRoot(), 'node_modules', '@vladmandic', 'face-api', 'demo');

export interface GroundTruthImage {
  file: string;
  width: number;
  height: number;
  faces: Box[];
}

export function groundTruth(): GroundTruthImage[] {
  const file = path.join(projectRoot(), 'test', 'fixtures', 'detect', 'faceapi-samples.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { images: GroundTruthImage[] }).images;
}

export function readFrame(file: string): Frame {
  const mat = cv().imread(file);
  if (mat.empty) throw new Error(`cannot decode ${file}`);
  return matToFrame(mat);
}

/** Sample photos, or a skip reason when @vladmandic/face-api's demo folder is absent. */
export function samplesOrSkip(): string | false {
  return existsSync(path.join(SAMPLE_DIR, 'sample1.jpg')) ? false : `face-api demo photos absent in ${SAMPLE_DIR}`;
}

/**
 * A detector's files as the product resolves them: the default model directory first, then the
 * shared test models. Returns a string (the skip reason) when neither holds them.
 */
export function resolveDetector(name: string): ResolvedDetector | string {
  const reasons: string[] = [];
  const dirs: (string | undefined)[] = [undefined];
  if (existsSync(SHARED_MODELS)) dirs.push(SHARED_MODELS);
  for (const modelDir of dirs) {
    try {
      return new ModelRegistry(modelDir ? { modelDir } : {}).detector(name);
    } catch (err) {
      if (!(err instanceof ModelFileError)) throw err;
      reasons.push(err.message);
    }
  }
  return `detector "${name}" files not found in the default model dir nor in ${SHARED_MODELS}: ${reasons.join(' | ')}`;
}

/**
 * A detector for a test on the demo photos (or `samplesOrSkip: false` for tests that need no photos), closed
 * (its network thread ended) when the test is done; undefined after skipping the test with the reason.
 */
export function openTestDetector(t: TestContext, name: string, options: DetectorOptions = {}, needsSamples = true): FaceDetector | undefined {
  const skip = needsSamples ? samplesOrSkip() : false;
  if (skip) {
    t.skip(skip);
    return undefined;
  }
  const resolved = resolveDetector(name);
  if (typeof resolved === 'string') {
    t.skip(resolved);
    return undefined;
  }
  const detector = createDetector(resolved, options);
  t.after(() => detector.close?.());
  return detector;
}
