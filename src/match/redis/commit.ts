/**
 * The one way the gallery changes in Redis: a Lua script that compares the head's version and epoch with
 * what the writer read (optimistic concurrency), applies the writer's batch of DEL/SET/HSET, bumps the
 * version and publishes it, all atomically (Redis runs a script to the end before serving anyone else).
 *
 * Why a script and not WATCH + MULTI/EXEC: WATCH belongs to a connection, and ioredis reconnects
 * transparently; a connection lost between WATCH and EXEC would run the EXEC on a fresh, un-watched
 * connection and could overwrite a concurrent commit. The script's compare-and-set needs no connection
 * state. The batch is validated before the first write, every HSET key is DEL'ed first (no WRONGTYPE
 * half-way), and the `#!lua` shebang makes Redis refuse the whole script up front when it is out of
 * memory, so a commit is all or nothing. PUBLISH runs inside the script, after the writes: a notice goes
 * out exactly when the version is visible, and a writer that dies after committing cannot lose it.
 */
import type { Redis } from 'ioredis';

/**
 * KEYS[1] head, KEYS[2..] keys the ops name by index.
 * ARGV[1] expected version ('' = no head yet), ARGV[2] expected epoch, ARGV[3] epoch to record,
 * ARGV[4] channel, ARGV[5] savedAt, then ops: 'del' k | 'set' k value | 'hset' k n field value ...
 * Returns {'ok', newVersion} or {'conflict', version, epoch}.
 */
export const COMMIT_LUA = `#!lua
local head = KEYS[1]
local cur = redis.call('HMGET', head, 'version', 'epoch')
local version = cur[1] or ''
local epoch = cur[2] or ''
if version ~= ARGV[1] or epoch ~= ARGV[2] then
  return {'conflict', version, epoch}
end
local n = #ARGV
local i = 6
while i <= n do
  local op = ARGV[i]
  local k = tonumber(ARGV[i + 1])
  if k == nil or KEYS[k] == nil or k < 2 then
    return redis.error_reply('ERR facestream commit: bad key index at argument ' .. i)
  end
  if op == 'del' then
    i = i + 2
  elseif op == 'set' then
    i = i + 3
  elseif op == 'hset' then
    local count = tonumber(ARGV[i + 2])
    if count == nil or count < 2 or count % 2 ~= 0 then
      return redis.error_reply('ERR facestream commit: bad field count at argument ' .. i)
    end
    i = i + 3 + count
  else
    return redis.error_reply('ERR facestream commit: unknown op at argument ' .. i)
  end
end
if i ~= n + 1 then
  return redis.error_reply('ERR facestream commit: truncated op list')
end
i = 6
while i <= n do
  local op = ARGV[i]
  local key = KEYS[tonumber(ARGV[i + 1])]
  if op == 'del' then
    redis.call('DEL', key)
    i = i + 2
  elseif op == 'set' then
    redis.call('SET', key, ARGV[i + 2])
    i = i + 3
  else
    local count = tonumber(ARGV[i + 2])
    for j = i + 3, i + 2 + count, 2 do
      redis.call('HSET', key, ARGV[j], ARGV[j + 1])
    end
    i = i + 3 + count
  end
end
local bumped = redis.call('HINCRBY', head, 'version', 1)
redis.call('HSET', head, 'epoch', ARGV[3], 'savedAt', ARGV[5])
redis.call('PUBLISH', ARGV[4], bumped .. ' ' .. ARGV[3])
return {'ok', bumped}
`;

export type CommitOp =
  | { op: 'del'; key: string }
  | { op: 'set'; key: string; value: string | Buffer }
  /** Always preceded by a 'del' of the same key in a batch (the hash is replaced, not merged). */
  | { op: 'hset'; key: string; fields: [string, string | Buffer][] };

export interface CommitRequest {
  head: string;
  channel: string;
  /** What the writer read: undefined when there was no head. */
  expected: { version: number; epoch: string } | undefined;
  /** Epoch to record (the expected one, or a new one when there was no head). */
  epoch: string;
  ops: CommitOp[];
}

export type CommitResult = { ok: true; version: number } | { ok: false; version: number | undefined; epoch: string | undefined };

interface WithCommit {
  facestreamGalleryCommit(numKeys: number, keys: string[], argv: (string | Buffer)[]): Promise<unknown>;
}

/** Registers the script on a client (EVALSHA, falling back to EVAL after a restart emptied the script cache). */
export function defineCommit(client: Redis): void {
  client.defineCommand('facestreamGalleryCommit', { lua: COMMIT_LUA });
}

export async function commit(client: Redis, req: CommitRequest): Promise<CommitResult> {
  const keys: string[] = [req.head];
  const index = new Map<string, number>();
  const keyIndex = (key: string): string => {
    let k = index.get(key);
    if (k === undefined) {
      keys.push(key);
      k = keys.length; // Lua's KEYS is 1-based
      index.set(key, k);
    }
    return String(k);
  };
  const argv: (string | Buffer)[] = [
    req.expected ? String(req.expected.version) : '',
    req.expected ? req.expected.epoch : '',
    req.epoch,
    req.channel,
    new Date().toISOString(),
  ];
  for (const o of req.ops) {
    if (o.op === 'del') argv.push('del', keyIndex(o.key));
    else if (o.op === 'set') argv.push('set', keyIndex(o.key), o.value);
    else {
      if (o.fields.length === 0) continue;
      argv.push('hset', keyIndex(o.key), String(o.fields.length * 2));
      for (const [f, v] of o.fields) argv.push(f, v);
    }
  }
  // Arrays, not spread arguments: ioredis flattens them, and a 10k-identity commit has ~50k arguments.
  const reply = await (client as unknown as WithCommit).facestreamGalleryCommit(keys.length, keys, argv);
  if (!Array.isArray(reply) || (reply[0] !== 'ok' && reply[0] !== 'conflict')) {
    throw new Error('unexpected reply from the gallery commit script');
  }
  if (reply[0] === 'ok') return { ok: true, version: Number(reply[1]) };
  return { ok: false, version: reply[1] === '' ? undefined : Number(reply[1]), epoch: reply[2] === '' ? undefined : String(reply[2]) };
}
