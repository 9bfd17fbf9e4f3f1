/**
 * Model descriptors: models are data. Adding a model is adding one of these JSON files,
 * never a class. The schema is validated with zod so a bad descriptor names the key at fault.
 */
import { z } from 'zod';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters (sha256)');
const num3 = z.tuple([z.number(), z.number(), z.number()]);
const point = z.tuple([z.number(), z.number()]);

export const FileRefSchema = z.strictObject({
  file: z.string().min(1),
  sha256,
});
export type FileRef = z.infer<typeof FileRefSchema>;

export const EmbedderDescriptorSchema = z.strictObject({
  kind: z.literal('embedder'),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-"'),
  description: z.string(),
  /** ONNX file name, resolved in the model directories. */
  file: z.string().min(1),
  sha256,
  /** Where the file comes from and how to get it; printed when it is missing or wrong. */
  obtain: z.string(),
  license: z.string().optional(),
  input: z.strictObject({
    /** Input tensor name; default: the model's first input. */
    name: z.string().optional(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    layout: z.enum(['NCHW', 'NHWC']),
    colorOrder: z.enum(['RGB', 'BGR']),
    /** Per-channel (x - mean) / std on 0..255 values, in the model's colour order. */
    mean: num3,
    std: num3,
  }),
  output: z.strictObject({
    /** Output tensor name; default: the model's first output. */
    name: z.string().optional(),
    size: z.number().int().positive(),
  }),
  /** How embeddings are compared; embeddings are L2-normalised when `l2normalize` is true. */
  distance: z.enum(['cosine', 'euclidean']),
  l2normalize: z.boolean().default(true),
  /** Also embed the horizontally flipped crop and add the two (a common accuracy gain). */
  flipAugment: z.boolean().default(false),
  alignment: z.strictObject({
    /**
     * Where the 5 landmarks (left eye, right eye, nose, left mouth corner, right mouth corner,
     * in image order) land in the model's input, in input pixels.
     */
    template: z.tuple([point, point, point, point, point]),
  }),
  /** Suggested open-set distance threshold for this model before calibration. */
  defaultThreshold: z.number().positive().optional(),
});
export type EmbedderDescriptor = z.infer<typeof EmbedderDescriptorSchema>;

export const DetectorDescriptorSchema = z.strictObject({
  kind: z.literal('detector'),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-"'),
  description: z.string(),
  /** Post-processing family: the decoding of the network outputs. */
  family: z.enum(['mtcnn', 'yunet', 'tiny-yolo']),
  runtime: z.enum(['opencv', 'onnxruntime']),
  /** Files by role (mtcnn: pnet, rnet, onet; yunet: model; tiny-yolo: detector, landmarks). */
  files: z.record(z.string(), FileRefSchema),
  obtain: z.string(),
  license: z.string().optional(),
  /** Family-specific defaults (thresholds, minimum face size, input size...). */
  options: z.record(z.string(), z.unknown()).default({}),
  input: z
    .strictObject({ colorOrder: z.enum(['RGB', 'BGR']), mean: num3.optional(), std: num3.optional() })
    .optional(),
});
export type DetectorDescriptor = z.infer<typeof DetectorDescriptorSchema>;

export const ModelDescriptorSchema = z.discriminatedUnion('kind', [
  EmbedderDescriptorSchema,
  DetectorDescriptorSchema,
]);
export type ModelDescriptor = z.infer<typeof ModelDescriptorSchema>;

/** Formats a zod error as "key.path: reason" lines. */
export function formatZodError(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

export function parseDescriptor(json: unknown, source: string): ModelDescriptor {
  const result = ModelDescriptorSchema.safeParse(json);
  if (!result.success) {
    throw new Error(`invalid model descriptor ${source}: ${formatZodError(result.error)}`);
  }
  return result.data;
}
