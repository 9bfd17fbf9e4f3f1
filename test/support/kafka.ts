/**
 * A real single-node Kafka 3.9 broker (KRaft) for tests, started by scripts/kafka.sh in a fresh temporary data dir.
 *
 *   const kafka = await startKafka();          // kafka.brokers = ['127.0.0.1:PORT']
 *   await kafka.kill9(); await kafka.restart(); // same port, same data (fault tests)
 *   await kafka.stop();                         // in after(): stops the broker and deletes its data dir
 *
 * The script gets this process's pid: if the test run dies without calling stop(), a watchdog stops the broker and
 * deletes the data dir.
 */
import type { Kafka } from 'kafkajs';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { missingCommands, outputValue, runInfraScript } from './infra-script';

export interface KafkaBroker {
  /** Bootstrap addresses for kafkajs: ['127.0.0.1:PORT']. */
  readonly brokers: string[];
  readonly port: number;
  /** The data dir: server.properties, data/ (log.dirs), logs/server.log. */
  readonly dir: string;
  /** SIGKILL the broker (no shutdown work); data stays for restart(). */
  kill9(): Promise<void>;
  /** Graceful stop (SIGTERM, controlled shutdown); data stays for restart(). */
  sigterm(): Promise<void>;
  /** Start again on the same port and data dir (after kill9/sigterm; if it is running it is stopped first). */
  restart(): Promise<void>;
  /** Stop for good and delete the data dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartKafkaOptions {
  /** Broker port on 127.0.0.1; default: a free one. */
  port?: number;
  /** Wait at most this long for start (default 120 s; 300 s when the jars still have to be fetched). */
  timeoutMs?: number;
}

const KAFKA_VERSION = process.env.FACESTREAM_KAFKA_VERSION ?? '3.9.2';

function libsCached(): boolean {
  const cacheRoot =
    process.env.FACESTREAM_CACHE_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'facestream');
  return existsSync(path.join(cacheRoot, `kafka-${KAFKA_VERSION}`, '.complete'));
}

/**
 * Why a real broker cannot be started here (a missing tool), or undefined when it can. Tests skip with this text;
 * a broker that fails to start for another reason fails the test instead.
 */
export function kafkaUnavailableReason(): string | undefined {
  const needed = ['bash', 'java', 'python3', ...(libsCached() ? [] : ['mvn'])];
  const missing = missingCommands(needed);
  if (missing.length === 0) return undefined;
  return `a real Kafka broker needs ${missing.join(', ')} on PATH (Java 17 runs the broker; mvn fetches its jars ` +
    `once, see scripts/kafka.sh fetch; python3 picks free ports)`;
}

export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const timeoutMs = options.timeoutMs ?? (libsCached() ? 120_000 : 300_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-kafka-'));
  const startArgs = ['start', '--dir', dir, '--parent-pid', String(process.pid), '--ephemeral',
    '--timeout', String(Math.ceil(timeoutMs / 1000))];
  let out;
  try {
    out = await runInfraScript('kafka.sh', options.port ? [...startArgs, '--port', String(options.port)] : startArgs, timeoutMs + 30_000);
  } catch (err) {
    await runInfraScript('kafka.sh', ['stop', '--dir', dir], 60_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const bootstrap = outputValue(out, 'KAFKA_BROKERS');
  const port = Number(bootstrap.split(':')[1]);
  let stopped = false;
  return {
    brokers: [bootstrap],
    port,
    dir,
    async kill9() {
      await runInfraScript('kafka.sh', ['kill9', '--dir', dir], 30_000);
    },
    async sigterm() {
      await runInfraScript('kafka.sh', ['stop', '--dir', dir], 60_000);
    },
    async restart() {
      await runInfraScript('kafka.sh', ['stop', '--dir', dir], 60_000);
      const again = await runInfraScript('kafka.sh', startArgs, timeoutMs + 30_000);
      const now = outputValue(again, 'KAFKA_BROKERS');
      if (now !== bootstrap) throw new Error(`broker restarted on ${now}, expected the same address ${bootstrap}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await runInfraScript('kafka.sh', ['stop', '--dir', dir, '--purge'], 60_000);
    },
  };
}

export interface RawRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Reads `count` records of `topic` from the beginning with a throwaway group. */
export async function readTopic(kafka: Kafka, topic: string, count: number, timeoutMs = 30_000): Promise<RawRecord[]> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}-${Math.random()}`, sessionTimeout: 10_000 });
  const got: RawRecord[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${got.length} of ${count} records of ${topic} in ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
            got.push({ partition, offset: message.offset, key: message.key, value: message.value, headers });
            if (got.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}
