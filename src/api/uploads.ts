/**
 * Reading a multipart upload of images into memory (never to disk): the files of the expected field, each at most
 * api.maxUploadBytes (a larger one is cut off by the parser, drained and reported as too large, so the others are
 * still processed), at most api.maxUploadFiles of them (more: 413). Any other field is an error naming it.
 */
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors';

export interface UploadedImage {
  /** "images[2]": the field and position, for per-image results and error messages. */
  field: string;
  /** The client's file name, reduced to a safe display form (no path, at most 100 characters). */
  filename: string;
  data: Buffer;
  /** The file was larger than the limit (data holds only its start). */
  tooLarge: boolean;
}

export function safeFilename(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[^\w.\- ()]/g, '_').slice(0, 100);
  return clean || 'upload';
}

/** The image files of `field` (also accepted: `${field}[]`). */
export async function readImages(req: FastifyRequest, field: string, opts: { max?: number } = {}): Promise<UploadedImage[]> {
  if (!req.isMultipart()) {
    throw new ApiError(415, 'unsupported-media-type', `expected a multipart/form-data upload with the image file(s) in the field "${field}"`, field);
  }
  const out: UploadedImage[] = [];
  for await (const part of req.parts()) {
    const name = part.fieldname;
    if (name !== field && name !== `${field}[]`) {
      if (part.type === 'file') await part.toBuffer().catch(() => undefined);
      throw new ApiError(400, 'unknown-field', `unknown multipart field "${name.slice(0, 100)}" (expected the image file(s) in "${field}")`, name.slice(0, 100));
    }
    const at = `${field}[${out.length}]`;
    if (part.type !== 'file') throw new ApiError(400, 'invalid-request', `${at}: expected an image file, got a text field`, at);
    if (opts.max !== undefined && out.length >= opts.max) {
      await part.toBuffer().catch(() => undefined);
      throw new ApiError(400, 'too-many-files', `${field}: expected at most ${opts.max} file(s)`, field);
    }
    const data = await part.toBuffer();
    out.push({ field: at, filename: safeFilename(part.filename), data, tooLarge: part.file.truncated });
  }
  if (out.length === 0) throw new ApiError(400, 'invalid-request', `${field}: expected at least one image file in the multipart field "${field}"`, field);
  return out;
}
