/**
 * Converts @vladmandic/face-api's FaceRecognitionNet (a dlib-style ResNet-34 giving 128-d face
 * descriptors; TF.js weights `face_recognition_model-weights_manifest.json` + .bin) to ONNX.
 *
 * The graph mirrors face-api's src/faceRecognitionNet (FaceRecognitionNet.forwardInput, convLayer,
 * residualLayer, scaleLayer) op for op, except:
 *  - the input normalisation ((rgb - [122.782, 117.001, 104.298]) / 255) is NOT in the graph: the
 *    caller does it from the model descriptor; the graph input "input" is float32 [N,150,150,3] NHWC;
 *  - each conv's bias and the following scale layer (x * w + b, per channel) are folded into the conv
 *    weights and bias: W' = W * w, b' = bias * w + b (exact in real arithmetic; float32 rounding
 *    differences stay far below the 1e-4 parity tolerance, see test/models/convert.test.ts).
 * Output "embedding" is float32 [N,128], the raw descriptor (not L2-normalised), as
 * computeFaceDescriptor returns it. The batch axis is dynamic ("N").
 *
 * Spatial sizes for the 150x150 input, as TF.js computes them ('valid' = floor((n-k)/s)+1, 3x3
 * stride-1 'same' convs keep the size with symmetric padding 1):
 *   conv 7x7/2 valid 150→72, maxPool 3/2 valid →35, conv32 blocks 35,
 *   conv64_down 35→17 (avgPool 17), conv128_down 17→8 (avgPool 8),
 *   conv256_down 8→3 (avgPool 4: residual zero-padded at bottom/right to 4), conv256_down_out 4→1
 *   (avgPool 2: residual padded to 2), global mean, fc 256→128.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OnnxGraphBuilder } from './onnx-proto';
import { TfjsWeights } from './faceapi-layers';
import { readTfjsWeights, WeightMap } from './tfjs-weights';

export const FACEAPI_RECOGNITION_MODEL_NAME = 'face_recognition_model';
export const FACEAPI_INPUT_SIZE = 150;
export const FACEAPI_EMBEDDING_SIZE = 128;
export const FACEAPI_INPUT_NAME = 'input';
export const FACEAPI_OUTPUT_NAME = 'embedding';
/** Bump when the produced graph changes (it changes the file's sha256). */
export const FACEAPI_CONVERTER_VERSION = '1';

const OPSET = 13;
const IR_VERSION = 7;

type Padding = 'valid' | 'same';

/** A value in the NCHW graph with its static channel count and (square) spatial size. */
interface Value {
  name: string;
  channels: number;
  size: number;
}

class FaceApiResNetBuilder {
  readonly g = new OnnxGraphBuilder('faceapi_recognition_resnet');
  private readonly w: TfjsWeights;

  constructor(weights: WeightMap, source: string) {
    this.w = new TfjsWeights(weights, source);
  }

  private weight(name: string, shape: readonly number[]): Float32Array {
    return this.w.get(name, shape);
  }

  /**
   * face-api convLayer: conv2d(x, filters, stride, padding) + bias, then scale (x * w + b), optional relu.
   * Bias and scale are folded into the ONNX Conv; filters go from TF's HWIO to ONNX's OIHW.
   */
  convLayer(x: Value, prefix: string, outChannels: number, k: number, stride: number, padding: Padding, relu: boolean): Value {
    const filters = this.weight(`${prefix}/conv/filters`, [k, k, x.channels, outChannels]);
    const bias = this.weight(`${prefix}/conv/bias`, [outChannels]);
    const scaleW = this.weight(`${prefix}/scale/weights`, [outChannels]);
    const scaleB = this.weight(`${prefix}/scale/biases`, [outChannels]);
    const ci = x.channels;
    const oihw = new Float32Array(outChannels * ci * k * k);
    for (let h = 0; h < k; h++) {
      for (let w = 0; w < k; w++) {
        for (let i = 0; i < ci; i++) {
          const src = ((h * k + w) * ci + i) * outChannels;
          for (let o = 0; o < outChannels; o++) oihw[((o * ci + i) * k + h) * k + w] = filters[src + o] * scaleW[o];
        }
      }
    }
    const b = new Float32Array(outChannels);
    for (let o = 0; o < outChannels; o++) b[o] = bias[o] * scaleW[o] + scaleB[o];
    const wName = this.g.addInitializer(`${prefix}/W`, [outChannels, ci, k, k], oihw);
    const bName = this.g.addInitializer(`${prefix}/B`, [outChannels], b);

    let size: number;
    let pads: number[];
    if (padding === 'valid') {
      size = Math.floor((x.size - k) / stride) + 1;
      pads = [0, 0, 0, 0];
    } else {
      // TF 'same' with stride 1 and an odd kernel: (k-1)/2 on every side.
      if (stride !== 1 || k % 2 !== 1) throw new Error(`${prefix}: 'same' padding is only mapped for stride 1 and odd kernels`);
      size = x.size;
      const p = (k - 1) / 2;
      pads = [p, p, p, p];
    }
    if (size < 1) throw new Error(`${prefix}: input ${x.size}x${x.size} is too small for a ${k}x${k}/${stride} conv`);
    let out = this.g.addNode('Conv', [x.name, wName, bName], [`${prefix}/conv`], {
      dilations: { ints: [1, 1] },
      group: { int: 1 },
      kernel_shape: { ints: [k, k] },
      pads: { ints: pads },
      strides: { ints: [stride, stride] },
    })[0];
    if (relu) out = this.g.addNode('Relu', [out], [`${prefix}/relu`])[0];
    return { name: out, channels: outChannels, size };
  }

  /** face-api residual: relu(convNoRelu(conv(x)) + x). */
  residual(x: Value, prefix: string): Value {
    const c1 = this.convLayer(x, `${prefix}/conv1`, x.channels, 3, 1, 'same', true);
    const c2 = this.convLayer(c1, `${prefix}/conv2`, x.channels, 3, 1, 'same', false);
    const sum = this.g.addNode('Add', [c2.name, x.name], [`${prefix}/add`])[0];
    const out = this.g.addNode('Relu', [sum], [`${prefix}/relu`])[0];
    return { name: out, channels: x.channels, size: x.size };
  }

  /**
   * face-api residualDown: out = convNoRelu(convDown(x)) (3x3/2 'valid', then 3x3/1 'same');
   * pooled = avgPool(x, 2, 2, 'valid'); when the spatial sizes differ, `out` gets one row of zeros
   * at the bottom and one column at the right; when the channel counts differ, `pooled` gets as
   * many zero channels appended as it has; result relu(pooled + out).
   */
  residualDown(x: Value, prefix: string, outChannels: number): Value {
    const c1 = this.convLayer(x, `${prefix}/conv1`, outChannels, 3, 2, 'valid', true);
    let out = this.convLayer(c1, `${prefix}/conv2`, outChannels, 3, 1, 'same', false);

    let pooled: Value = {
      name: this.g.addNode('AveragePool', [x.name], [`${prefix}/avgpool`], {
        kernel_shape: { ints: [2, 2] },
        strides: { ints: [2, 2] },
        pads: { ints: [0, 0, 0, 0] },
      })[0],
      channels: x.channels,
      size: Math.floor((x.size - 2) / 2) + 1,
    };
    if (pooled.size !== out.size) {
      const pads = this.g.addInt64Initializer(`${prefix}/out_pads`, [8], [0, 0, 0, 0, 0, 0, 1, 1]);
      out = { ...out, name: this.g.addNode('Pad', [out.name, pads], [`${prefix}/out_pad`], { mode: { string: 'constant' } })[0], size: out.size + 1 };
    }
    if (pooled.channels !== out.channels) {
      const pads = this.g.addInt64Initializer(`${prefix}/pool_pads`, [8], [0, 0, 0, 0, 0, pooled.channels, 0, 0]);
      pooled = {
        ...pooled,
        name: this.g.addNode('Pad', [pooled.name, pads], [`${prefix}/pool_pad`], { mode: { string: 'constant' } })[0],
        channels: pooled.channels * 2,
      };
    }
    if (pooled.size !== out.size || pooled.channels !== out.channels) {
      throw new Error(
        `${prefix}: shortcut ${pooled.channels}x${pooled.size}x${pooled.size} does not match residual ${out.channels}x${out.size}x${out.size} (face-api pads by one pixel at most)`,
      );
    }
    const sum = this.g.addNode('Add', [pooled.name, out.name], [`${prefix}/add`])[0];
    const relu = this.g.addNode('Relu', [sum], [`${prefix}/relu`])[0];
    return { name: relu, channels: outChannels, size: out.size };
  }

  build(): Uint8Array {
    const s = FACEAPI_INPUT_SIZE;
    const input = this.g.addInput(FACEAPI_INPUT_NAME, ['N', s, s, 3]);
    const nchw = this.g.addNode('Transpose', [input], ['input_nchw'], { perm: { ints: [0, 3, 1, 2] } })[0];
    let x: Value = { name: nchw, channels: 3, size: s };

    x = this.convLayer(x, 'conv32_down', 32, 7, 2, 'valid', true);
    x = {
      name: this.g.addNode('MaxPool', [x.name], ['conv32_down/maxpool'], {
        kernel_shape: { ints: [3, 3] },
        strides: { ints: [2, 2] },
        pads: { ints: [0, 0, 0, 0] },
      })[0],
      channels: x.channels,
      size: Math.floor((x.size - 3) / 2) + 1,
    };
    for (const p of ['conv32_1', 'conv32_2', 'conv32_3']) x = this.residual(x, p);
    x = this.residualDown(x, 'conv64_down', 64);
    for (const p of ['conv64_1', 'conv64_2', 'conv64_3']) x = this.residual(x, p);
    x = this.residualDown(x, 'conv128_down', 128);
    for (const p of ['conv128_1', 'conv128_2']) x = this.residual(x, p);
    x = this.residualDown(x, 'conv256_down', 256);
    for (const p of ['conv256_1', 'conv256_2']) x = this.residual(x, p);
    x = this.residualDown(x, 'conv256_down_out', 256);
    if (x.size !== 2) throw new Error(`internal error: expected a 2x2 final feature map, got ${x.size}x${x.size}`);

    const pooled = this.g.addNode('ReduceMean', [x.name], ['global_mean'], { axes: { ints: [2, 3] }, keepdims: { int: 0 } })[0];
    const fc = this.g.addInitializer('fc', [256, FACEAPI_EMBEDDING_SIZE], this.weight('fc', [256, FACEAPI_EMBEDDING_SIZE]));
    this.g.addNode('MatMul', [pooled, fc], [FACEAPI_OUTPUT_NAME]);
    this.g.addOutput(FACEAPI_OUTPUT_NAME, ['N', FACEAPI_EMBEDDING_SIZE]);

    this.w.assertAllUsed('FaceRecognitionNet');

    return this.g.toModelBytes({
      irVersion: IR_VERSION,
      opsetVersion: OPSET,
      producerName: 'facestream',
      producerVersion: `faceapi-recognition-converter/${FACEAPI_CONVERTER_VERSION}`,
      docString:
        "@vladmandic/face-api FaceRecognitionNet (face_recognition_model) converted from TF.js weights. " +
        'Input "input": float32 [N,150,150,3] NHWC RGB, already normalised as (rgb - [122.782, 117.001, 104.298]) / 255. ' +
        'Output "embedding": float32 [N,128] raw face descriptor (not L2-normalised).',
      metadata: {
        source: `npm @vladmandic/face-api model/${FACEAPI_RECOGNITION_MODEL_NAME}`,
        input_normalisation: '(rgb - [122.782, 117.001, 104.298]) / 255, NHWC, RGB',
      },
    });
  }
}

/**
 * Converts `<modelDir>/face_recognition_model-weights_manifest.json` (+ shards) to ONNX model bytes.
 * Deterministic: the same weights give the same bytes.
 */
export function convertFaceApiRecognition(modelDir: string): Uint8Array {
  const weights = readTfjsWeights(modelDir, FACEAPI_RECOGNITION_MODEL_NAME);
  const source = path.join(modelDir, `${FACEAPI_RECOGNITION_MODEL_NAME}-weights_manifest.json`);
  return new FaceApiResNetBuilder(weights, source).build();
}

/** Converts and writes the ONNX file (creating its directory); returns its sha256 (hex) and size. */
export async function writeFaceApiRecognitionOnnx(modelDir: string, outFile: string): Promise<{ sha256: string; bytes: number }> {
  const bytes = convertFaceApiRecognition(modelDir);
  await mkdir(path.dirname(path.resolve(outFile)), { recursive: true });
  await writeFile(outFile, bytes);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}
