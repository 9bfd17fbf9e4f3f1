/**
 * `facestream cameras add NAME=URL [--fps N] [--transport tcp|udp] [--disabled] | remove NAME | list [--json]`:
 * the cameras of distributed mode, kept in the compacted cameras topic. An ingest process picks a new camera up
 * within seconds, without a restart. URLs may carry credentials: they are only ever printed masked.
 */
import { Command, InvalidArgumentError } from 'commander';
import { CAMERA_URL_EXPECTED, CameraSchema, type CameraConfig, type Config, type ConfigOverrides } from '../config/schema';
import { openCameraAdmin, type CameraAdmin } from '../services/cameras/admin';
import { maskUrl } from '../util/redact';
import { UsageError } from '../util/errors';
import { configFrom } from './common';

interface KafkaFlags {
  config?: string;
  brokers?: string;
}

interface AddFlags extends KafkaFlags {
  fps?: number;
  transport?: string;
  disabled?: boolean;
  maxWidth?: number;
  hwaccel?: string;
}

function addKafkaOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'YAML config file (default: $FACESTREAM_CONFIG)')
    .option('--brokers <list>', 'Kafka bootstrap brokers, host:port[,host:port…] (default 127.0.0.1:9092; or kafka.brokers)');
}

function kafkaConfig(flags: KafkaFlags): Config {
  const brokers = flags.brokers?.split(',').map((b) => b.trim()).filter(Boolean);
  const overrides: ConfigOverrides = brokers && brokers.length > 0 ? { kafka: { brokers } } : {};
  return configFrom({ config: flags.config }, overrides);
}

function number(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${what}: expected a number, got "${value}"`);
    return n;
  };
}

/** NAME=URL and the flags → a checked camera; errors name the field and never show credentials. */
export function cameraFromArgs(spec: string, flags: AddFlags): CameraConfig {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) {
    throw new UsageError(`expected NAME=URL (e.g. lobby=rtsp://user:pass@10.0.0.5/stream1), got "${maskUrl(spec)}"`);
  }
  const input = {
    name: spec.slice(0, eq),
    url: spec.slice(eq + 1),
    ...(flags.fps !== undefined ? { fps: flags.fps } : {}),
    ...(flags.transport !== undefined ? { transport: flags.transport } : {}),
    ...(flags.maxWidth !== undefined ? { maxWidth: flags.maxWidth } : {}),
    ...(flags.hwaccel !== undefined ? { hwaccel: flags.hwaccel } : {}),
    enabled: !flags.disabled,
  };
  const r = CameraSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? 'camera');
    const flag = field === 'maxWidth' ? '--max-width' : field === 'name' || field === 'url' ? field.toUpperCase() : `--${field}`;
    const given = field === 'url' ? `, got "${maskUrl(input.url)}"` : field === 'name' ? `, got "${input.name}"` : '';
    const message = field === 'url' ? CAMERA_URL_EXPECTED : issue.message;
    return `camera ${field} (${flag}): ${message}${/\bgot\b/.test(message) ? '' : given}`;
  });
  throw new UsageError(lines.join('\n'));
}

async function withAdmin<T>(flags: KafkaFlags, fn: (admin: CameraAdmin) => Promise<T>): Promise<T> {
  const admin = await openCameraAdmin(kafkaConfig(flags));
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

export function registerCamerasCommand(program: Command): void {
  const cameras = program.command('cameras').description('Cameras of the distributed mode (the cameras topic): add, remove, list');

  addKafkaOptions(
    cameras
      .command('add')
      .description('Add a camera, or replace the one of that name; an ingest process starts it within seconds')
      .argument('<name=url>', 'camera name and source: rtsp://, rtsps://, http(s):// or a file path (credentials are never printed)')
      .option('--fps <n>', 'analysis frames per second (default 5)', number('--fps'))
      .option('--transport <tcp|udp>', 'RTSP transport (default tcp)')
      .option('--max-width <px>', 'decode frames at most this wide (default 1280)', number('--max-width'))
      .option('--hwaccel <kind>', 'ffmpeg hardware decoding: none, auto, cuda, vaapi, qsv, videotoolbox (default none)')
      .option('--disabled', 'add it disabled (kept in the catalog, not run)'),
  ).action(async (spec: string, flags: AddFlags) => {
    const camera = cameraFromArgs(spec, flags);
    const result = await withAdmin(flags, (admin) => admin.put(camera));
    process.stdout.write(
      `${result.created ? 'added' : 'replaced'} camera ${camera.name} (partition ${result.partition}${camera.enabled ? '' : ', disabled'}): ${maskUrl(camera.url)}\n`,
    );
  });

  addKafkaOptions(cameras.command('remove').description('Remove a camera; the ingest process running it stops it').argument('<name>', 'camera name')).action(
    async (name: string, flags: KafkaFlags) => {
      const partition = await withAdmin(flags, (admin) => admin.remove(name));
      if (partition === undefined) throw new UsageError(`no camera named "${name}" (see facestream cameras list)`, 1);
      process.stdout.write(`removed camera ${name} (partition ${partition})\n`);
    },
  );

  addKafkaOptions(cameras.command('list').description('List the cameras (URLs masked)').option('--json', 'print JSON')).action(
    async (flags: KafkaFlags & { json?: boolean }) => {
      const entries = await withAdmin(flags, (admin) => admin.list());
      const rows = entries.map((e) => ({
        name: e.camera.name,
        url: maskUrl(e.camera.url),
        enabled: e.camera.enabled,
        fps: e.camera.fps,
        maxWidth: e.camera.maxWidth,
        transport: e.camera.transport,
        hwaccel: e.camera.hwaccel,
        partition: e.partition,
        updatedAt: new Date(e.camera.updatedAtMs).toISOString(),
      }));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no cameras (add one with: facestream cameras add NAME=URL)\n');
        return;
      }
      const header = ['NAME', 'ENABLED', 'FPS', 'TRANSPORT', 'PARTITION', 'URL'];
      const table = [header, ...rows.map((r) => [r.name, r.enabled ? 'yes' : 'no', String(r.fps), r.transport, String(r.partition), r.url])];
      const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
      for (const row of table) process.stdout.write(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}\n`);
    },
  );
}
