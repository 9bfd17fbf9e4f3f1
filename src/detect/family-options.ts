/**
 * Validation of a detector family's options: the descriptor's `options` (an unknown key is an error, likely a
 * typo) with the caller's overrides on top (undefined overrides are ignored). One error names every bad key.
 */
import type { z } from 'zod';

export function parseFamilyOptions<S extends z.ZodType>(schema: S, family: string, raw: Record<string, unknown>, overrides: object = {}): z.infer<S> {
  const clean = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const result = schema.safeParse({ ...raw, ...clean });
  if (!result.success) {
    const msg = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid ${family} options: ${msg}`);
  }
  return result.data;
}
