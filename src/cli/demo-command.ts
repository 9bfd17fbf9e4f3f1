import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_DEMO_DIR, runDemo } from '../demo/run-demo';
import { DEMO_DISTANCE_THRESHOLD } from '../demo/sample-photos';
import { portOption } from './common';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'End-to-end demo on this machine, needing only the installed packages: a slideshow of the sample photos of ' +
        '@vladmandic/face-api served as an RTSP camera, three people enrolled from them, the embedded pipeline, and a ' +
        'local webhook receiver that verifies and prints each alert',
    )
    .option('--dir <dir>', 'work directory for the clip, gallery, store, alerts and log', DEFAULT_DEMO_DIR)
    .option('--http-port <port>', 'port of /metrics (default 9464, or any free port when 9464 is busy; 0 = any free port)', portOption)
    .option('--distance <d>', `distance threshold of a match (default ${DEMO_DISTANCE_THRESHOLD}; the embedder's uncalibrated default is 0.38)`, (v) => {
      const n = Number(v);
      if (!(n > 0 && n < 2)) throw new InvalidArgumentError(`expected a distance in (0, 2), got "${v}"`);
      return n;
    })
    .action(async (opts: { dir: string; httpPort?: number; distance?: number }) => {
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      // Repeated signals while stopping are ignored: the clean-up stops the children, and is bounded in time.
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const summary = await runDemo({ dir: opts.dir, httpPort: opts.httpPort, distance: opts.distance, signal: abort.signal });
        if (summary.rejected.length > 0) throw new Error(`the receiver refused ${summary.rejected.length} webhook(s): ${summary.rejected.join('; ')}`);
        if (summary.alerts.length === 0) throw new Error(`no alert arrived; see ${summary.dir}/facestream.log ("track matched" lines)`);
        const wrong = [...summary.alerts.filter((a) => !a.expected), ...summary.tracks.filter((t) => !t.expected)];
        if (wrong.length > 0) {
          throw new Error(
            `strangers were taken for enrolled people (alerts, or matches held back by the cooldown): ` +
              `${wrong.map((w) => `${w.identity} on ${w.photo ?? '?'}`).join(', ')}; see ${summary.dir}/summary.json`,
          );
        }
        process.stdout.write('demo finished: OK\n');
      } catch (err) {
        if (abort.signal.aborted) {
          process.stderr.write('facestream demo: interrupted; everything it started has been stopped\n');
          process.exitCode = 130;
          return;
        }
        throw new Error(`demo failed: ${(err as Error).message}`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
