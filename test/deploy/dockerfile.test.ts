/**
 * deploy/docker/Dockerfile: hadolint (every rule, failing at "style"), shown first to fail a bad Dockerfile; and
 * what hadolint cannot know: the build stage installs through scripts/setup.sh and nothing else (no second install
 * path), skips only steps setup.sh knows, the entrypoint is the built CLI, the images run as a numeric non-root
 * user, the ports the manifests probe are exposed, and runtime-packages.sh names the packages the addons link.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { IMAGE_CLI } from './config-files';
import { ROOT, tool } from './render';

const DOCKERFILE = path.join(ROOT, 'deploy', 'docker', 'Dockerfile');
const text = readFileSync(DOCKERFILE, 'utf8');

function hadolint(file: string): { ok: boolean; issues: { code: string; line: number; message: string }[] } {
  try {
    execFileSync(tool('hadolint'), ['--no-color', '--failure-threshold', 'style', '--format', 'json', file], { encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, issues: [] };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    let issues = [];
    try {
      issues = JSON.parse(e.stdout ?? '[]');
    } catch {
      throw new Error(`hadolint failed: ${e.stderr ?? ''}${e.stdout ?? ''}`);
    }
    return { ok: false, issues };
  }
}

/** Dockerfile instructions (continuation lines joined), with the stage they belong to. */
function instructions(): { stage: string; op: string; args: string }[] {
  const out: { stage: string; op: string; args: string }[] = [];
  let stage = '';
  const joined = text.replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() && !l.trimStart().startsWith('#'));
  for (const line of joined) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'FROM') stage = / AS (\S+)/i.exec(m[2])?.[1] ?? '';
    out.push({ stage, op: m[1], args: m[2] });
  }
  return out;
}

test('hadolint fails a Dockerfile that breaks its rules (so its pass means something)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-hadolint-'));
  try {
    const bad = path.join(dir, 'Dockerfile');
    writeFileSync(bad, 'FROM node\nRUN apt-get update && apt-get install -y ffmpeg\nRUN curl -s https://x | sh\nCMD node main.js\n');
    const r = hadolint(bad);
    assert.equal(r.ok, false);
    const codes = new Set(r.issues.map((i) => i.code));
    for (const code of ['DL3006', 'DL3008', 'DL3015', 'DL4006', 'DL3025']) assert.ok(codes.has(code), `hadolint did not report ${code}: ${[...codes].join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deploy/docker/Dockerfile passes hadolint at every level', () => {
  const r = hadolint(DOCKERFILE);
  assert.ok(r.ok, r.issues.map((i) => `line ${i.line}: ${i.code} ${i.message}`).join('\n'));
});

test('the build stage installs through scripts/setup.sh only, skipping only steps setup.sh knows', () => {
  const runs = instructions().filter((i) => i.op === 'RUN');
  const build = runs.filter((i) => i.stage === 'build');
  assert.ok(build.some((i) => /\bbash scripts\/setup\.sh\b/.test(i.args)), 'the build stage runs scripts/setup.sh');
  for (const i of runs) {
    assert.doesNotMatch(i.args, /\bnpm (ci|install|i)\b|\bnode-gyp\b|\btsc\b|models prepare/, `stage ${i.stage}: an install step outside setup.sh: ${i.args}`);
    if (i.stage !== 'runtime') assert.doesNotMatch(i.args, /apt-get install/, `stage ${i.stage}: apt-get install outside setup.sh`);
  }
  // The runtime stage installs exactly the generated list (versions pinned by the build stage), nothing typed in.
  const runtimeApt = runs.filter((i) => i.stage === 'runtime' && /apt-get install/.test(i.args));
  assert.equal(runtimeApt.length, 1);
  assert.match(runtimeApt[0].args, /xargs -a \/tmp\/runtime-packages\.txt apt-get install -y --no-install-recommends \\?\s*&&/);
  const setup = readFileSync(path.join(ROOT, 'scripts', 'setup.sh'), 'utf8');
  const skip = /FACESTREAM_SETUP_SKIP="([^"]*)"/.exec(text)?.[1];
  assert.ok(skip, 'FACESTREAM_SETUP_SKIP in the build stage');
  for (const step of skip.split(/\s+/)) assert.match(setup, new RegExp(`skipped ${step} \\|\\|`), `setup.sh has no skippable step "${step}"`);
  assert.match(text, /ARG ONNXRUNTIME_NODE_INSTALL=skip/);
  assert.match(setup, /if \[ "\$ONNXRUNTIME_NODE_INSTALL" != skip \]/, 'setup.sh runs onnxruntime-node\'s install script for cuda12');
});

test('the images run the built CLI as a numeric non-root user and expose the ports the manifests use', () => {
  const all = instructions();
  const entry = all.filter((i) => i.op === 'ENTRYPOINT').pop();
  assert.deepEqual(JSON.parse(entry!.args), ['node', IMAGE_CLI]);
  assert.ok(existsSync(path.join(ROOT, path.relative('/app', IMAGE_CLI))), `${IMAGE_CLI}: no such file in dist/`);
  for (const target of ['cpu', 'gpu']) {
    const users = all.filter((i) => i.stage === target && i.op === 'USER');
    assert.ok(users.length > 0, `target ${target} sets no USER`);
    assert.match(users[users.length - 1].args, /^[1-9]\d*:[1-9]\d*$/, `target ${target}: USER must be a numeric non-root uid:gid (runAsNonRoot)`);
  }
  const exposed = all.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map(Number));
  for (const port of [9464, 8080]) assert.ok(exposed.includes(port), `EXPOSE ${port}`);
  assert.ok(readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').includes('node_modules'), '.dockerignore keeps node_modules out');
});

test('runtime-packages.sh lists ffmpeg and the Debian packages of the OpenCV libraries the binding links', () => {
  const out = execFileSync('bash', [path.join(ROOT, 'deploy', 'docker', 'runtime-packages.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = out.trim().split('\n');
  for (const l of lines) assert.match(l, /^[a-z0-9][a-z0-9.+-]*=\S+$/, `not name=version: ${l}`);
  const names = lines.map((l) => l.split('=')[0]);
  assert.ok(names.includes('ffmpeg'));
  assert.ok(names.some((n) => /^libopencv-core\d+/.test(n)), 'libopencv-core*');
  assert.ok(!names.some((n) => n.endsWith('-dev')), 'no -dev package at run time');
});
