/**
 * Converts @vladmandic/face-api's TinyFaceDetector (a Tiny-YOLOv2 with depthwise-separable convolutions, one
 * class, five anchors; TF.js weights `tiny_face_detector_model`) to ONNX.
 *
 * The graph mirrors face-api's TinyYolov2Base.runMobilenet with the TinyFaceDetector config
 * (isFirstLayerConv2d, filter sizes 3-16-32-64-128-256-512, no conv6/conv7) op for op:
 *   leaky(conv0 3x3 'valid'), maxPool 2/2 'same'; then for conv1..conv5 a separable conv on the input padded by
 *   one pixel, + bias, leaky (0.1), each followed by maxPool 2/2 'same' (after conv5 maxPool 2/1 'same');
 *   conv8 1x1 → 25 channels (5 anchors x [tx, ty, tw, th, objectness]).
 * Differences from face-api, all exact in real arithmetic:
 *  - the input is the raw BGR image, 0..255, NCHW ("input", float32 [1,3,H,W]; H and W dynamic, multiples of
 *    32 so every cell covers 32 px): face-api's normalisation ((rgb - [117.001, 114.697, 97.404]) / 255) and
 *    the BGR → RGB swap are folded into conv0, which has no padding, so the fold is exact;
 *  - face-api resizes every image to a square of `inputSize`; this graph runs on any size (the network is fully
 *    convolutional), so the caller gives it the analysis image as it is.
 * Output "grid": float32 [1,25,H/32,W/32], raw (the caller applies sigmoid/exp and the anchors).
 */
import { OnnxGraphBuilder } from './onnx-proto';
import { readTfjsWeights } from './tfjs-weights';
import { addConv, addMaxPoolSame, addSeparableConv, hwioToOihw, TfjsWeights } from './faceapi-layers';

export const FACEAPI_TINY_DETECTOR_MODEL_NAME = 'tiny_face_detector_model';
/** Bump when the produced graph changes (it changes the file's sha256). */
export const FACEAPI_TINY_DETECTOR_CONVERTER_VERSION = '1';
export const FACEAPI_TINY_DETECTOR_MEAN_RGB = [117.001, 114.697, 97.404] as const;
/** Anchor sizes in cells (face-api src/tinyFaceDetector/const.ts). */
export const FACEAPI_TINY_DETECTOR_ANCHORS: readonly (readonly [number, number])[] = [
  [1.603231, 2.094468],
  [6.041143, 7.080126],
  [2.882459, 3.518061],
  [4.266906, 5.178857],
  [9.041765, 10.66308],
];
export const FACEAPI_TINY_DETECTOR_CELL = 32;

const FILTERS = [3, 16, 32, 64, 128, 256, 512];

export function convertFaceApiTinyDetector(modelDir: string): Uint8Array {
  const source = `${modelDir}/${FACEAPI_TINY_DETECTOR_MODEL_NAME}-weights_manifest.json`;
  const w = new TfjsWeights(readTfjsWeights(modelDir, FACEAPI_TINY_DETECTOR_MODEL_NAME), source);
  const g = new OnnxGraphBuilder('faceapi_tiny_face_detector');
  const input = g.addInput('input', [1, 3, 'height', 'width']);

  // conv0 with the normalisation and the channel swap folded in.
  const f0 = w.get('conv0/filters', [3, 3, 3, 16]);
  const b0 = w.get('conv0/bias', [16]);
  const rgb = hwioToOihw(f0, 3, 3, 16); // [16, 3(rgb), 3, 3]
  const bgr = new Float32Array(rgb.length);
  const bias = Float32Array.from(b0);
  for (let o = 0; o < 16; o++) {
    for (let c = 0; c < 3; c++) {
      for (let t = 0; t < 9; t++) {
        const v = rgb[(o * 3 + c) * 9 + t];
        bgr[(o * 3 + (2 - c)) * 9 + t] = v / 255;
        bias[o] -= (v * FACEAPI_TINY_DETECTOR_MEAN_RGB[c]) / 255;
      }
    }
  }
  let x = addConv(g, input, 'conv0', { weight: bgr, bias, outChannels: 16, inChannels: 3, k: 3, stride: 1, padding: 'valid' });
  x = g.addNode('LeakyRelu', [x], ['conv0/leaky'], { alpha: { float: 0.10000000149011612 } })[0];
  x = addMaxPoolSame(g, x, 'pool0', 2, 2);
  for (let i = 1; i <= 5; i++) {
    x = addSeparableConv(g, w, x, `conv${i}`, FILTERS[i], FILTERS[i + 1], 1, 'pad1');
    x = g.addNode('LeakyRelu', [x], [`conv${i}/leaky`], { alpha: { float: 0.10000000149011612 } })[0];
    x = addMaxPoolSame(g, x, `pool${i}`, 2, i === 5 ? 1 : 2);
  }
  const f8 = w.get('conv8/filters', [1, 1, 512, 25]);
  const b8 = w.get('conv8/bias', [25]);
  addConv(g, x, 'grid', { weight: hwioToOihw(f8, 1, 512, 25), bias: b8, outChannels: 25, inChannels: 512, k: 1, stride: 1, padding: 'valid' });
  g.addOutput('grid', [1, 25, 'cells_y', 'cells_x']);
  w.assertAllUsed('TinyFaceDetector');
  return g.toModelBytes({
    irVersion: 7,
    opsetVersion: 13,
    producerName: 'facestream',
    producerVersion: `faceapi-tiny-detector-converter/${FACEAPI_TINY_DETECTOR_CONVERTER_VERSION}`,
    docString:
      '@vladmandic/face-api TinyFaceDetector converted from TF.js weights. Input "input": float32 [1,3,H,W], the BGR ' +
      'image 0..255 (H, W multiples of 32; normalisation folded into conv0). Output "grid": [1,25,H/32,W/32], 5 anchors x ' +
      '(tx, ty, tw, th, objectness), raw.',
    metadata: { source: `npm @vladmandic/face-api model/${FACEAPI_TINY_DETECTOR_MODEL_NAME}`, anchors: JSON.stringify(FACEAPI_TINY_DETECTOR_ANCHORS) },
  });
}
