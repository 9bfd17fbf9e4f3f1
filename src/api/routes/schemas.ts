/** zod schemas shared by the identity, watchlist and recognize routes (each message says what was expected). */
import { z } from 'zod';

export const SLUG_EXPECTED = 'expected an identity id: lowercase letters and digits separated by single dashes, at most 100 characters (e.g. "jane-doe")';
export const IdentityId = z.string({ error: SLUG_EXPECTED }).max(100, { error: SLUG_EXPECTED }).regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, { error: SLUG_EXPECTED });

export const WATCHLIST_EXPECTED = 'expected a watchlist name: 1-64 letters, digits, ".", "_" or "-"';
export const WatchlistName = z.string({ error: WATCHLIST_EXPECTED }).regex(/^[A-Za-z0-9._-]{1,64}$/, { error: WATCHLIST_EXPECTED });

const NAME_EXPECTED = 'expected a non-empty string of at most 200 characters';
export const PersonName = z.string({ error: NAME_EXPECTED }).trim().min(1, { error: NAME_EXPECTED }).max(200, { error: NAME_EXPECTED });

const META_EXPECTED = 'expected an object of at most 50 keys (each 1-64 characters) with string (at most 1000 characters), number, boolean or null values';
export const Metadata = z
  .record(
    z.string().min(1, { error: META_EXPECTED }).max(64, { error: META_EXPECTED }),
    z.union([z.string().max(1000, { error: META_EXPECTED }), z.number(), z.boolean(), z.null()], { error: META_EXPECTED }),
    { error: META_EXPECTED },
  )
  .refine((m) => Object.keys(m).length <= 50, { error: META_EXPECTED });

export const IdParams = z.strictObject({ id: IdentityId });
export const WatchlistParams = z.strictObject({ name: WatchlistName });

const LIMIT_EXPECTED = 'expected an integer 1..1000';
export const Paging = z.strictObject({
  limit: z.coerce.number({ error: LIMIT_EXPECTED }).int({ error: LIMIT_EXPECTED }).min(1, { error: LIMIT_EXPECTED }).max(1000, { error: LIMIT_EXPECTED }).default(100),
  offset: z.coerce.number({ error: 'expected an integer >= 0' }).int({ error: 'expected an integer >= 0' }).min(0, { error: 'expected an integer >= 0' }).default(0),
});

export const Box = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() });
export const Quality = z.object({ score: z.number(), faceSize: z.number(), eyeDistance: z.number(), blur: z.number(), yaw: z.number(), pitch: z.number(), roll: z.number() });
