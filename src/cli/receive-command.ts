/**
 * `facestream receive`: a local webhook receiver for trying facestream (the demo's receiver as a command): verifies
 * every Standard Webhooks signature with FACESTREAM_WEBHOOK_SECRET, saves each alert's face JPEG (mode 0600) and
 * prints one line per alert. Not for production: point real deployments at your own endpoint.
 */
import { Command, InvalidArgumentError } from 'commander';
import { startDemoReceiver } from '../demo/webhook-receiver';
import { loadConfig } from '../config/load';

export function registerReceiveCommand(program: Command): void {
  program
    .command('receive')
    .description('Run a local webhook receiver that verifies and prints alerts (secret: FACESTREAM_WEBHOOK_SECRET)')
    .option('--port <port>', 'port on 127.0.0.1 (default 8787; 0 = any free port)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port 0..65535, got "${v}"`);
      return n;
    }, 8787)
    .option('--dir <dir>', 'where the face JPEGs of received alerts are saved', 'facestream-data/received')
    .action(async (opts: { port: number; dir: string }) => {
      const secret = process.env.FACESTREAM_WEBHOOK_SECRET;
      if (!secret) throw new Error('FACESTREAM_WEBHOOK_SECRET is not set: the receiver needs the secret the senders sign with');
      // Validates the secret with the same rule as the senders (the message never shows it).
      loadConfig({ env: { FACESTREAM_WEBHOOK_SECRET: secret }, overrides: { alerts: { webhooks: [{ url: 'http://127.0.0.1/' }] } } });
      const receiver = await startDemoReceiver({
        secret,
        alertsDir: opts.dir,
        port: opts.port,
        onAlert: (a) =>
          process.stdout.write(
            `alert ${a.alert.id}: ${a.alert.identity.name} on ${a.alert.camera} (svm ${a.alert.scores.svm.toFixed(2)}, distance ${a.alert.scores.distance.toFixed(3)}), face in ${a.jpeg}\n`,
          ),
        onRejected: (reason) => process.stderr.write(`facestream receive: refused a request: ${reason}\n`),
      });
      process.stderr.write(`facestream: receiving webhooks at ${receiver.url}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await receiver.close();
    });
}
