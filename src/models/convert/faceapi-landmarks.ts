/**
 * Converts @vladmandic/face-api's 68-point face landmark nets (FaceLandmark68Net `face_landmark_68_model`: four
 * dense blocks of four separable convolutions; FaceLandmark68TinyNet `face_landmark_68_tiny_model`: three blocks
 * of three) to ONNX.
 *
 * The graph mirrors face-api's FaceFeatureExtractor / TinyFaceFeatureExtractor (denseBlock4 / denseBlock3,
 * avgPool, then the fully connected layer of FaceProcessor) op for op:
 *   block: out1 = relu(conv0 stride 2 'same' (+bias)) — a plain conv in the first block, separable after;
 *          out2 = sep(out1); out3 = sep(relu(out1 + out2)); [out4 = sep(relu(out1 + out2 + out3))];
 *          result relu(out1 + out2 + out3 [+ out4]); every separable conv 3x3 stride 1 'same' + bias;
 *   avgPool 7/2 (full) or 14/2 (tiny) 'valid' → 1x1; fc → 136 = 68 x (x, y).
 * Input "input": float32 [N,3,112,112], the BGR face crop 0..255 (padded to a square, centred, as face-api's
 * toBatchTensor(112, true) does); the graph normalises it ((rgb - [122.782, 117.001, 104.298]) / 255) and the
 * BGR → RGB swap is folded into the first conv (exact). Output "landmarks": float32 [N,136], x0, y0, x1, … in
 * units of the 112 px square (0..1), as face-api's network outputs them before its post-processing.
 */
import { OnnxGraphBuilder } from './onnx-proto';
import { readTfjsWeights } from './tfjs-weights';
import { addConv, addSeparableConv, hwioToOihw, TfjsWeights } from './faceapi-layers';

export type FaceApiLandmarkVariant = 'full' | 'tiny';
export const FACEAPI_LANDMARK_MODEL_NAMES: Record<FaceApiLandmarkVariant, string> = {
  full: 'face_landmark_68_model',
  tiny: 'face_landmark_68_tiny_model',
};
export const FACEAPI_LANDMARK_INPUT_SIZE = 112;
/** Bump when the produced graph changes (it changes the file's sha256). */
export const FACEAPI_LANDMARK_CONVERTER_VERSION = '1';
const MEAN_RGB = [122.782, 117.001, 104.298];

export function convertFaceApiLandmarks(modelDir: string, variant: FaceApiLandmarkVariant): Uint8Array {
  const modelName = FACEAPI_LANDMARK_MODEL_NAMES[variant];
  const w = new TfjsWeights(readTfjsWeights(modelDir, modelName), `${modelDir}/${modelName}-weights_manifest.json`);
  const g = new OnnxGraphBuilder(`faceapi_${modelName}`);
  const s = FACEAPI_LANDMARK_INPUT_SIZE;
  const input = g.addInput('input', ['N', 3, s, s]);
  const mean = g.addInitializer('mean_bgr', [1, 3, 1, 1], Float32Array.from([MEAN_RGB[2], MEAN_RGB[1], MEAN_RGB[0]]));
  const scale = g.addInitializer('inv255', [1], Float32Array.from([1 / 255]));
  const centred = g.addNode('Sub', [input, mean], ['centred'])[0];
  let x = g.addNode('Mul', [centred, scale], ['normalised'])[0];

  const channels = variant === 'full' ? [32, 64, 128, 256] : [32, 64, 128];
  const convsPerBlock = variant === 'full' ? 4 : 3;
  let inChannels = 3;
  channels.forEach((c, b) => {
    const p = `dense${b}`;
    let first: string;
    if (b === 0) {
      const f = w.get(`${p}/conv0/filters`, [3, 3, 3, c]);
      const rgb = hwioToOihw(f, 3, 3, c);
      const bgr = new Float32Array(rgb.length);
      for (let o = 0; o < c; o++) for (let ch = 0; ch < 3; ch++) bgr.set(rgb.subarray((o * 3 + ch) * 9, (o * 3 + ch + 1) * 9), (o * 3 + (2 - ch)) * 9);
      first = addConv(g, x, `${p}/conv0`, { weight: bgr, bias: w.get(`${p}/conv0/bias`, [c]), outChannels: c, inChannels: 3, k: 3, stride: 2, padding: 'same' });
    } else {
      first = addSeparableConv(g, w, x, `${p}/conv0`, inChannels, c, 2, 'same');
    }
    const out1 = g.addNode('Relu', [first], [`${p}/out1`])[0];
    const outs = [out1];
    let blockIn = out1;
    for (let k = 1; k < convsPerBlock; k++) {
      outs.push(addSeparableConv(g, w, blockIn, `${p}/conv${k}`, c, c, 1, 'same'));
      // relu(out1 + out2 [+ out3 …]): the input of the next conv, and after the last one the block's result.
      let sum = outs[0];
      for (let j = 1; j < outs.length; j++) sum = g.addNode('Add', [sum, outs[j]], [`${p}/sum${k}_${j}`])[0];
      blockIn = g.addNode('Relu', [sum], [`${p}/in${k + 1}`])[0];
    }
    x = blockIn;
    inChannels = c;
  });
  const pool = variant === 'full' ? 7 : 14;
  x = g.addNode('AveragePool', [x], ['avgpool'], { kernel_shape: { ints: [pool, pool] }, strides: { ints: [2, 2] }, pads: { ints: [0, 0, 0, 0] } })[0];
  const flat = g.addNode('Flatten', [x], ['features'], { axis: { int: 1 } })[0];
  const fcW = g.addInitializer('fc/weights', [inChannels, 136], w.get('fc/weights', [inChannels, 136]));
  const fcB = g.addInitializer('fc/bias', [136], w.get('fc/bias', [136]));
  const mm = g.addNode('MatMul', [flat, fcW], ['fc'])[0];
  g.addNode('Add', [mm, fcB], ['landmarks']);
  g.addOutput('landmarks', ['N', 136]);
  w.assertAllUsed(variant === 'full' ? 'FaceLandmark68Net' : 'FaceLandmark68TinyNet');
  return g.toModelBytes({
    irVersion: 7,
    opsetVersion: 13,
    producerName: 'facestream',
    producerVersion: `faceapi-landmarks-converter/${FACEAPI_LANDMARK_CONVERTER_VERSION}`,
    docString:
      `@vladmandic/face-api ${modelName} converted from TF.js weights. Input "input": float32 [N,3,112,112], BGR face crops ` +
      '0..255 padded to a centred square. Output "landmarks": [N,136], 68 (x, y) in units of the square.',
    metadata: { source: `npm @vladmandic/face-api model/${modelName}` },
  });
}
