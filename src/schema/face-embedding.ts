/** FaceEmbedding (embed → match): a face's context plus its embedding, as little-endian float32 bytes. */
import { Check } from './check';
import { bytesToFloat32, decodeWire, encodeWire, float32ToBytes, guardEncode } from './codec';
import { contextFromWire, contextToWire, type WireFaceContext } from './face-context';
import type { DecodeOptions, FaceEmbedding } from './types';

const MAX_DIM = 8192;

interface WireFaceEmbedding extends WireFaceContext {
  embedding: Uint8Array;
  embeddingDim: number;
}

function checkValues(c: Check, e: Float32Array): void {
  for (let i = 0; i < e.length; i++) if (!Number.isFinite(e[i])) c.fail('embedding', `expected finite values, got ${e[i]} at index ${i}`);
}

/** Validates and encodes (throws SchemaError naming the field when the record is not valid). */
export function encodeFaceEmbedding(m: FaceEmbedding): Buffer {
  const c = new Check('FaceEmbedding');
  return guardEncode(c, () => {
    const wire = contextToWire(c, m) as WireFaceEmbedding;
    if (!(m.embedding instanceof Float32Array)) c.fail('embedding', 'expected a Float32Array');
    c.int('embedding_dim', m.embedding.length, 1, MAX_DIM);
    checkValues(c, m.embedding);
    wire.embedding = float32ToBytes(m.embedding);
    wire.embeddingDim = m.embedding.length;
    return encodeWire('FaceEmbedding', wire);
  });
}

/**
 * Decodes and validates; throws only SchemaError. The embedding is a view into `bytes` when its offset there is
 * a multiple of 4, a copy otherwise; faceJpeg is a view. options.copy: copies of both (see DecodeOptions).
 */
export function decodeFaceEmbedding(bytes: Uint8Array | null | undefined, options: DecodeOptions = {}): FaceEmbedding {
  return decodeWire('FaceEmbedding', bytes, (w: WireFaceEmbedding) => {
    const c = new Check('FaceEmbedding');
    const ctx = contextFromWire(c, w, options.copy);
    const dim = c.int('embedding_dim', w.embeddingDim, 1, MAX_DIM);
    const b = c.bytes('embedding', w.embedding);
    if (b.byteLength !== dim * 4) c.fail('embedding', `expected ${dim * 4} bytes (embedding_dim ${dim} x float32), got ${b.byteLength}`);
    const view = bytesToFloat32(b, dim);
    const embedding = options.copy && view.buffer === b.buffer ? view.slice() : view;
    checkValues(c, embedding);
    return { ...ctx, embedding };
  });
}
