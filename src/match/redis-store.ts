/**
 * Redis gallery store for distributed mode: several matcher processes share one gallery (identities,
 * embeddings, watchlists, thresholds) and its trained SVM model, held in Redis with a version.
 *
 *   const store = openRedisGallery(url, { prefix: 'facestream:' });   // url: redis[s]://[user:pw@]host:port/db
 *   const v = await store.save(gallery, model);           // atomic; returns the new version
 *   const cur = await store.load();                        // {gallery, model?, version, epoch} | undefined
 *   await store.update((cur) => addIdentity(cur!.gallery, input).gallery); // load-modify-save, retried
 *   const stop = store.watch((version) => ...);            // new versions (pub/sub + resync on reconnect)
 *   const follower = new GalleryFollower(store);           // matchers: in-memory copy, degraded mode
 *
 * Key layout: see redis/keys.ts. Writes: redis/commit.ts (a compare-and-set Lua script on the version;
 * the new version is published by the same script). Reads are consistent snapshots: the head is read
 * before and after the identities and the read is retried (last tries inside MULTI) when it moved.
 *
 * NOTICES. Every commit PUBLISHes "<version> <epoch>" on {prefix}gallery:versions from inside the commit
 * script. Pub/sub rather than a stream: a notice only says "look at the head", so a lost one costs
 * nothing as long as the head is re-read whenever one could have been lost: watch() reads it after every
 * (re)subscription, and GalleryFollower also polls it. A stream would add retention to manage for no gain.
 *
 * WRITES ONLY WHAT CHANGED. An instance remembers the identity objects it last loaded or saved and the
 * head they belong to; a save whose compare-and-set is against that same head skips identities that
 * are the same objects (gallery operations are immutable and keep unchanged identities), so enrolling
 * one person into a 10k gallery writes one identity, not 10k. Never modify a loaded Identity in place.
 *
 * VERSIONS. The stored version is authoritative: save() ignores `gallery.version` and returns the new
 * stored version; load() returns a gallery whose `version` (and the model's shape.galleryVersion) is it.
 * A wiped Redis starts a new epoch (head.epoch) at version 1; followers compare versions within an epoch.
 *
 * MODEL. save(gallery, model) stores the model only if it was trained on exactly these identities and
 * example counts (sameShape), else it throws; save(gallery) without a model deletes the stored one
 * (matchers must then train). update() keeps the stored model when the function leaves
 * `gallery.identities` untouched (watchlist and threshold changes: gallery operations are immutable).
 * deleteIdentity() removes the identity's row from the model, so matchers keep working without the
 * erased person; the other identities' SVMs were trained with that person as a negative: retrain soon.
 *
 * SECURITY. Embeddings are biometric data and the gallery names people: Redis MUST be access-controlled.
 *   - Require authentication: an ACL user per role (aclRules('reader' | 'writer', prefix) in
 *     redis/keys.ts gives the exact rules; matchers only need 'reader') or at least `requirepass`.
 *   - Use TLS across any network you do not fully control: a `rediss://` URL (CA etc. through
 *     options.redisOptions.tls). Bind Redis to private interfaces; keep protected-mode on.
 *   - Persistence (AOF, fsync) and backups hold the same biometric data: protect and expire them too.
 *   - Passwords may be given in the URL (`rediss://user:password@host:6380/0`). The URL is only ever
 *     shown masked (maskUrl: `rediss://***@host:6380/0`), and errors are rebuilt from the Redis error's
 *     message with the password scrubbed: ioredis attaches the failed command's arguments (the AUTH
 *     password, embedding buffers) to its errors, so they are never passed on or logged. Never run with
 *     DEBUG=ioredis:* in production: ioredis's debug output prints command arguments.
 * Embeddings are stored as binary Float32 (redis/codec.ts), never as JSON text, and never logged.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Gallery } from './gallery';
import { type CommitOp, commit, defineCommit } from './redis/commit';
import { checkGallery, decodeIdentity, decodeMeta, decodeModel, encodeIdentity, encodeMeta, encodeModel, removeModelRow } from './redis/codec';
import { type GalleryKeys, DEFAULT_PREFIX, aclRules, galleryKeys } from './redis/keys';
import type { SvmModel } from './svm';
import { type Logger, logger } from '../util/log';
import { redisUrlScrubber, type RedisUrlScrubber } from '../util/redis-url';

export { DEFAULT_PREFIX, aclRules, galleryKeys, type GalleryKeys };
export { GalleryFollower, type FollowerOptions, type FollowerHealth, type GallerySnapshot } from './redis/follower';

export interface GalleryHead {
  version: number;
  epoch: string;
  savedAt?: string;
}

export interface StoredGallery {
  gallery: Gallery;
  model?: SvmModel;
  version: number;
  epoch: string;
}

export interface SaveOptions {
  /** Fail with VersionConflictError unless the stored version is this (0: nothing stored yet). */
  expectedVersion?: number;
  /** With expectedVersion: also require this epoch. */
  expectedEpoch?: string;
}

export type UpdateResult = Gallery | { gallery: Gallery; model?: SvmModel };

export interface VersionNotice {
  epoch: string;
  /**
   * false: a pub/sub notice of a commit. true: the stored version read after (re)subscribing (version 0
   * and epoch '' when Redis holds no gallery); notices missed while disconnected are covered by it.
   */
  resync: boolean;
}

export interface WatchOptions {
  /** false when the subscription connection is lost, true once it is back and resynchronised. */
  onConnection?: (up: boolean, error?: Error) => void;
}

export interface RedisGallery {
  /** The URL with credentials masked. */
  readonly url: string;
  readonly keys: GalleryKeys;
  /** The stored version, or undefined when no gallery is stored. */
  head(): Promise<GalleryHead | undefined>;
  load(): Promise<StoredGallery | undefined>;
  /** Replaces the stored gallery (and model) atomically; returns the new version. */
  save(gallery: Gallery, model?: SvmModel, options?: SaveOptions): Promise<number>;
  /** load → fn → save(expected = what was loaded), retried when another writer got in first. */
  update(fn: (current: StoredGallery | undefined) => UpdateResult | Promise<UpdateResult>, options?: { maxAttempts?: number }): Promise<StoredGallery>;
  /** Erasure: removes the identity (its key, its model row, watchlist entries) and bumps the version. */
  deleteIdentity(id: string): Promise<number>;
  /** Calls onVersion for every new version; returns the unsubscribe function. */
  watch(onVersion: (version: number, notice: VersionNotice) => void, options?: WatchOptions): () => void;
  close(): Promise<void>;
}

export interface RedisGalleryOptions {
  /** Key prefix, default "facestream:" (Redis Cluster: use a hash tag, e.g. "{facestream}:"). */
  prefix?: string;
  /** Default: the facestream logger. Only masked URLs and scrubbed messages are logged. */
  log?: Logger;
  /** Longest wait between reconnection attempts, ms (default 2000). */
  reconnectMaxMs?: number;
  /** Save attempts lost to concurrent writers before giving up (default 20). */
  maxAttempts?: number;
  /** Passed to ioredis over the defaults (e.g. tls: { ca }, commandTimeout). */
  redisOptions?: RedisOptions;
}

/** The stored version is not the one the writer expected. */
export class VersionConflictError extends Error {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`gallery version conflict: expected stored version ${expected}, found ${actual} (another writer saved first; reload and retry)`);
    this.name = 'VersionConflictError';
  }
}

export class UnknownIdentityError extends Error {
  constructor(readonly id: string) {
    super(`unknown identity "${id}": not in the Redis gallery`);
    this.name = 'UnknownIdentityError';
  }
}

/** A failure talking to Redis (or a damaged record); the message is scrubbed of credentials. */
export class RedisGalleryError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'RedisGalleryError';
  }
}

/** Load attempts: plain pipelines first, then MULTI; a load fails when the gallery changed during each. */
const OPTIMISTIC_READS = 3;
const MAX_READS = 10;
/** HMGET rather than HGETALL: no per-identity object to build (about 1.5x faster at 10k identities). */
const IDENTITY_FIELDS = ['name', 'createdAt', 'embeddings', 'negatives'] as const;

function fieldsOf(values: (Buffer | null)[]): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  IDENTITY_FIELDS.forEach((f, i) => {
    const v = values[i];
    if (v) out[f] = v;
  });
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function newEpoch(): string {
  return randomBytes(8).toString('hex');
}

/** Opens (connecting in the background) the Redis gallery at `url` (redis:// or rediss://). */
export function openRedisGallery(url: string, options: RedisGalleryOptions = {}): RedisGallery {
  return new RedisGalleryImpl(url, options);
}

class RedisGalleryImpl implements RedisGallery {
  readonly url: string;
  readonly keys: GalleryKeys;
  private readonly client: Redis;
  private readonly scrubber: RedisUrlScrubber;
  private readonly log: Logger;
  private readonly subs = new Set<Redis>();
  private readonly maxAttempts: number;
  private closed = false;
  private lastError = '';
  /** What this instance last read or wrote, so that a save can skip identities stored unchanged. */
  private known: { head: GalleryHead; identities: Map<string, unknown>; model?: SvmModel } | undefined;

  constructor(url: string, options: RedisGalleryOptions) {
    this.scrubber = redisUrlScrubber(url, 'redis gallery URL', options.redisOptions?.password ?? '');
    this.url = this.scrubber.url;
    this.keys = galleryKeys(options.prefix ?? DEFAULT_PREFIX);
    this.log = (options.log ?? logger()).child({ component: 'redis-gallery' });
    this.maxAttempts = options.maxAttempts ?? 20;
    const reconnectMaxMs = options.reconnectMaxMs ?? 2000;
    const redisOptions: RedisOptions = {
      maxRetriesPerRequest: 2,
      connectTimeout: 5000,
      // No commandTimeout: ioredis leaves the timers of commands queued in a MULTI running (a CLI would
      // wait for them before exiting). GalleryFollower bounds its own reads (checkTimeoutMs, loadTimeoutMs);
      // pass redisOptions.commandTimeout where a writer must not wait on a half-open connection.
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 10), reconnectMaxMs),
      enableOfflineQueue: true,
      autoResubscribe: true,
      ...options.redisOptions,
    };
    this.client = new Redis(url, redisOptions);
    defineCommit(this.client);
    this.client.on('error', (e: unknown) => this.noteError(e));
    this.client.on('ready', () => {
      if (this.lastError) this.log.info({ url: this.url }, 'redis gallery connection restored');
      this.lastError = '';
    });
  }

  /** The error's message with credentials and the raw URL removed. */
  private scrub(message: string): string {
    return this.scrubber.scrub(message);
  }

  private noteError(e: unknown): void {
    const msg = this.scrub(e instanceof Error ? e.message : String(e));
    if (msg === this.lastError) return; // one line per distinct failure, not one per reconnection attempt
    this.lastError = msg;
    this.log.warn({ url: this.url, error: msg }, 'redis gallery connection error');
  }

  /** Our own errors pass; anything else (ioredis errors carry command arguments) is rebuilt, scrubbed. */
  private wrap(e: unknown, what: string): Error {
    if (e instanceof VersionConflictError || e instanceof UnknownIdentityError || e instanceof RedisGalleryError) return e;
    let text = e instanceof Error ? e.message : String(e);
    // EXECABORT hides why a queued command was refused (e.g. NOPERM): say it.
    const previous = (e as { previousErrors?: unknown })?.previousErrors;
    if (Array.isArray(previous) && previous.length > 0) text += ` (${previous.map((p) => (p instanceof Error ? p.message : String(p))).join('; ')})`;
    const msg = this.scrub(text);
    const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : undefined;
    return new RedisGalleryError(`redis gallery ${this.url}: ${what} failed: ${msg}`, code);
  }

  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new RedisGalleryError(`redis gallery ${this.url}: ${what} after close()`);
    try {
      return await fn();
    } catch (e) {
      throw this.wrap(e, what);
    }
  }

  private parseHead(values: (string | null)[] | unknown): GalleryHead | undefined {
    const [version, epoch, savedAt] = values as (string | null)[];
    if (version === null || version === undefined) return undefined;
    const v = Number(version);
    if (!Number.isSafeInteger(v) || v < 1 || !epoch) throw new Error(`${this.keys.head} is damaged (version "${version}", epoch "${epoch ?? ''}")`);
    return savedAt ? { version: v, epoch, savedAt } : { version: v, epoch };
  }

  head(): Promise<GalleryHead | undefined> {
    return this.guard('reading the version', async () => this.parseHead(await this.client.hmget(this.keys.head, 'version', 'epoch', 'savedAt')));
  }

  /** Head and identity order, read atomically. */
  private async readHeadAndMeta(): Promise<{ head: GalleryHead; metaText: string } | undefined> {
    const res = await this.client.multi().hmget(this.keys.head, 'version', 'epoch', 'savedAt').get(this.keys.meta).exec();
    const [headRes, metaRes] = results(res, 2);
    const head = this.parseHead(headRes);
    if (!head) return undefined;
    if (typeof metaRes !== 'string') throw new Error(`${this.keys.head} exists but ${this.keys.meta} is missing`);
    return { head, metaText: metaRes };
  }

  load(): Promise<StoredGallery | undefined> {
    return this.guard('load', async () => {
      for (let attempt = 0; attempt < MAX_READS; attempt++) {
        const first = await this.readHeadAndMeta();
        if (!first) return undefined;
        const meta = decodeMeta(first.metaText, this.keys.meta);
        // Optimistic: a plain pipeline lets other clients run in between; the head read last tells
        // whether a commit got in. The last tries use MULTI (atomic, but it blocks Redis meanwhile).
        const batch = attempt < OPTIMISTIC_READS ? this.client.pipeline() : this.client.multi();
        for (const id of meta.ids) batch.hmgetBuffer(this.keys.identity(id), ...IDENTITY_FIELDS);
        batch.hgetallBuffer(this.keys.model);
        batch.hmget(this.keys.head, 'version', 'epoch', 'savedAt');
        const res = results(await batch.exec(), meta.ids.length + 2);
        const after = this.parseHead(res[res.length - 1]);
        if (!after || after.version !== first.head.version || after.epoch !== first.head.epoch) continue;
        const dim = meta.dim;
        const identities = meta.ids.map((id, k) => decodeIdentity(id, fieldsOf(res[k] as (Buffer | null)[]), dim, this.keys.identity(id)));
        const gallery: Gallery = {
          version: first.head.version,
          embedder: meta.embedder,
          dim,
          metric: meta.metric,
          identities,
          watchlists: meta.watchlists,
          thresholds: meta.thresholds,
        };
        const modelHash = res[meta.ids.length] as Record<string, Buffer>;
        const model = Object.keys(modelHash).length > 0 ? decodeModel(modelHash, gallery, this.keys.model) : undefined;
        this.remember(first.head, gallery, model);
        return model ? { gallery, model, version: first.head.version, epoch: first.head.epoch } : { gallery, version: first.head.version, epoch: first.head.epoch };
      }
      throw new Error(`the gallery changed during each of ${MAX_READS} reads (writers too busy?)`);
    });
  }

  private remember(head: GalleryHead, gallery: Gallery, model: SvmModel | undefined): void {
    this.known = { head, identities: new Map(gallery.identities.map((i) => [i.id, i])), model };
  }

  async save(gallery: Gallery, model?: SvmModel, options: SaveOptions = {}): Promise<number> {
    return (await this.saveHead(gallery, model, options)).version;
  }

  private saveHead(gallery: Gallery, model: SvmModel | undefined, options: SaveOptions): Promise<GalleryHead> {
    return this.guard('save', async () => {
      // Everything is encoded (and checked) before touching Redis.
      checkGallery(gallery);
      const metaText = encodeMeta(gallery);
      const modelFields = model ? encodeModel(model, gallery) : undefined;
      const attempts = options.expectedVersion === undefined ? this.maxAttempts : 1;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const cur = await this.readHeadAndMeta();
        const curVersion = cur?.head.version ?? 0;
        if (options.expectedVersion !== undefined) {
          if (curVersion !== options.expectedVersion || (options.expectedEpoch !== undefined && cur?.head.epoch !== options.expectedEpoch)) {
            throw new VersionConflictError(options.expectedVersion, curVersion);
          }
        }
        const oldIds = cur ? decodeMeta(cur.metaText, this.keys.meta).ids : [];
        const known = cur && this.known && this.known.head.version === cur.head.version && this.known.head.epoch === cur.head.epoch ? this.known : undefined;
        const ops: CommitOp[] = [];
        const keep = new Set(gallery.identities.map((i) => i.id));
        for (const id of oldIds) if (!keep.has(id)) ops.push({ op: 'del', key: this.keys.identity(id) });
        for (const identity of gallery.identities) {
          // Stored unchanged (the same object this instance read or wrote at exactly this version): skip.
          if (known && known.identities.get(identity.id) === identity) continue;
          const key = this.keys.identity(identity.id);
          ops.push({ op: 'del', key }, { op: 'hset', key, fields: encodeIdentity(identity, gallery.dim) });
        }
        ops.push({ op: 'set', key: this.keys.meta, value: metaText });
        if (!(known && model && known.model === model)) {
          ops.push({ op: 'del', key: this.keys.model });
          if (modelFields) ops.push({ op: 'hset', key: this.keys.model, fields: modelFields });
        }
        const epoch = cur?.head.epoch ?? newEpoch();
        const r = await commit(this.client, { head: this.keys.head, channel: this.keys.channel, expected: cur?.head, epoch, ops });
        if (r.ok) {
          const stored: Gallery = { ...gallery, version: r.version };
          this.remember({ version: r.version, epoch }, stored, model);
          return { version: r.version, epoch };
        }
        if (options.expectedVersion !== undefined) throw new VersionConflictError(options.expectedVersion, r.version ?? 0);
        await sleep(Math.random() * 10 * attempt); // another writer committed in between: re-read, retry
      }
      throw new Error(`${attempts} attempts in a row lost to concurrent writers`);
    });
  }

  async update(
    fn: (current: StoredGallery | undefined) => UpdateResult | Promise<UpdateResult>,
    options: { maxAttempts?: number } = {},
  ): Promise<StoredGallery> {
    const attempts = options.maxAttempts ?? this.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      const cur = await this.load();
      const out = await fn(cur);
      const next = 'identities' in out ? { gallery: out as Gallery, model: undefined } : (out as { gallery: Gallery; model?: SvmModel });
      let model = next.model;
      // Training data untouched (same identities array): the stored model still fits.
      if (!model && cur?.model && next.gallery.identities === cur.gallery.identities) model = cur.model;
      try {
        const { version, epoch } = await this.saveHead(next.gallery, model, { expectedVersion: cur?.version ?? 0, expectedEpoch: cur?.epoch });
        const gallery = { ...next.gallery, version };
        const stored: StoredGallery = { gallery, version, epoch };
        if (model) stored.model = { ...model, shape: { ...model.shape, galleryVersion: version } };
        return stored;
      } catch (e) {
        if (!(e instanceof VersionConflictError) || attempt >= attempts) throw e;
        await sleep(Math.random() * 10 * attempt);
      }
    }
  }

  deleteIdentity(id: string): Promise<number> {
    return this.guard('deleteIdentity', async () => {
      for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
        const res = await this.client
          .multi()
          .hmget(this.keys.head, 'version', 'epoch', 'savedAt')
          .get(this.keys.meta)
          .hgetallBuffer(this.keys.model)
          .exists(this.keys.identity(id))
          .exec();
        const [headRes, metaRes, modelRes, exists] = results(res, 4);
        const head = this.parseHead(headRes);
        if (!head || typeof metaRes !== 'string') throw new UnknownIdentityError(id);
        const meta = decodeMeta(metaRes, this.keys.meta);
        if (!meta.ids.includes(id) && exists !== 1) throw new UnknownIdentityError(id);
        const next = {
          ...meta,
          ids: meta.ids.filter((x) => x !== id),
          watchlists: meta.watchlists.map((w) => ({ ...w, identities: w.identities.filter((x) => x !== id) })),
        };
        const ops: CommitOp[] = [
          { op: 'del', key: this.keys.identity(id) },
          { op: 'set', key: this.keys.meta, value: JSON.stringify(next) },
        ];
        const modelHash = modelRes as Record<string, Buffer>;
        if (Object.keys(modelHash).length > 0) {
          const fields = removeModelRow(modelHash, id, this.keys.model);
          if (fields) ops.push({ op: 'del', key: this.keys.model }, { op: 'hset', key: this.keys.model, fields });
        }
        const r = await commit(this.client, { head: this.keys.head, channel: this.keys.channel, expected: head, epoch: head.epoch, ops });
        if (r.ok) {
          this.known = undefined;
          return r.version;
        }
        await sleep(Math.random() * 10 * attempt);
      }
      throw new Error(`${this.maxAttempts} attempts in a row lost to concurrent writers`);
    });
  }

  watch(onVersion: (version: number, notice: VersionNotice) => void, options: WatchOptions = {}): () => void {
    if (this.closed) throw new RedisGalleryError(`redis gallery ${this.url}: watch after close()`);
    const sub = this.client.duplicate();
    this.subs.add(sub);
    let up = false;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    let lastError: Error | undefined;
    const down = (error?: Error) => {
      if (!up || stopped) return;
      up = false;
      options.onConnection?.(false, error);
    };
    const resync = async () => {
      if (retry) clearTimeout(retry);
      retry = undefined;
      try {
        // SUBSCRIBE again (ioredis re-subscribes by itself; this one's reply proves it is active): only
        // then is the stored version read, so that no commit can fall between the two unseen.
        await sub.subscribe(this.keys.channel);
        const head = await this.head();
        if (stopped) return;
        if (!up) {
          up = true;
          options.onConnection?.(true);
        }
        onVersion(head?.version ?? 0, { epoch: head?.epoch ?? '', resync: true });
      } catch (e) {
        if (stopped) return;
        lastError = this.wrap(e, 'resubscribing');
        down(lastError);
        if (sub.status === 'ready') retry = setTimeout(() => void resync(), 1000).unref();
      }
    };
    sub.on('error', (e: unknown) => {
      lastError = this.wrap(e, 'subscription');
      this.noteError(e);
    });
    sub.on('ready', () => void resync());
    sub.on('close', () => down(lastError ?? new RedisGalleryError(`redis gallery ${this.url}: subscription connection closed`)));
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.keys.channel || stopped) return;
      const m = /^(\d+) ([0-9a-f]+)$/.exec(message);
      if (!m) return; // not ours: ignored
      onVersion(Number(m[1]), { epoch: m[2], resync: false });
    });
    return () => {
      if (stopped) return;
      stopped = true;
      if (retry) clearTimeout(retry);
      this.subs.delete(sub);
      sub.disconnect();
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subs) s.disconnect();
    this.subs.clear();
    this.known = undefined;
    this.client.disconnect();
  }
}


/** Values of a pipeline/MULTI reply, throwing the first command error. */
function results(res: [Error | null, unknown][] | null, expected: number): unknown[] {
  if (!res) throw new Error('transaction aborted');
  if (res.length !== expected) throw new Error(`${res.length} replies, ${expected} expected`);
  for (const [err] of res) if (err) throw err;
  return res.map(([, v]) => v);
}
