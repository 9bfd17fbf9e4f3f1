/**
 * The manifests against the code they deploy: every facestream container runs a real `facestream` command whose
 * config (the ConfigMap's file, the environment with Secrets resolved) the config schema accepts; ports and
 * scrape annotations agree with the config; every Secret reference resolves and every Secret key is used; KEDA
 * watches the topic and group the embed service really uses; the NetworkPolicies keep the gallery (Redis) away
 * from ingest and embed; pods run non-root on a read-only root filesystem.
 * The probe paths are checked against the running services in probes.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { configTopicPlan } from '../../src/services/kafka-config';
import { CLI } from '../support/cli-process';
import { containerSetup, facestreamContainers, IMAGE_CLI } from './config-files';
import { containerEnv, facestreamWorkloads, find, OVERLAYS, render, ROOT, secretData, workloads, type K8sObject, type Workload } from './render';

const helpOk = new Map<string, boolean>();
/** `facestream <words…> --help` exits 0: the command exists in the CLI. */
function isCommand(words: string[]): boolean {
  const key = words.join(' ');
  if (!helpOk.has(key)) {
    try {
      execFileSync(process.execPath, [CLI, ...words, '--help'], { stdio: 'pipe' });
      helpOk.set(key, true);
    } catch {
      helpOk.set(key, false);
    }
  }
  return helpOk.get(key)!;
}

const role = (w: Workload): string => w.pod.metadata.labels?.['app.kubernetes.io/component'] ?? '';
const opsPort = (w: Workload): number => w.containers.find((c) => c.name === 'facestream')?.ports?.find((p) => p.name === 'ops')?.containerPort ?? NaN;

function configOf(objects: K8sObject[], w: Workload): Config {
  const c = w.containers.find((x) => x.name === 'facestream')!;
  const { configFile, env } = containerSetup(objects, w, { ...c, command: undefined });
  return loadConfig({ file: configFile, env });
}

for (const overlay of OVERLAYS) {
  describe(`deploy/k8s/${overlay} against the code`, () => {
    const objects = (): K8sObject[] => render(overlay).objects;
    const services = (): Workload[] => facestreamWorkloads(objects()).filter((w) => w.object.kind !== 'Job');

    test('every component is deployed once, each container runs a real facestream command', () => {
      const roles = services().map(role).sort();
      assert.deepEqual(roles, ['alerts', 'api', 'embed', 'ingest', 'match']);
      for (const w of services()) {
        for (const c of facestreamContainers(w)) {
          const { cliArgs } = containerSetup(objects(), w, c);
          assert.ok(isCommand([cliArgs[0]]), `${w.object.metadata.name}/${c.name}: "facestream ${cliArgs[0]}" is not a command`);
        }
        const main = w.containers.find((c) => c.name === 'facestream');
        assert.equal(main?.args?.[0], role(w), `${w.object.metadata.name}: its container "facestream" runs "${main?.args?.[0]}"`);
      }
    });

    test('the config file and every FACESTREAM_* variable are accepted by the config schema', () => {
      for (const w of facestreamWorkloads(objects())) {
        for (const c of facestreamContainers(w)) {
          const env = containerEnv(objects(), c);
          for (const name of Object.keys(env)) assert.match(name, /^FACESTREAM_/, `${w.object.metadata.name}/${c.name}: ${name} is not a facestream variable`);
          if (w.object.kind === 'Job') continue; // its command is checked below
          const { configFile, env: resolved } = containerSetup(objects(), w, c);
          // loadConfig throws on unknown keys (file or FACESTREAM_* variables) and invalid values, naming them.
          const config = loadConfig({ file: configFile || undefined, env: resolved });
          if (c.name === 'facestream' && ['match', 'alerts', 'api'].includes(role(w))) assert.ok(config.redis.url, `${w.object.metadata.name}: no redis.url`);
          if (role(w) === 'alerts' && c.args?.[0] === 'alerts') {
            assert.ok(config.alerts.webhooks.length > 0 && config.alerts.webhooks.every((h) => h.secret), 'alerts: a webhook with its secret');
          }
        }
      }
    });

    test('the ops port is the port the config gives each service; scrape annotations point at it', () => {
      for (const w of services()) {
        const config = configOf(objects(), w);
        const expected = role(w) === 'api' ? config.api.port : config.http.port;
        assert.equal(opsPort(w), expected, `${w.object.metadata.name}: port "ops" ${opsPort(w)}, the service listens on ${expected}`);
        const a = w.pod.metadata.annotations ?? {};
        assert.equal(a['prometheus.io/scrape'], 'true', `${w.object.metadata.name}: prometheus.io/scrape`);
        assert.equal(Number(a['prometheus.io/port']), expected, `${w.object.metadata.name}: prometheus.io/port`);
        assert.equal(a['prometheus.io/path'], '/metrics');
        for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
          const probe = w.containers.find((c) => c.name === 'facestream')![kind];
          assert.ok(probe?.httpGet, `${w.object.metadata.name}: ${kind} over HTTP`);
          assert.ok(probe.httpGet.port === 'ops' || probe.httpGet.port === expected, `${w.object.metadata.name}: ${kind} port ${probe.httpGet.port}`);
        }
      }
    });

    test('the cameras Job runs `facestream cameras add` from the image over the cameras Secret', () => {
      const job = facestreamWorkloads(objects()).find((w) => w.object.kind === 'Job');
      assert.ok(job, 'the cameras-sync Job');
      const c = job.containers[0];
      const script = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
      const m = /node (\S+) cameras add /.exec(script);
      assert.ok(m, `the Job's script: ${script}`);
      assert.equal(m[1], IMAGE_CLI);
      assert.ok(existsSync(path.join(ROOT, path.relative('/app', IMAGE_CLI))), `${IMAGE_CLI} is not a file the image gets from dist/`);
      assert.ok(isCommand(['cameras', 'add']));
      const { configFile, env } = containerSetup(objects(), job, { ...c, command: undefined });
      loadConfig({ file: configFile, env });
      const mount = c.volumeMounts?.filter((v) => script.includes(`${v.mountPath}/`)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
      const volume = job.pod.spec.volumes.find((v: { name: string }) => v.name === mount?.name);
      assert.ok(volume?.secret, 'the script reads a Secret volume');
      // Each key is a camera name, each value a camera URL the schema takes.
      const { CameraSchema } = require('../../src/config/schema') as typeof import('../../src/config/schema');
      for (const [name, url] of Object.entries(secretData(find(objects(), 'Secret', volume.secret.secretName)!))) {
        const r = CameraSchema.safeParse({ name, url });
        assert.ok(r.success, `camera ${name}: ${r.success ? '' : r.error.issues.map((i) => i.message).join('; ')}`);
      }
    });

    test('every Secret reference resolves, every Secret and every key of it is used', () => {
      const secrets = objects().filter((o) => o.kind === 'Secret');
      const used = new Map<string, Set<string> | 'all'>();
      const use = (name: string, key?: string): void => {
        const s = secrets.find((o) => o.metadata.name === name);
        assert.ok(s, `Secret ${name} is referenced but not rendered`);
        if (key !== undefined) assert.ok(key in secretData(s), `Secret ${name} has no key ${key}`);
        const cur = used.get(name);
        if (key === undefined || cur === 'all') used.set(name, 'all');
        else used.set(name, new Set([...(cur ?? []), key]));
      };
      for (const w of workloads(objects())) {
        for (const c of w.containers) {
          for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) use(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
          for (const f of c.envFrom ?? []) if (f.secretRef) use(f.secretRef.name);
        }
        for (const v of w.pod.spec.volumes ?? []) {
          if (v.secret) for (const item of v.secret.items ?? [{}]) use(v.secret.secretName, item.key);
        }
      }
      for (const o of objects().filter((x) => x.kind === 'TriggerAuthentication')) {
        for (const r of o.spec.secretTargetRef ?? []) use(r.name, r.key);
      }
      for (const s of secrets) {
        const u = used.get(s.metadata.name);
        assert.ok(u, `Secret ${s.metadata.name} is not used by anything`);
        if (u !== 'all') for (const key of Object.keys(secretData(s))) assert.ok(u.has(key), `key ${key} of Secret ${s.metadata.name} is not used`);
      }
    });

    test('pods run non-root, read-only, without service links or a token, with requests and limits', () => {
      for (const w of workloads(objects())) {
        const name = w.object.metadata.name;
        const spec = w.pod.spec;
        assert.equal(spec.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`);
        assert.ok(spec.securityContext?.runAsUser > 0, `${name}: a numeric non-root runAsUser`);
        assert.equal(spec.automountServiceAccountToken, false, `${name}: automountServiceAccountToken`);
        // Service links would put FACESTREAM_API_PORT=tcp://… (the Service facestream-api) into every pod, which
        // the config loader refuses as a misspelt FACESTREAM_API__PORT.
        assert.equal(spec.enableServiceLinks, false, `${name}: enableServiceLinks`);
        for (const c of w.containers) {
          assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${name}/${c.name}: allowPrivilegeEscalation`);
          assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${name}/${c.name}: capabilities`);
          if (c.name !== 'kafka') assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${name}/${c.name}: readOnlyRootFilesystem`);
          for (const r of ['cpu', 'memory']) {
            assert.ok(c.resources?.requests?.[r] && c.resources?.limits?.[r], `${name}/${c.name}: ${r} request and limit`);
          }
          assert.match(c.image, /:[\w][\w.-]*$/, `${name}/${c.name}: image ${c.image} has no pinned tag`);
          assert.doesNotMatch(c.image, /:latest$/, `${name}/${c.name}: image ${c.image}`);
        }
      }
    });

    test('Services, PodDisruptionBudgets and the ServiceMonitor select real pods and ports', () => {
      const all = workloads(objects());
      const selects = (sel: Record<string, string>): Workload[] =>
        all.filter((w) => Object.entries(sel).every(([k, v]) => w.pod.metadata.labels?.[k] === v));
      for (const s of objects().filter((o) => o.kind === 'Service')) {
        const pods = selects(s.spec.selector);
        assert.ok(pods.length > 0, `Service ${s.metadata.name} selects no pod`);
        for (const p of s.spec.ports) {
          const ports = pods.flatMap((w) => w.containers.flatMap((c) => c.ports ?? []));
          assert.ok(ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort), `Service ${s.metadata.name}: targetPort ${p.targetPort}`);
        }
      }
      for (const pdb of objects().filter((o) => o.kind === 'PodDisruptionBudget')) {
        assert.equal(selects(pdb.spec.selector.matchLabels).length, 1, `PDB ${pdb.metadata.name} selects one workload`);
      }
      const servicePorts = objects().filter((o) => o.kind === 'Service' && o.metadata.labels?.['app.kubernetes.io/name'] === 'facestream').flatMap((s) => s.spec.ports.map((p: { name: string }) => p.name));
      for (const sm of objects().filter((o) => o.kind === 'ServiceMonitor')) {
        for (const e of sm.spec.endpoints) assert.ok(servicePorts.includes(e.port), `ServiceMonitor ${sm.metadata.name}: no Service port named ${e.port}`);
      }
      for (const w of services()) {
        assert.ok(objects().some((o) => o.kind === 'PodDisruptionBudget' && Object.entries(o.spec.selector.matchLabels).every(([k, v]) => w.pod.metadata.labels?.[k] === v)), `${w.object.metadata.name} has no PodDisruptionBudget`);
      }
    });

    test('NetworkPolicies: only match, api (and alerts, for its claims) reach Redis; ingest reaches cameras; all reach Kafka', () => {
      const policies = objects().filter((o) => o.kind === 'NetworkPolicy');
      const egressPorts = (w: Workload): Set<number> => {
        const out = new Set<number>();
        for (const p of policies) {
          const sel = p.spec.podSelector.matchLabels ?? {};
          if (!Object.entries(sel).every(([k, v]) => w.pod.metadata.labels?.[k] === v)) continue;
          for (const rule of p.spec.egress ?? []) for (const port of rule.ports ?? []) out.add(port.port);
        }
        return out;
      };
      const assertDefaultDeny = policies.some((p) => Object.keys(p.spec.podSelector.matchLabels ?? {}).join() === 'app.kubernetes.io/name' && !p.spec.egress && !p.spec.ingress && p.spec.policyTypes.includes('Egress'));
      assert.ok(assertDefaultDeny, 'a default-deny policy for every facestream pod');
      for (const w of facestreamWorkloads(objects())) {
        const ports = egressPorts(w);
        const config = configOf(objects(), w);
        const kafkaPort = Number(config.kafka.brokers[0].split(':')[1]);
        assert.ok(ports.has(kafkaPort), `${w.object.metadata.name}: no egress to Kafka port ${kafkaPort}`);
        assert.ok(ports.has(53), `${w.object.metadata.name}: no DNS`);
        const redis = ['match', 'api', 'alerts'].includes(role(w));
        assert.equal(ports.has(6379), redis, `${w.object.metadata.name}: egress to Redis ${redis ? 'missing' : 'allowed'}`);
        assert.equal(ports.has(554), role(w) === 'ingest', `${w.object.metadata.name}: RTSP egress`);
      }
    });
  });
}

describe('prod: embed on GPUs, scaled by KEDA on the lag the embed service really has', () => {
  const objects = (): K8sObject[] => render('prod').objects;
  test('the ScaledObject watches the faces topic and the embed group of the config, up to its partitions', () => {
    const so = objects().find((o) => o.kind === 'ScaledObject');
    assert.ok(so);
    const embed = facestreamWorkloads(objects()).find((w) => role(w) === 'embed')!;
    assert.equal(so.spec.scaleTargetRef.name, embed.object.metadata.name);
    assert.equal(embed.object.spec.replicas, undefined, 'KEDA owns the replica count: the Deployment must not set one');
    const config = configOf(objects(), embed);
    const [trigger] = so.spec.triggers;
    assert.equal(trigger.type, 'kafka');
    assert.equal(trigger.metadata.topic, configTopicPlan(config).topics.faces.name);
    assert.equal(trigger.metadata.consumerGroup, `${config.kafka.groupPrefix}embed`);
    assert.equal(trigger.metadata.bootstrapServers, config.kafka.brokers.join(','));
    assert.ok(so.spec.maxReplicaCount <= config.kafka.partitions, 'more embed pods than partitions would idle');
    const auth = find(objects(), 'TriggerAuthentication', trigger.authenticationRef.name);
    assert.ok(auth, 'the TriggerAuthentication');
    const keda = Object.fromEntries(auth.spec.secretTargetRef.map((r: { parameter: string; name: string; key: string }) => [r.parameter, secretData(find(objects(), 'Secret', r.name)!)[r.key]]));
    const sasl = config.kafka.sasl!;
    assert.equal(keda.sasl, sasl.mechanism.replace(/-/g, '_').replace('scram_sha_', 'scram_sha'), 'KEDA uses the SASL mechanism of the config');
    assert.equal(keda.username, sasl.username);
    assert.equal(keda.tls === 'enable', config.kafka.ssl);
  });

  test('embed asks for a GPU on GPU nodes, runs the CUDA image, and the config puts CUDA first', () => {
    const embed = facestreamWorkloads(objects()).find((w) => role(w) === 'embed')!;
    const c = embed.containers[0];
    assert.equal(c.resources.limits['nvidia.com/gpu'], '1');
    assert.match(c.image, /cuda12$/);
    assert.ok(Object.keys(embed.pod.spec.nodeSelector ?? {}).some((k) => k.startsWith('nvidia.com/')));
    assert.ok(embed.pod.spec.tolerations.some((t: { key: string }) => t.key === 'nvidia.com/gpu'));
    assert.equal(configOf(objects(), embed).embedder.executionProviders[0], 'cuda');
    for (const w of facestreamWorkloads(objects()).filter((x) => role(x) !== 'embed')) {
      assert.ok(!w.containers.some((x) => x.resources?.limits?.['nvidia.com/gpu']), `${w.object.metadata.name} needs no GPU`);
    }
  });
});

test('dev: the Kafka brokers and the Redis URL the services are given are Services of the overlay', () => {
  const objects = render('dev').objects;
  const match = facestreamWorkloads(objects).find((w) => role(w) === 'match')!;
  const config = configOf(objects, match);
  const endpoints = [...config.kafka.brokers, new URL(config.redis.url!).host];
  for (const hostPort of endpoints) {
    const [host, port] = hostPort.split(':');
    const svc = find(objects, 'Service', host);
    assert.ok(svc, `no Service "${host}" in dev`);
    assert.ok(svc.spec.ports.some((p: { port: number }) => p.port === Number(port)), `Service ${host} has no port ${port}`);
    assert.ok(workloads(objects).some((w) => Object.entries(svc.spec.selector).every(([k, v]) => w.pod.metadata.labels?.[k] === v)), `Service ${host} selects no pod`);
  }
  // Clients reconnect to what the broker advertises: it must be the address they were given.
  const kafkaPod = workloads(objects).find((w) => w.pod.metadata.labels?.['app.kubernetes.io/name'] === 'kafka')!;
  const advertised = containerEnv(objects, kafkaPod.containers[0]).KAFKA_ADVERTISED_LISTENERS;
  for (const b of config.kafka.brokers) assert.ok(advertised.split(',').some((l) => l.endsWith(`//${b}`)), `Kafka advertises ${advertised}, clients use ${b}`);
  // The Redis server's password is the one in the services' URL.
  const redisPod = workloads(objects).find((w) => w.pod.metadata.labels?.['app.kubernetes.io/name'] === 'redis')!;
  const password = containerEnv(objects, redisPod.containers[0]).REDIS_PASSWORD;
  assert.equal(decodeURIComponent(new URL(config.redis.url!).password), password);
});
