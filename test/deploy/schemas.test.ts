/**
 * Every overlay renders, and every object it holds is valid against its schema, offline:
 *   - Kubernetes API objects: kubernetes-validate --strict (the API's JSON schemas; unknown fields are errors)
 *   - KEDA ScaledObject/TriggerAuthentication and prometheus-operator ServiceMonitor: the validators that
 *     @kubernetes-models/keda and @kubernetes-models/prometheus-operator generate from those projects' CRD schemas.
 * Both validators are first shown to reject a broken object, so a pass means something.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { OVERLAYS, render, tool, type K8sObject, type Overlay } from './render';

/** Kubernetes releases whose schemas the objects must satisfy: the oldest the guide supports, the newest shipped. */
const KUBERNETES_VERSIONS = ['1.29.0', '1.37.0'];

const CRD_MODELS: Record<string, { module: string; kinds: string[] }> = {
  'keda.sh/v1alpha1': { module: '@kubernetes-models/keda/keda.sh/v1alpha1', kinds: ['ScaledObject', 'TriggerAuthentication'] },
  'monitoring.coreos.com/v1': { module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1', kinds: ['ServiceMonitor'] },
};

// The @kubernetes-models packages are ES modules only; this CommonJS build loads them with a real import().
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<Record<string, unknown>>;

interface ModelClass {
  new (data: unknown): { validate(): void };
}

async function crdErrors(o: K8sObject): Promise<string | undefined> {
  const spec = CRD_MODELS[o.apiVersion];
  if (!spec || !spec.kinds.includes(o.kind)) return `no CRD schema known for ${o.apiVersion} ${o.kind}`;
  const Model = (await importEsm(spec.module))[o.kind] as ModelClass;
  try {
    new Model(o).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facestream-schemas-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** kubernetes-validate --strict over a YAML stream: [exit code, output]. */
function kubernetesValidate(name: string, objects: K8sObject[], version = KUBERNETES_VERSIONS[0]): { ok: boolean; output: string } {
  const file = path.join(tmp, `${name}.yaml`);
  // As JSON documents: YAML 1.1 readers would take a plain `yes` (YAML 1.2 text) for a boolean.
  writeFileSync(file, objects.map((o) => JSON.stringify(o)).join('\n---\n'));
  try {
    const output = execFileSync(tool('kubernetes-validate'), ['--strict', '--no-warn', '-k', version, file], { encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const BROKEN_DEPLOYMENT: K8sObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'broken' },
  spec: {
    selector: { matchLabels: { a: 'b' } },
    template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i:1', livenessProbe: { httpGet: { path: '/healthz', port: 9464, prot: 9464 } } }] } },
  },
};

describe('the validators reject broken objects', () => {
  test('kubernetes-validate --strict: an unknown field in a probe', () => {
    const r = kubernetesValidate('broken', [BROKEN_DEPLOYMENT]);
    assert.equal(r.ok, false, r.output);
    assert.match(r.output, /prot/);
  });
  test('the KEDA CRD schema: a ScaledObject without scaleTargetRef, with a numeric lagThreshold', async () => {
    const err = await crdErrors({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'x' }, spec: { triggers: [{ type: 'kafka', metadata: { lagThreshold: 64 } }] } });
    assert.ok(err, 'expected errors');
    assert.match(err, /scaleTargetRef/);
    assert.match(err, /lagThreshold/);
  });
  test('the ServiceMonitor CRD schema: a numeric interval', async () => {
    const err = await crdErrors({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x' }, spec: { selector: {}, endpoints: [{ port: 'metrics', interval: 30 }] } });
    assert.ok(err, 'expected errors');
    assert.match(err, /interval/);
  });
});

for (const overlay of ['base', ...OVERLAYS] as Overlay[]) {
  describe(`deploy/k8s/${overlay}`, () => {
    test('renders with kustomize, every object named', () => {
      const { objects } = render(overlay);
      assert.ok(objects.length > 10, `only ${objects.length} objects`);
      for (const o of objects) assert.ok(o.apiVersion && o.kind && o.metadata?.name, `object without apiVersion/kind/name: ${JSON.stringify(o).slice(0, 200)}`);
      const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      assert.deepEqual(ids.filter((id, i) => ids.indexOf(id) !== i), [], 'duplicate objects');
    });

    for (const version of KUBERNETES_VERSIONS) {
      test(`Kubernetes API objects are valid against the ${version} schemas (strict)`, () => {
        const core = render(overlay).objects.filter((o) => !(o.apiVersion in CRD_MODELS));
        const r = kubernetesValidate(overlay, core, version);
        assert.ok(r.ok, r.output);
        // Every object was checked against a schema (none skipped as unknown).
        const passed = r.output.split('\n').filter((l) => / passed for resource /.test(l)).length;
        assert.equal(passed, core.length, r.output);
      });
    }

    test('KEDA and ServiceMonitor objects are valid against their CRD schemas', async () => {
      const crds = render(overlay).objects.filter((o) => o.apiVersion in CRD_MODELS);
      if (overlay === 'prod') {
        assert.deepEqual(crds.map((o) => o.kind).sort(), ['ScaledObject', 'ServiceMonitor', 'TriggerAuthentication']);
      }
      for (const o of crds) assert.equal(await crdErrors(o), undefined, `${o.kind}/${o.metadata.name}`);
    });
  });
}

test('every apiVersion is one the validators cover (no object escapes validation)', () => {
  for (const overlay of ['base', ...OVERLAYS] as Overlay[]) {
    for (const o of render(overlay).objects) {
      const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
      const core = group === '' || !group.includes('.') || group.endsWith('.k8s.io');
      assert.ok(core || o.apiVersion in CRD_MODELS, `${overlay}: ${o.kind}/${o.metadata.name} (${o.apiVersion}) has no schema here`);
    }
  }
});
