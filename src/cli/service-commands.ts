/**
 * Distributed mode's processes: `facestream ingest | embed | match | alerts` (one service each, over Kafka, with
 * the gallery in Redis) and `facestream topics` (create or check the topics). Each service serves /metrics,
 * /healthz and /readyz on --http-port and stops gracefully on SIGTERM.
 */
import { Command } from 'commander';
import type { Config, ConfigOverrides } from '../config/schema';
import { configTopicPlan, kafkaFromConfig, startServiceHost, type ServiceHost, type ServiceRole } from '../services/host';
import { startIngestService } from '../services/ingest';
import { startEmbedService } from '../services/embed';
import { startMatchService } from '../services/match';
import { startAlertsService } from '../services/alerts';
import { ensureTopics } from '../transport';
import { addCommonOptions, configFrom, type CommonFlags, portOption } from './common';

interface ServiceFlags extends CommonFlags {
  brokers?: string;
  redis?: string;
  httpPort?: number;
  webhook?: string;
}

function addServiceOptions(cmd: Command): Command {
  return cmd
    .option('--brokers <list>', 'Kafka bootstrap brokers, host:port[,host:port…] (default 127.0.0.1:9092; or kafka.brokers)')
    .option('--redis <url>', 'Redis URL of the gallery and alert de-duplication (or redis.url / FACESTREAM_REDIS__URL)')
    .option('--http-port <port>', 'port of /metrics, /healthz and /readyz (default 9464; 0 = any free port)', portOption);
}

export function serviceConfig(flags: ServiceFlags): Config {
  const overrides: ConfigOverrides = {
    ...(flags.brokers ? { kafka: { brokers: flags.brokers.split(',').map((b) => b.trim()).filter(Boolean) } } : {}),
    ...(flags.redis ? { redis: { url: flags.redis } } : {}),
    ...(flags.httpPort !== undefined ? { http: { port: flags.httpPort } } : {}),
    ...(flags.webhook ? { alerts: { webhooks: [{ url: flags.webhook }] } } : {}),
  };
  return configFrom(flags, overrides);
}

const SERVICES: Record<ServiceRole, { description: string; start: (host: ServiceHost) => Promise<void>; needsRedis: boolean }> = {
  ingest: {
    description: 'Decode the cameras assigned to this process, detect, align and track faces; publish face crops',
    start: startIngestService,
    needsRedis: false,
  },
  embed: { description: 'Embed face crops in dynamic batches; publish embeddings', start: startEmbedService, needsRedis: false },
  match: {
    description: 'Match embeddings against the Redis gallery (SVM + open-set rejection, per track); publish alerts',
    start: startMatchService,
    needsRedis: true,
  },
  alerts: {
    description: 'Deliver alerts to the webhooks, signed, retried, spooled; exactly once per alert id (Redis)',
    start: startAlertsService,
    needsRedis: true,
  },
};

function registerService(program: Command, role: ServiceRole): void {
  const spec = SERVICES[role];
  const cmd = addServiceOptions(addCommonOptions(program.command(role).description(`${spec.description} (distributed mode)`), { models: role === 'ingest' || role === 'embed' }));
  if (role === 'alerts') cmd.option('--webhook <url>', 'webhook URL (secret from FACESTREAM_WEBHOOK_SECRET or the config)');
  cmd.action(async (flags: ServiceFlags) => {
    const config = serviceConfig(flags);
    if (spec.needsRedis && !config.redis.url) throw new Error(`${role} needs Redis: give --redis redis://host:port or set redis.url (FACESTREAM_REDIS__URL)`);
    if (role === 'alerts' && config.alerts.webhooks.length === 0) throw new Error('no webhook: give --webhook URL or alerts.webhooks in the config file');
    const host = await startServiceHost(role, config);
    try {
      await spec.start(host);
    } catch (err) {
      await host.shutdown(`start failed: ${(err as Error).message}`);
      throw err;
    }
    process.stderr.write(`facestream: ${role} metrics at http://127.0.0.1:${host.httpPort}/metrics, health at /healthz and /readyz\n`);
    await host.stopped;
  });
}

export function registerServiceCommands(program: Command): void {
  for (const role of Object.keys(SERVICES) as ServiceRole[]) registerService(program, role);

  addServiceOptions(addCommonOptions(program.command('topics').description('Create the Kafka topics of the distributed mode (or check them)'), { models: false }))
    .option('--json', 'print the result as JSON')
    .action(async (flags: ServiceFlags & { json?: boolean }) => {
      const config = serviceConfig(flags);
      const kafka = kafkaFromConfig(config, 'topics');
      const plan = configTopicPlan(config);
      const admin = kafka.admin();
      await admin.connect();
      try {
        const result = await ensureTopics(admin, plan, (m) => process.stderr.write(`facestream: warning: ${m}\n`));
        if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else {
          for (const t of result.created) process.stdout.write(`created ${t}\n`);
          for (const t of result.existing) process.stdout.write(`exists  ${t}\n`);
        }
      } finally {
        await admin.disconnect();
      }
    });
}
