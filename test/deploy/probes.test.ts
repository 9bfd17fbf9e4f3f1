/**
 * The probes and scrape paths of the manifests against the real services: each facestream service is started as
 * its container would start it — the real CLI, the container's args, the ConfigMap's file, its environment with
 * the Secrets resolved — and every path its probes and Prometheus use is fetched from it. Only two things differ:
 * the port is 0 (any free one; manifests-code.test.ts checks the real port against the config) and Kafka is a
 * local socket that accepts and never answers, so the service stays at "connecting to Kafka" (not ready, alive),
 * and the api, which connects to its gallery and to Kafka before it listens (and exits when Kafka cannot be
 * reached), gets a real local Redis and Kafka instead — in dev only: prod's Kafka speaks TLS and SASL, which the
 * local broker does not (the same probes patch and port check cover prod's api).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CliProcess } from '../support/cli-process';
import { startKafka, type KafkaBroker } from '../support/kafka';
import { startRedis, type RedisServer } from '../support/redis';
import { containerSetup } from './config-files';
import { facestreamWorkloads, OVERLAYS, render, type Workload } from './render';

let silentKafka: net.Server;
let redis: RedisServer;
let kafka: KafkaBroker;
const sockets = new Set<net.Socket>();
before(async () => {
  redis = await startRedis();
  kafka = await startKafka();
  silentKafka = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => silentKafka.listen(0, '127.0.0.1', r));
});
after(async () => {
  for (const s of sockets) s.destroy();
  silentKafka.close();
  await redis?.stop();
  await kafka?.stop();
});

interface Probe {
  what: string;
  path: string;
  /** Statuses that mean "this path is served": liveness must be 200; readiness may say 503 (not ready). */
  ok: number[];
}

function probesOf(w: Workload): Probe[] {
  const c = w.containers.find((x) => x.name === 'facestream')!;
  const out: Probe[] = [];
  for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
    const p = c[kind]?.httpGet;
    if (p) out.push({ what: kind, path: p.path, ok: kind === 'readinessProbe' ? [200, 503] : [200] });
  }
  const scrape = w.pod.metadata.annotations?.['prometheus.io/path'];
  if (scrape) out.push({ what: 'prometheus.io/path', path: scrape, ok: [200] });
  return out;
}

for (const overlay of OVERLAYS) {
  describe(`deploy/k8s/${overlay}: probes answered by the running services`, () => {
    for (const w of facestreamWorkloads(render(overlay).objects).filter((x) => x.object.kind !== 'Job')) {
      const role = w.pod.metadata.labels?.['app.kubernetes.io/component'];
      if (role === 'api' && overlay === 'prod') continue;
      test(`${w.object.metadata.name} (facestream ${role})`, async () => {
        const c = w.containers.find((x) => x.name === 'facestream')!;
        const { env, cliArgs } = containerSetup(render(overlay).objects, w, c);
        const portFlag = role === 'api' ? '--port' : '--http-port';
        const child = new CliProcess([...cliArgs, portFlag, '0'], {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ...env,
          FACESTREAM_KAFKA__BROKERS: role === 'api' ? kafka.brokers.join(',') : `127.0.0.1:${(silentKafka.address() as net.AddressInfo).port}`,
          ...(role === 'api' ? { FACESTREAM_REDIS__URL: redis.url } : {}),
        });
        try {
          const line = await child.waitForLog(
            (l) => typeof l.address === 'string' && (l.msg === 'metrics at /metrics, health at /healthz and /readyz' || l.msg === 'management API listening'),
            30_000,
            'the HTTP server',
          );
          const base = String(line.address);
          for (const p of probesOf(w)) {
            const res = await fetch(`${base}${p.path}`);
            await res.arrayBuffer();
            assert.ok(p.ok.includes(res.status), `${p.what} GET ${p.path}: ${res.status}, expected ${p.ok.join(' or ')}`);
          }
          const missing = await fetch(`${base}/no-such-path`);
          await missing.arrayBuffer();
          assert.notEqual(missing.status, 200, 'the server answers 200 to anything: the probe check would prove nothing');
          assert.ok(child.running, `the service exited: ${child.tail()}`);
        } finally {
          await child.stop(5_000);
        }
      });
    }
  });
}
