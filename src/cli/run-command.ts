import { Command, InvalidArgumentError } from 'commander';
import { EmbeddedRuntime } from '../runtime/embedded';
import { maskUrl } from '../util/redact';
import { addCommonOptions, configFrom, type CommonFlags, portOption } from './common';

interface CameraFlag {
  name: string;
  url: string;
}

function cameraOption(value: string, previous: CameraFlag[] = []): CameraFlag[] {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) {
    throw new InvalidArgumentError(`expected NAME=URL (e.g. lobby=rtsp://user:pass@10.0.0.5/stream1), got "${maskUrl(value)}"`);
  }
  return [...previous, { name: value.slice(0, eq), url: value.slice(eq + 1) }];
}

export function registerRunCommand(program: Command): void {
  addCommonOptions(
    program
      .command('run')
      .description('Run the pipeline in one process (embedded mode): cameras → faces → gallery matching → signed webhook alerts')
      .option('--camera <name=url>', 'a camera: NAME=URL (rtsp://, rtsps://, http(s)://, or a file); repeatable', cameraOption)
      .option('--webhook <url>', 'webhook URL for alerts (secret from FACESTREAM_WEBHOOK_SECRET or the config)')
      .option('--http-port <port>', 'port of /metrics, /healthz and /readyz (default 9464; 0 = any free port)', portOption)
      .option('--spool <dir>', 'durable alert spool directory')
      .option('--fps <n>', 'analysis frames per second for cameras given with --camera', (v) => {
        const n = Number(v);
        if (!(n > 0 && n <= 60)) throw new InvalidArgumentError(`expected a number in (0, 60], got "${v}"`);
        return n;
      })
      .option('--exit-when-sources-end', 'when every source has ended (files play once; a stream that ends cleanly ends its camera), deliver pending alerts and exit 0'),
  ).action(async (opts: CommonFlags & { camera?: CameraFlag[]; webhook?: string; httpPort?: number; spool?: string; fps?: number; exitWhenSourcesEnd?: boolean }) => {
    const config = configFrom(opts, {
      ...(opts.camera ? { cameras: opts.camera.map((c) => ({ ...c, ...(opts.fps ? { fps: opts.fps } : {}) })) } : {}),
      ...(opts.webhook || opts.spool ? { alerts: { ...(opts.webhook ? { webhooks: [{ url: opts.webhook }] } : {}), ...(opts.spool ? { spoolDir: opts.spool } : {}) } } : {}),
      ...(opts.httpPort !== undefined ? { http: { port: opts.httpPort } } : {}),
    });
    if (config.cameras.length === 0) throw new Error('no cameras: give --camera NAME=URL or list cameras in the config file');
    if (config.alerts.webhooks.length === 0) throw new Error('no webhook: give --webhook URL or alerts.webhooks in the config file');
    const runtime = new EmbeddedRuntime(config, { exitWhenSourcesEnd: opts.exitWhenSourcesEnd });
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (signalled) return;
      signalled = true;
      runtime.log.info({ signal: sig }, 'shutting down');
      void runtime.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    await runtime.start();
    process.stderr.write(`facestream: metrics at http://127.0.0.1:${runtime.httpPort}/metrics, health at /healthz and /readyz\n`);
    if (opts.exitWhenSourcesEnd) {
      await runtime.runToEnd();
      await runtime.stop();
      process.exit(0);
    }
    await new Promise<void>(() => undefined);
  });
}
