/**
 * Key layout of the Redis gallery (everything under one configurable prefix, default `facestream:`):
 *
 *   {p}gallery:head            hash   version (integer, HINCRBY), epoch (random hex), savedAt (ISO 8601)
 *   {p}gallery:meta            string JSON: format, embedder, dim, metric, thresholds, watchlists, ids (order)
 *   {p}gallery:identity:{id}   hash   name, createdAt, embeddings, negatives (binary Float32 LE rows)
 *   {p}gallery:model           hash   meta (JSON: ids, options, stats), weights, bias (binary Float32 LE)
 *   {p}gallery:versions        pub/sub channel: "<version> <epoch>" published by every commit
 *
 * The epoch is drawn when a commit finds no head (a new or wiped Redis): versions only compare within
 * one epoch, so a follower holding v7 of a lost history still takes v1 of a new one.
 *
 * Redis Cluster: a commit touches all these keys in one script, so they must hash to one slot: use a
 * prefix with a hash tag, e.g. `{facestream}:`.
 */

export const DEFAULT_PREFIX = 'facestream:';

export interface GalleryKeys {
  readonly prefix: string;
  readonly head: string;
  readonly meta: string;
  readonly model: string;
  /** Pub/sub channel of new versions. */
  readonly channel: string;
  /** SCAN/ACL pattern matching every key (and the channel) of this prefix. */
  readonly pattern: string;
  identity(id: string): string;
}

export function galleryKeys(prefix: string = DEFAULT_PREFIX): GalleryKeys {
  if (typeof prefix !== 'string' || prefix.length === 0) throw new Error('redis gallery prefix must be a non-empty string');
  if (/[\s*?[\]\\]/.test(prefix)) {
    throw new Error(`redis gallery prefix "${prefix}" must not hold whitespace or glob characters (* ? [ ] \\)`);
  }
  const g = `${prefix}gallery:`;
  return {
    prefix,
    head: `${g}head`,
    meta: `${g}meta`,
    model: `${g}model`,
    channel: `${g}versions`,
    pattern: `${prefix}*`,
    identity: (id: string) => `${g}identity:${id}`,
  };
}

/**
 * ACL rules (Redis 6+ `ACL SETUSER name on >password <rules...>`) giving a facestream process only what it
 * needs on its prefix. Matchers (followers) read and subscribe; writers (enrol, calibrate, watchlist
 * commands, the API) also run the commit script, whose HSET/HINCRBY/DEL/SET/PUBLISH are checked against
 * the same rules. `info` is ioredis's ready check (it waits for Redis to finish loading its data).
 */
export function aclRules(role: 'reader' | 'writer', prefix: string = DEFAULT_PREFIX): string[] {
  const k = galleryKeys(prefix);
  const read = ['+get', '+hmget', '+hgetall', '+exists', '+multi', '+exec', '+discard', '+subscribe', '+unsubscribe', '+ping', '+info', '+select'];
  // Matchers also keep the per-(camera, identity) alert cooldown: SET NX PX / PTTL on <prefix>cooldown:* only.
  if (role === 'reader') return ['resetkeys', `%R~${k.pattern}`, `~${prefix}cooldown:*`, 'resetchannels', `&${k.pattern}`, '-@all', ...read, '+set', '+pttl'];
  const write = ['+eval', '+evalsha', '+hset', '+hincrby', '+del', '+set', '+publish'];
  return ['resetkeys', `~${k.pattern}`, 'resetchannels', `&${k.pattern}`, '-@all', ...read, ...write];
}
