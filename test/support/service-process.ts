/**
 * A distributed-mode service as a real child process — the real `facestream <role>` subcommand (a CliProcess, see
 * cli-process.ts) — for tests that need a process to die abruptly or to be signalled: its HTTP port is read from
 * the "facestream: <role> metrics at …" line, and it is killed with its whole process group (its ffmpeg children
 * too) by kill9(), by stop() (SIGTERM, then SIGKILL after a grace period), and when the test process exits.
 *
 *   const p = await startServiceProcess('ingest', kafkaEnv({ brokers: broker.brokers, topicPrefix, groupPrefix }));
 *   await p.waitForLog((l) => l.msg === 'ingest: camera started', 30_000, 'a camera');
 *   p.kill9();
 */
import type { ServiceRole } from '../../src/services/host';
import { CliProcess, type LogLine } from './cli-process';

/** A pino JSON line of a service's stderr. */
export type ServiceLogLine = LogLine;

export class ServiceProcess extends CliProcess {
  /** `facestream <role> [args…]` with `env` as its whole environment. */
  constructor(readonly role: ServiceRole, env: NodeJS.ProcessEnv, args: readonly string[] = []) {
    super([role, ...args], env);
  }

  /** The metrics URL the service prints once it runs: "facestream: <role> metrics at http://…/metrics". */
  override get metricsUrl(): string | undefined {
    const re = new RegExp(`^facestream: ${this.role} metrics at (http://\\S+/metrics)`);
    for (const line of this.textLines) {
      const m = re.exec(line);
      if (m) return m[1];
    }
    return undefined;
  }

  /** The HTTP port of /metrics, /healthz and /readyz (undefined until the service is up). */
  get httpPort(): number | undefined {
    const url = this.metricsUrl;
    return url === undefined ? undefined : Number(new URL(url).port);
  }

  /** SIGKILL the service and everything it started: no shutdown work, no leaving the consumer groups. */
  kill9(): void {
    this.killAll();
  }
}

/**
 * Starts `facestream <role> [args…]` with `env` (FACESTREAM_* settings over the parent's environment; the parent's
 * FACESTREAM_CONFIG is not inherited, info logs, HTTP on a free port of 127.0.0.1) and resolves once it printed its
 * metrics line; rejects (after killing it) when it exits or takes longer than `timeoutMs`.
 */
export async function startServiceProcess(role: ServiceRole, env: NodeJS.ProcessEnv, { args = [], timeoutMs = 120_000 }: { args?: readonly string[]; timeoutMs?: number } = {}): Promise<ServiceProcess> {
  const base: NodeJS.ProcessEnv = { ...process.env, FACESTREAM_LOG_LEVEL: process.env.FACESTREAM_CHILD_LOG_LEVEL ?? 'info', FACESTREAM_HTTP__PORT: '0', FACESTREAM_HTTP__HOST: '127.0.0.1' };
  delete base.FACESTREAM_CONFIG;
  delete base.FACESTREAM_DEBUG;
  const p = new ServiceProcess(role, { ...base, ...env }, args);
  try {
    await p.waitUntil(() => p.httpPort, timeoutMs, `facestream ${role} to start`);
  } catch (err) {
    p.kill9();
    await p.exited;
    throw err;
  }
  return p;
}

/** FACESTREAM_* variables for a config-override object's Kafka settings (brokers and prefixes). */
export function kafkaEnv(o: { brokers: string[]; topicPrefix: string; groupPrefix: string; cameraPartitions?: number; sessionTimeoutMs?: number; partitions?: number }): NodeJS.ProcessEnv {
  return {
    FACESTREAM_KAFKA__BROKERS: o.brokers.join(','),
    FACESTREAM_KAFKA__TOPIC_PREFIX: o.topicPrefix,
    FACESTREAM_KAFKA__GROUP_PREFIX: o.groupPrefix,
    ...(o.cameraPartitions !== undefined ? { FACESTREAM_KAFKA__CAMERA_PARTITIONS: String(o.cameraPartitions) } : {}),
    ...(o.sessionTimeoutMs !== undefined ? { FACESTREAM_KAFKA__SESSION_TIMEOUT_MS: String(o.sessionTimeoutMs) } : {}),
    ...(o.partitions !== undefined ? { FACESTREAM_KAFKA__PARTITIONS: String(o.partitions) } : {}),
  };
}
