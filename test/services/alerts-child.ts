/**
 * An alerts service in its own process, for the abrupt-stop test: argv[2] is a JSON file holding the (parsed)
 * configuration. Prints `ready <instance id>` on stdout once consuming; SIGTERM shuts it down gracefully, SIGKILL
 * is the crash under test.
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { ConfigSchema } from '../../src/config/schema';
import { startServiceHost } from '../../src/services/host';
import { runAlertsService } from '../../src/services/alerts';

async function main(): Promise<void> {
  const config = ConfigSchema.parse(JSON.parse(readFileSync(process.argv[2], 'utf8')));
  const log = pino({ level: process.env.FACESTREAM_LOG_LEVEL ?? 'error' }, pino.destination({ fd: 2, sync: true }));
  const host = await startServiceHost('alerts', config, { signals: true, log });
  const service = await runAlertsService(host);
  process.stdout.write(`ready ${service.instanceId}\n`);
}

main().catch((err) => {
  process.stderr.write(`alerts-child: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
