/**
 * A real Redis (Debian's redis-server) for tests, started by scripts/redis.sh in a fresh temporary dir.
 *
 *   const redis = await startRedis();                 // redis.url = 'redis://127.0.0.1:PORT', nothing on disk
 *   const durable = await startRedis({ persist: true }); // AOF fsynced on every write: survives kill9()
 *   await redis.kill9(); await redis.restart();       // same port (fault tests)
 *   await redis.stop();                               // in after(): stops the server and deletes its dir
 *
 * The script gets this process's pid: if the test run dies without calling stop(), a watchdog stops the server and
 * deletes the dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { missingCommands, outputValue, runInfraScript } from './infra-script';

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly persist: boolean;
  /** SIGKILL the server; restart() brings it back (with its data when persist). */
  kill9(): Promise<void>;
  /** SHUTDOWN NOSAVE (then SIGTERM/SIGKILL); restart() brings it back. */
  sigterm(): Promise<void>;
  /** Start again on the same port and dir (if it is running it is stopped first). */
  restart(): Promise<void>;
  /** Stop for good and delete the dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  port?: number;
  /** Append-only file with fsync on every write (default false: no persistence at all). */
  persist?: boolean;
}

/** Why a real Redis cannot be started here (a missing tool), or undefined when it can. */
export function redisUnavailableReason(): string | undefined {
  const missing = missingCommands(['bash', 'redis-server', 'redis-cli', 'python3']);
  if (missing.length === 0) return undefined;
  return `a real Redis needs ${missing.join(', ')} on PATH (apt-get install redis-server; python3 picks free ports)`;
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-redis-'));
  const startArgs = ['start', '--dir', dir, '--parent-pid', String(process.pid), '--ephemeral'];
  const first = [...startArgs];
  if (options.port) first.push('--port', String(options.port));
  if (options.persist) first.push('--persist');
  let out;
  try {
    out = await runInfraScript('redis.sh', first, 30_000);
  } catch (err) {
    await runInfraScript('redis.sh', ['stop', '--dir', dir], 30_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = outputValue(out, 'REDIS_URL');
  let stopped = false;
  return {
    url,
    port: Number(new URL(url).port),
    dir,
    persist: options.persist === true,
    async kill9() {
      await runInfraScript('redis.sh', ['kill9', '--dir', dir], 15_000);
    },
    async sigterm() {
      await runInfraScript('redis.sh', ['stop', '--dir', dir], 30_000);
    },
    async restart() {
      await runInfraScript('redis.sh', ['stop', '--dir', dir], 30_000);
      // the script reuses the port and the persistence mode recorded in dir
      const now = outputValue(await runInfraScript('redis.sh', startArgs, 30_000), 'REDIS_URL');
      if (now !== url) throw new Error(`redis restarted on ${now}, expected the same address ${url}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await runInfraScript('redis.sh', ['stop', '--dir', dir, '--purge'], 30_000);
    },
  };
}
