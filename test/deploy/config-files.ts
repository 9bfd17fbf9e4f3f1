/**
 * What a facestream container of the rendered manifests is given, as facestream sees it: the config file of the
 * ConfigMap mounted at FACESTREAM_CONFIG, its environment with Secrets resolved, and the command it runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { containerEnv, find, type Container, type K8sObject, type Workload } from './render';

/** The image's ENTRYPOINT (deploy/docker/Dockerfile) runs this file; /app is the repository root. */
export const IMAGE_CLI = '/app/dist/src/cli/main.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facestream-deploy-config-'));
let n = 0;

export interface ContainerSetup {
  /** The config file's content, written to a local temporary file. */
  configFile: string;
  /** The container's environment (Secrets resolved), FACESTREAM_CONFIG pointing at configFile. */
  env: Record<string, string>;
  /** `facestream` arguments: the container's args under the image's entrypoint. */
  cliArgs: string[];
}

/** Resolves the config mount of a container: FACESTREAM_CONFIG must be a key of a ConfigMap volume it mounts. */
export function containerSetup(objects: K8sObject[], w: Workload, c: Container): ContainerSetup {
  const env = containerEnv(objects, c);
  const configPath = env.FACESTREAM_CONFIG;
  let configFile = '';
  if (configPath !== undefined) {
    const mount = (c.volumeMounts ?? []).find((m) => configPath.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `${w.object.metadata.name}/${c.name}: FACESTREAM_CONFIG=${configPath} is not under a volume it mounts`);
    const volume = (w.pod.spec.volumes ?? []).find((v: { name: string }) => v.name === mount.name);
    assert.ok(volume?.configMap, `${w.object.metadata.name}/${c.name}: volume ${mount.name} is not a ConfigMap`);
    const cm = find(objects, 'ConfigMap', volume.configMap.name);
    assert.ok(cm, `${w.object.metadata.name}: ConfigMap ${volume.configMap.name} is not in the rendered manifests`);
    const key = path.posix.relative(mount.mountPath, configPath);
    assert.ok(cm.data?.[key] !== undefined, `ConfigMap ${cm.metadata.name} has no key ${key}`);
    configFile = path.join(tmp, `config-${++n}.yaml`);
    writeFileSync(configFile, cm.data[key]);
    env.FACESTREAM_CONFIG = configFile;
  }
  assert.equal(c.command, undefined, `${w.object.metadata.name}/${c.name}: a facestream service runs under the image's entrypoint`);
  return { configFile, env, cliArgs: [...(c.args ?? [])] };
}

/** The containers that run facestream (its image) in a workload. */
export function facestreamContainers(w: Workload): Container[] {
  return w.containers.filter((c) => /(^|\/)facestream(-gpu)?(:|$)/.test(c.image));
}
