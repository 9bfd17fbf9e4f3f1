/**
 * Child-process entry of a distributed-mode service for process-level tests (kill -9, restarts): like
 * `facestream <role>` — configuration from FACESTREAM_* environment (and FACESTREAM_CONFIG), the service host with
 * SIGTERM/SIGINT handling, the service, then "facestream: <role> metrics at …" on stderr. Started by
 * service-process.ts as `node dist/test/support/service-child.js <role>`.
 *
 * The service module is loaded by name (src/services/<role>.ts exporting start<Role>Service), so this file does
 * not depend on services that other work has not written yet.
 */
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { startServiceHost, type ServiceHost, type ServiceRole } from '../../src/services/host';
import { logger } from '../../src/util/log';

const ROLES: readonly ServiceRole[] = ['ingest', 'embed', 'match', 'alerts'];

async function main(): Promise<void> {
  const role = process.argv[2] as ServiceRole;
  if (!ROLES.includes(role)) throw new Error(`usage: service-child.js ${ROLES.join('|')}`);
  const config = loadConfig();
  logger().level = config.log.level;
  const mod = require(path.join(__dirname, '..', '..', 'src', 'services', role)) as Record<string, (host: ServiceHost) => Promise<void>>;
  const start = mod[`start${role[0].toUpperCase()}${role.slice(1)}Service`];
  if (typeof start !== 'function') throw new Error(`src/services/${role} has no start function`);
  const host = await startServiceHost(role, config);
  try {
    await start(host);
  } catch (err) {
    await host.shutdown(`start failed: ${(err as Error).message}`);
    throw err;
  }
  process.stderr.write(`facestream: ${role} metrics at http://127.0.0.1:${host.httpPort}/metrics, health at /healthz and /readyz\n`);
  await host.stopped;
}

main().catch((err) => {
  process.stderr.write(`facestream: ${(err as Error).message}\n`);
  process.exit(1);
});
