/**
 * The deployment under test: deploy/k8s rendered by the real kustomize (scripts/deploy-tools.sh installs it), parsed
 * into objects, with helpers to walk its workloads, containers and Secret references.
 *
 * prod generates its Secrets from files under deploy/k8s/prod/secrets/ that are never committed; it is rendered from
 * a copy of deploy/k8s whose secrets/ holds the committed *.example files, as an operator would start.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { projectRoot } from '../../src/util/paths';

export const ROOT = projectRoot();
export const K8S_DIR = path.join(ROOT, 'deploy', 'k8s');
export const OVERLAYS = ['dev', 'prod'] as const;
export type Overlay = (typeof OVERLAYS)[number] | 'base';

/** Path of a tool of scripts/deploy-tools.sh; fails with the set-up command when it is missing. */
export function tool(name: 'kustomize' | 'kubernetes-validate' | 'hadolint'): string {
  try {
    return execFileSync('bash', [path.join(ROOT, 'scripts', 'deploy-tools.sh'), 'which', name], { encoding: 'utf8' }).trim();
  } catch (err) {
    throw new Error(`${name} is not installed: run bash scripts/setup.sh (${(err as { stderr?: string }).stderr?.trim() ?? ''})`);
  }
}

// Loosely typed Kubernetes objects: the schema tests check their shape.
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

const rendered = new Map<Overlay, { yaml: string; objects: K8sObject[] }>();

/** kustomize build of an overlay (or the base): the YAML stream and its objects (memoised per process). */
export function render(overlay: Overlay): { yaml: string; objects: K8sObject[] } {
  const hit = rendered.get(overlay);
  if (hit) return hit;
  let dir = path.join(K8S_DIR, overlay);
  let tmp: string | undefined;
  if (overlay === 'prod') {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'facestream-k8s-'));
    cpSync(K8S_DIR, tmp, { recursive: true });
    const secrets = path.join(tmp, 'prod', 'secrets');
    for (const f of readdirSync(secrets)) if (f.endsWith('.example')) cpSync(path.join(secrets, f), path.join(secrets, f.slice(0, -'.example'.length)));
    dir = path.join(tmp, 'prod');
  }
  try {
    const yaml = execFileSync(tool('kustomize'), ['build', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const objects = YAML.parseAllDocuments(yaml).map((d) => d.toJS() as K8sObject).filter(Boolean);
    const out = { yaml, objects };
    rendered.set(overlay, out);
    return out;
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'Job', 'DaemonSet', 'CronJob']);

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: any }[];
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string }[];
  livenessProbe?: any;
  readinessProbe?: any;
  startupProbe?: any;
  securityContext?: any;
  resources?: any;
}

export interface Workload {
  object: K8sObject;
  /** The pod template's metadata and spec. */
  pod: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: any };
  containers: Container[];
}

export function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => WORKLOAD_KINDS.has(o.kind))
    .map((o) => {
      const template = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template;
      return { object: o, pod: template, containers: [...(template.spec.initContainers ?? []), ...template.spec.containers] };
    });
}

/** facestream's own workloads (label app.kubernetes.io/name=facestream), not dev's Kafka and Redis. */
export function facestreamWorkloads(objects: K8sObject[]): Workload[] {
  return workloads(objects).filter((w) => w.pod.metadata.labels?.['app.kubernetes.io/name'] === 'facestream');
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

/** A Secret's data, decoded. */
export function secretData(secret: K8sObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((secret.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries((secret.stringData ?? {}) as Record<string, string>)) out[k] = v;
  return out;
}

/**
 * The environment a container gets (literal values and Secret/ConfigMap keys resolved from the rendered objects);
 * references that do not resolve are errors.
 */
export function containerEnv(objects: K8sObject[], c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  const lookup = (kind: 'Secret' | 'ConfigMap', name: string): Record<string, string> => {
    const o = find(objects, kind, name);
    if (!o) throw new Error(`container ${c.name}: ${kind} "${name}" is not in the rendered manifests`);
    return kind === 'Secret' ? secretData(o) : (o.data ?? {});
  };
  for (const from of c.envFrom ?? []) {
    if (from.secretRef) Object.assign(env, lookup('Secret', from.secretRef.name));
    if (from.configMapRef) Object.assign(env, lookup('ConfigMap', from.configMapRef.name));
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef;
      const data = lookup(e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name);
      if (!(ref.key in data)) throw new Error(`container ${c.name}: env ${e.name}: key "${ref.key}" is not in ${ref.name}`);
      env[e.name] = data[ref.key];
    }
  }
  return env;
}
