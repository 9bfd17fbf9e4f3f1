/**
 * TF.js → ONNX layer helpers shared by the converters of face-api's small MobileNet-style networks (the tiny
 * face detector and the 68-point landmark nets): weights checked by name and shape, filters moved from TF's
 * layouts (HWIO for conv2d, [k,k,C,1] for depthwise) to ONNX's (OIHW, [C,1,k,k]), and TF's padding modes mapped
 * to ONNX's. Values are NCHW in the graph.
 *
 * TF 'same' pads (total) max((ceil(n/s)-1)*s + k - n, 0), the odd pixel at the end: that is ONNX auto_pad
 * SAME_UPPER, which also works where the spatial size is only known at run time.
 */
import type { OnnxGraphBuilder } from './onnx-proto';
import type { WeightMap } from './tfjs-weights';

export type TfPadding = 'valid' | 'same' | 'pad1';

export class TfjsWeights {
  private readonly used = new Set<string>();

  constructor(private readonly weights: WeightMap, private readonly source: string) {}

  get(name: string, shape: readonly number[]): Float32Array {
    const t = this.weights.get(name);
    if (!t) throw new Error(`${this.source}: weight ${name} missing (expected shape [${shape.join(', ')}])`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${this.source}: weight ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    this.used.add(name);
    return t.data;
  }

  /** Throws when the graph left weights of the file unused (the network was not mirrored completely). */
  assertAllUsed(network: string): void {
    const unused = [...this.weights.keys()].filter((k) => !this.used.has(k)).sort();
    if (unused.length > 0) throw new Error(`${this.source}: weights not used by face-api's ${network}: ${unused.join(', ')}`);
  }
}

/** TF HWIO [k,k,ci,co] → ONNX OIHW [co,ci,k,k]. */
export function hwioToOihw(filters: Float32Array, k: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(co * ci * k * k);
  for (let h = 0; h < k; h++) {
    for (let w = 0; w < k; w++) {
      for (let i = 0; i < ci; i++) {
        const src = ((h * k + w) * ci + i) * co;
        for (let o = 0; o < co; o++) out[((o * ci + i) * k + h) * k + w] = filters[src + o];
      }
    }
  }
  return out;
}

/** TF depthwise [k,k,c,1] → ONNX grouped conv weights [c,1,k,k]. */
export function depthwiseToOnnx(filters: Float32Array, k: number, c: number): Float32Array {
  const out = new Float32Array(c * k * k);
  for (let h = 0; h < k; h++) for (let w = 0; w < k; w++) for (let i = 0; i < c; i++) out[(i * k + h) * k + w] = filters[(h * k + w) * c + i];
  return out;
}

import type { OnnxAttribute } from './onnx-proto';

function padAttributes(padding: TfPadding, k: number): Record<string, OnnxAttribute> {
  if (padding === 'valid') return { pads: { ints: [0, 0, 0, 0] } };
  if (padding === 'pad1') return { pads: { ints: [1, 1, 1, 1] } };
  return k === 1 ? { pads: { ints: [0, 0, 0, 0] } } : { auto_pad: { string: 'SAME_UPPER' } };
}

export interface ConvSpec {
  weight: Float32Array; // OIHW
  bias?: Float32Array;
  outChannels: number;
  inChannels: number;
  k: number;
  stride: number;
  padding: TfPadding;
  group?: number;
}

export function addConv(g: OnnxGraphBuilder, x: string, name: string, spec: ConvSpec): string {
  const group = spec.group ?? 1;
  const w = g.addInitializer(`${name}/W`, [spec.outChannels, spec.inChannels / group, spec.k, spec.k], spec.weight);
  const inputs = [x, w];
  if (spec.bias) inputs.push(g.addInitializer(`${name}/B`, [spec.outChannels], spec.bias));
  return g.addNode('Conv', inputs, [name], {
    dilations: { ints: [1, 1] },
    group: { int: group },
    kernel_shape: { ints: [spec.k, spec.k] },
    strides: { ints: [spec.stride, spec.stride] },
    ...padAttributes(spec.padding, spec.k),
  })[0];
}

/**
 * tf.separableConv2d(x, depthwise_filter, pointwise_filter, stride, padding) + bias: a grouped 3x3 conv then a
 * 1x1 conv carrying the bias. `prefix` names the weights (`<prefix>/depthwise_filter`, …).
 */
export function addSeparableConv(
  g: OnnxGraphBuilder,
  w: TfjsWeights,
  x: string,
  prefix: string,
  inChannels: number,
  outChannels: number,
  stride: number,
  padding: TfPadding,
): string {
  const dw = w.get(`${prefix}/depthwise_filter`, [3, 3, inChannels, 1]);
  const pw = w.get(`${prefix}/pointwise_filter`, [1, 1, inChannels, outChannels]);
  const bias = w.get(`${prefix}/bias`, [outChannels]);
  const d = addConv(g, x, `${prefix}/depthwise`, {
    weight: depthwiseToOnnx(dw, 3, inChannels),
    outChannels: inChannels,
    inChannels,
    k: 3,
    stride,
    padding,
    group: inChannels,
  });
  return addConv(g, d, `${prefix}/pointwise`, {
    weight: hwioToOihw(pw, 1, inChannels, outChannels),
    bias,
    outChannels,
    inChannels,
    k: 1,
    stride: 1,
    padding: 'valid',
  });
}

/** TF.js maxPool(x, [k,k], [s,s], 'same'). */
export function addMaxPoolSame(g: OnnxGraphBuilder, x: string, name: string, k: number, stride: number): string {
  return g.addNode('MaxPool', [x], [name], { kernel_shape: { ints: [k, k] }, strides: { ints: [stride, stride] }, auto_pad: { string: 'SAME_UPPER' } })[0];
}
