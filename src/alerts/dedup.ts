/**
 * Exactly-once bookkeeping of webhook deliveries across alerts processes, in Redis.
 *
 * One key per (alert id, webhook): `<prefix>alert:<alert id>:<webhook tag>` (the tag is the webhook's spool
 * directory name, `webhook-<12 hex>`, the same in every process configured with that webhook; one key per webhook
 * because each webhook is delivered on its own: an alert delivered to A and still pending for B is neither). Value:
 *   `<owner>`            claimed: the alerts instance `<owner>` holds the alert in its durable spool and sends it
 *   `delivered:<owner>`  delivered (by `<owner>`)
 * Keys expire after `ttlSec` (config redis.dedupTtlSec); the owner's claims are refreshed on every claim() and
 * the TTL restarts on delivery, so a replay within the TTL of the delivery is recognised.
 *
 * claim() is `SET key owner NX EX ttl`, and when the key exists its value decides (one Lua script, so the answer
 * is atomic with the SET): claimed | mine (this owner's own claim, e.g. after a restart) | delivered | other.
 *
 * Connection: commands fail fast while Redis is unreachable (no offline queue; a per-command timeout against a
 * half-open connection) so that callers can defer instead of hanging; ioredis reconnects in the background.
 * Errors are rebuilt with any password removed (ioredis errors can carry command arguments and the URL).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { type Logger, logger as rootLogger } from '../util/log';
import { redisUrlScrubber, type RedisUrlScrubber } from '../util/redis-url';

export type ClaimResult = 'claimed' | 'mine' | 'delivered' | 'other';
/** What a key says without changing it (peek). */
export type ClaimState = 'free' | 'mine' | 'delivered' | 'other';

export const DELIVERED_PREFIX = 'delivered:';
const OWNER = /^[A-Za-z0-9._-]{1,200}$/;

export interface AlertClaimsOptions {
  /** redis:// or rediss:// (may hold a password: only ever shown masked). */
  url: string;
  /** Key prefix (config redis.prefix). */
  prefix: string;
  ttlSec: number;
  /** This instance's id: letters, digits, ".", "_", "-" (never starts with "delivered:"). */
  owner: string;
  /** Per-command timeout, ms (default 2000). */
  commandTimeoutMs?: number;
  /** Cap of the reconnection backoff, ms (default 2000). */
  reconnectMaxMs?: number;
  log?: Logger;
  /** Passed to ioredis over the defaults (e.g. tls). */
  redisOptions?: RedisOptions;
}

const CLAIM_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 'claimed' end
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 'mine'
end
if v and string.sub(v, 1, ${DELIVERED_PREFIX.length}) == '${DELIVERED_PREFIX}' then return 'delivered' end
return 'other'
`;

type ClaimClient = Redis & { facestreamAlertClaim(key: string, owner: string, ttl: number): Promise<string> };

export class AlertClaimsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlertClaimsError';
  }
}

export class AlertClaims {
  /** The URL, masked. */
  readonly url: string;
  readonly owner: string;
  private readonly prefix: string;
  private readonly ttlSec: number;
  private readonly client: ClaimClient;
  private readonly scrubber: RedisUrlScrubber;
  private readonly log: Logger;
  private lastError = '';
  private closed = false;

  constructor(opts: AlertClaimsOptions) {
    if (!OWNER.test(opts.owner) || opts.owner.startsWith(DELIVERED_PREFIX)) {
      throw new AlertClaimsError(`alert claims: owner id ${JSON.stringify(opts.owner.slice(0, 60))} is not [A-Za-z0-9._-]{1,200}`);
    }
    if (!Number.isInteger(opts.ttlSec) || opts.ttlSec < 1) throw new AlertClaimsError(`alert claims: ttlSec must be a positive integer, got ${opts.ttlSec}`);
    try {
      this.scrubber = redisUrlScrubber(opts.url, 'alert claims:', opts.redisOptions?.password ?? '');
    } catch (err) {
      throw new AlertClaimsError((err as Error).message);
    }
    this.url = this.scrubber.url;
    this.owner = opts.owner;
    this.prefix = opts.prefix;
    this.ttlSec = opts.ttlSec;
    this.log = (opts.log ?? rootLogger()).child({ component: 'alert-claims' });
    const reconnectMaxMs = opts.reconnectMaxMs ?? 2000;
    this.client = new Redis(opts.url, {
      enableOfflineQueue: false,
      commandTimeout: opts.commandTimeoutMs ?? 2000,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 10), reconnectMaxMs),
      ...opts.redisOptions,
    }) as ClaimClient;
    this.client.defineCommand('facestreamAlertClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    this.client.on('error', (e: unknown) => this.noteError(e));
    this.client.on('ready', () => {
      if (this.lastError) this.log.info({ url: this.url }, 'redis connection for alert claims restored');
      this.lastError = '';
    });
  }

  /** The key of (alert id, webhook tag). */
  key(id: string, webhook: string): string {
    return `${this.prefix}alert:${id}:${webhook}`;
  }

  /** Whether commands can be sent now. */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** For /readyz: ok while connected, else why not. */
  health(): { ok: boolean; detail: string } {
    if (this.connected) return { ok: true, detail: `connected to ${this.url}` };
    return { ok: false, detail: `redis ${this.url} ${this.client.status}${this.lastError ? `: ${this.lastError}` : ''} (alerts stay spooled)` };
  }

  /** Resolves true once connected, false after `timeoutMs` (the connection keeps trying in the background). */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connected && !this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    return this.connected;
  }

  /** Claims (alert id, webhook) for this owner: see the file comment. Throws AlertClaimsError when Redis does not answer. */
  async claim(id: string, webhook: string): Promise<ClaimResult> {
    const r = await this.run('claim', () => this.client.facestreamAlertClaim(this.key(id, webhook), this.owner, this.ttlSec));
    if (r !== 'claimed' && r !== 'mine' && r !== 'delivered' && r !== 'other') throw new AlertClaimsError(`alert claims: unexpected answer ${String(r).slice(0, 40)}`);
    return r;
  }

  /** Records the delivery (TTL restarts). Throws AlertClaimsError when Redis does not answer. */
  async markDelivered(id: string, webhook: string): Promise<void> {
    await this.run('mark delivered', () => this.client.set(this.key(id, webhook), `${DELIVERED_PREFIX}${this.owner}`, 'EX', this.ttlSec));
  }

  /** The state of (id, webhook) for each webhook, without changing anything. Throws AlertClaimsError when Redis does not answer. */
  async peek(id: string, webhooks: readonly string[]): Promise<ClaimState[]> {
    if (webhooks.length === 0) return [];
    const values = await this.run('peek', () => this.client.mget(webhooks.map((w) => this.key(id, w))));
    return values.map((v) => this.stateOf(v));
  }

  stateOf(value: string | null): ClaimState {
    if (value === null) return 'free';
    if (value === this.owner) return 'mine';
    if (value.startsWith(DELIVERED_PREFIX)) return 'delivered';
    return 'other';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.client.status === 'ready') await this.client.quit();
      else this.client.disconnect();
    } catch {
      this.client.disconnect();
    }
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new AlertClaimsError(`alert claims: ${what}: closed`);
    if (!this.connected) throw new AlertClaimsError(`alert claims: ${what}: redis ${this.url} is ${this.client.status}${this.lastError ? ` (${this.lastError})` : ''}`);
    try {
      return await fn();
    } catch (err) {
      throw new AlertClaimsError(`alert claims: ${what} at ${this.url} failed: ${this.scrub(err instanceof Error ? err.message : String(err))}`);
    }
  }

  private scrub(text: string): string {
    return this.scrubber.scrub(text);
  }

  private noteError(e: unknown): void {
    const msg = this.scrub(e instanceof Error ? e.message : String(e));
    if (msg === this.lastError) return; // one line per distinct failure, not one per reconnection attempt
    this.lastError = msg;
    this.log.warn({ url: this.url, error: msg }, 'redis connection for alert claims failed');
  }
}
