import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig, LoadConfigOptions } from '../../src/config/load';
import { UsageError } from '../../src/util/errors';

const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-config-'));
after(() => fs.rm(dir, { recursive: true, force: true }));
let n = 0;
function yamlFile(text: string): string {
  const file = path.join(dir, `c${n++}.yaml`);
  writeFileSync(file, text);
  return file;
}
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const PASSWORD = 'Hunter2-pw';

/** The ConfigError of a load that must fail. */
function configError(opts: LoadConfigOptions): ConfigError {
  try {
    loadConfig(opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected loadConfig to throw');
}

describe('config loading', () => {
  it('applies defaults for everything', () => {
    const c = loadConfig({ env: {} });
    assert.deepEqual(c.cameras, []);
    assert.equal(c.http.port, 9464);
    assert.equal(c.http.host, '0.0.0.0');
    assert.equal(c.detector.name, 'mtcnn');
    assert.equal(c.embedder.name, 'faceapi-resnet128');
    assert.deepEqual(c.embedder.executionProviders, ['cpu']);
    assert.equal(c.embedder.threads, undefined);
    assert.equal(c.alerts.cooldownSec, 60);
    assert.equal(c.alerts.timeoutMs, 10_000);
    assert.deepEqual(c.alerts.backoff, { initialMs: 1000, maxMs: 60_000 });
    assert.deepEqual(c.alerts.webhooks, []);
    assert.equal(c.matching.targetFpir, 0.001);
    assert.equal(c.matching.svm, undefined);
    assert.equal(c.log.level, 'info');
    assert.equal(c.modelDir, undefined);
  });

  it('reads a YAML file and fills camera defaults', () => {
    const file = yamlFile(`
cameras:
  - name: front-door
    url: rtsp://cam1.local/stream
  - name: lobby
    url: /videos/lobby.mp4
    fps: 2.5
    transport: udp
alerts:
  webhooks:
    - url: https://hooks.example.com/facestream
      secret: ${SECRET}
  cooldownSec: 30
http:
  port: 9100
`);
    const c = loadConfig({ file, env: {} });
    assert.deepEqual(c.cameras[0], {
      name: 'front-door',
      url: 'rtsp://cam1.local/stream',
      fps: 5,
      maxWidth: 1280,
      transport: 'tcp',
      enabled: true,
      hwaccel: 'none',
    });
    assert.equal(c.cameras[1].fps, 2.5);
    assert.equal(c.cameras[1].transport, 'udp');
    assert.equal(c.alerts.cooldownSec, 30);
    assert.equal(c.alerts.webhooks[0].secret, SECRET);
    assert.equal(c.http.port, 9100);
    assert.equal(c.http.host, '0.0.0.0', 'sibling defaults kept');
  });

  it('layers defaults < file < env < command line, parsing env values by type', () => {
    const file = yamlFile('http:\n  port: 9100\n  host: 127.0.0.1\nlog:\n  level: warn\ncameras:\n  - name: a\n    url: rtsp://h/a\n');
    const env = {
      FACESTREAM_HTTP__PORT: '9000',
      FACESTREAM_LOG__LEVEL: 'debug',
      FACESTREAM_CAMERAS__0__FPS: '2',
      FACESTREAM_CAMERAS__0__ENABLED: 'false',
      FACESTREAM_EMBEDDER__EXECUTION_PROVIDERS: 'cuda,cpu',
      FACESTREAM_EMBEDDER__THREADS: '4',
      FACESTREAM_ALERTS__COOLDOWN_SEC: '5',
      FACESTREAM_MODEL_DIR: '/opt/models',
      FACESTREAM_SHARED_DIR: '/work/shared', // not a setting: ignored
      FACESTREAM_DEBUG: '1',
    };
    const c = loadConfig({ file, env, overrides: { http: { host: '10.0.0.1', port: undefined }, log: { level: 'error' } } });
    assert.equal(c.http.port, 9000);
    assert.equal(c.http.host, '10.0.0.1');
    assert.equal(c.log.level, 'error');
    assert.equal(c.cameras[0].fps, 2);
    assert.equal(c.cameras[0].enabled, false);
    assert.equal(c.cameras[0].name, 'a', 'env set one field of the file camera');
    assert.deepEqual(c.embedder.executionProviders, ['cuda', 'cpu']);
    assert.equal(c.embedder.threads, 4);
    assert.equal(c.alerts.cooldownSec, 5);
    assert.equal(c.modelDir, '/opt/models');
    // Command-line cameras replace the file's list.
    const c2 = loadConfig({ file, env: {}, overrides: { cameras: [{ name: 'cli', url: 'rtsp://h/cli' }] } });
    assert.deepEqual(c2.cameras.map((x) => x.name), ['cli']);
    // FACESTREAM_LOG_LEVEL (used by the logger) is an alias of log.level; FACESTREAM_CONFIG names the file.
    assert.equal(loadConfig({ env: { FACESTREAM_LOG_LEVEL: 'trace' } }).log.level, 'trace');
    assert.equal(loadConfig({ env: { FACESTREAM_CONFIG: file } }).http.port, 9100);
  });

  it('takes webhook secrets from FACESTREAM_WEBHOOK_SECRET when the config has none', () => {
    const overrides = { alerts: { webhooks: [{ url: 'https://a.example/h' }, { url: 'https://b.example/h', secret: 'x'.repeat(24) }] } };
    const c = loadConfig({ env: { FACESTREAM_WEBHOOK_SECRET: SECRET }, overrides });
    assert.equal(c.alerts.webhooks[0].secret, SECRET);
    assert.equal(c.alerts.webhooks[1].secret, 'x'.repeat(24));
    const e = configError({ env: {}, overrides });
    assert.match(e.message, /alerts\.webhooks\.0\.secret: expected "whsec_<base64>" .* FACESTREAM_WEBHOOK_SECRET, got nothing/);
  });

  it('names an unknown key and suggests the near miss, at any depth', () => {
    const e = configError({ env: {}, file: yamlFile('camras: []\nhttp:\n  prot: 80\ncameras:\n  - name: a\n    url: rtsp://h/a\n    fsp: 3\n') });
    assert.ok(e.message.includes('unknown key "camras" (did you mean "cameras"?)'), e.message);
    assert.ok(e.message.includes('http: unknown key "prot" (did you mean "port"?)'), e.message);
    assert.ok(e.message.includes('cameras.0: unknown key "fsp" (did you mean "fps"?)'), e.message);
    const far = configError({ env: {}, overrides: { zzzzzz: 1 } as never });
    assert.deepEqual(far.issues, [{ path: '', message: 'unknown key "zzzzzz" (from the command line)' }]);
  });

  it('says what was expected and what was given for a wrong type', () => {
    const e = configError({ env: { FACESTREAM_HTTP__PORT: 'abc' } });
    assert.equal(e.issues.length, 1);
    assert.equal(e.issues[0].path, 'http.port');
    assert.equal(e.issues[0].message, 'expected integer 0..65535 (0 = any free port), got "abc" (from FACESTREAM_HTTP__PORT)');
    assert.ok(e.message.includes('http.port: expected integer 0..65535'));
    const file = yamlFile('http:\n  port: 70000\ncameras:\n  - name: a\n    url: rtsp://h/a\n    transport: quic\n    fps: 0\n');
    const e2 = configError({ env: {}, file });
    assert.ok(e2.message.includes(`http.port: expected integer 0..65535 (0 = any free port), got 70000 (in ${file})`), e2.message);
    assert.ok(e2.message.includes('cameras.0.transport: expected one of "tcp", "udp", got "quic"'), e2.message);
    assert.ok(e2.message.includes('cameras.0.fps: expected number > 0 and <= 60, got 0'), e2.message);
    const e3 = configError({ env: {}, overrides: { http: 'x' as never, cameras: 'rtsp://h/a' as never } });
    assert.ok(e3.message.includes('http: expected a mapping of settings, got "x"'), e3.message);
    assert.ok(e3.message.includes('cameras: expected a list of cameras, got "rtsp://h/a"'), e3.message);
    // ConfigError is a UsageError: the CLI prints it without a stack and exits 2.
    assert.ok(e instanceof UsageError);
    assert.equal(e.exitCode, 2);
  });

  it('rejects bad camera URLs, duplicate and URL-like camera names', () => {
    const bad = ['ftp://cam.local/stream', 'rtsp:/cam.local/stream', 'rtsp://', ' rtsp://cam/x', ''];
    for (const url of bad) {
      const e = configError({ env: {}, overrides: { cameras: [{ name: 'a', url }] } });
      assert.equal(e.issues[0].path, 'cameras.0.url', url);
      assert.ok(e.issues[0].message.startsWith('expected rtsp://, rtsps://, http://, https:// or file path, got '), e.issues[0].message);
    }
    for (const url of ['rtsp://cam/x', 'rtsps://cam/x', 'http://cam/x.mjpg', 'https://cam/x', '/data/v.mp4', 'v.mp4', 'C:\\v\\a.mp4', 'file:///v.mp4']) {
      assert.equal(loadConfig({ env: {}, overrides: { cameras: [{ name: 'a', url }] } }).cameras[0].url, url);
    }
    const dup = configError({ env: {}, overrides: { cameras: [{ name: 'a', url: 'rtsp://h/1' }, { name: 'a', url: 'rtsp://h/2' }] } });
    assert.ok(dup.message.includes('cameras.1.name: duplicate camera name (also cameras.0.name)'), dup.message);
    const named = configError({ env: {}, overrides: { cameras: [{ name: 'rtsp://h/1', url: 'rtsp://h/1' }] } });
    assert.equal(named.issues[0].path, 'cameras.0.name');
  });

  it('never shows a camera password or a webhook secret in an error', () => {
    const camUrl = `ftp://admin:${PASSWORD}@10.0.0.9/live`;
    const rtspUrl = `rtsp://admin:${PASSWORD}@10.0.0.9:554/live`;
    const longUrl = `rtsp://admin:${PASSWORD}@${'very-long-host-name.'.repeat(5)}example.com/stream`;
    const cases: LoadConfigOptions[] = [
      { env: {}, overrides: { cameras: [{ name: 'a', url: camUrl }] } },
      { env: {}, overrides: { cameras: [{ name: rtspUrl, url: rtspUrl }] } },
      { env: {}, overrides: { cameras: [{ name: 'a', url: longUrl, fps: 'x' as never }] } },
      { env: {}, overrides: { cameras: [{ name: longUrl, url: longUrl }] } },
      { env: {}, overrides: { cameras: [{ name: 'a', url: rtspUrl, [rtspUrl]: 1 } as never] } },
      { env: { FACESTREAM_CAMERAS__0__URL: camUrl, FACESTREAM_CAMERAS__0__NAME: 'a' } },
      { env: { FACESTREAM_CAMERAS: `[{"name":"a","url":"${camUrl}"` } }, // malformed JSON
      { env: {}, file: yamlFile(`cameras:\n  - name: a\n    url: ${camUrl}\n`) },
      { env: {}, file: yamlFile(`cameras:\n  - name: a\n    url: ${rtspUrl}\n   bad: [indent\n`) }, // YAML syntax error
      { env: {}, overrides: { alerts: { webhooks: [{ url: `https://u:${PASSWORD}@hooks.example/x`, secret: PASSWORD }] } } },
      { env: {}, overrides: { alerts: { webhooks: [{ url: `ftp://u:${PASSWORD}@hooks.example/x`, secret: `whsec_${PASSWORD}!` }] } } },
      { env: { FACESTREAM_WEBHOOK_SECRET: PASSWORD }, overrides: { alerts: { webhooks: [{ url: 'https://hooks.example/x' }] } } },
      { env: {}, overrides: { alerts: { webhooks: [{ url: 'https://hooks.example/x', secret: 12345 as never }] } } },
    ];
    for (const [i, opts] of cases.entries()) {
      const e = configError(opts);
      assert.ok(!e.message.includes(PASSWORD), `case ${i} leaked the password:\n${e.message}`);
      assert.ok(!e.message.includes('Hunter2'), `case ${i} leaked part of the password:\n${e.message}`);
      assert.ok(!e.message.includes('12345'), `case ${i} leaked the secret:\n${e.message}`);
    }
    const masked = configError(cases[0]);
    assert.ok(masked.message.includes('cameras.0.url: expected rtsp://, rtsps://, http://, https:// or file path, got "ftp://***@10.0.0.9/live"'), masked.message);
  });

  it('chooses the candidate index of large galleries: exact by default, approximate with its graph parameters', () => {
    const d = loadConfig({ env: {} });
    assert.equal(d.matching.index, 'exact');
    assert.deepEqual(d.matching.approximate, { connectivity: 48, expansionAdd: 400, expansionSearch: 192, candidates: 32, quantization: 'i8', threads: 0, discardVariance: 3e-4, layout: 'breadth-first' });
    const c = loadConfig({ env: { FACESTREAM_MATCHING__INDEX: 'approximate', FACESTREAM_MATCHING__APPROXIMATE__EXPANSION_SEARCH: '320', FACESTREAM_MATCHING__APPROXIMATE__TEMP_DIR: '/scratch' } });
    assert.equal(c.matching.index, 'approximate');
    assert.equal(c.matching.approximate.expansionSearch, 320);
    assert.equal(c.matching.approximate.tempDir, '/scratch');
    assert.equal(c.matching.approximate.connectivity, 48, 'sibling defaults kept');
    const e = configError({ env: { FACESTREAM_MATCHING__INDEX: 'fast', FACESTREAM_MATCHING__APPROXIMATE__CONNECTIVITY: '1' } });
    assert.ok(e.message.includes('matching.index: expected one of "exact", "approximate", got "fast"'), e.message);
    assert.ok(e.message.includes('matching.approximate.connectivity: expected integer 2..256, got 1'), e.message);
    const l = configError({ env: { FACESTREAM_MATCHING__APPROXIMATE__LAYOUT: 'random' } });
    assert.ok(l.message.includes('matching.approximate.layout: expected one of "breadth-first", "insertion", got "random"'), l.message);
  });

  it('rejects environment variables that name no setting', () => {
    const e = configError({ env: { FACESTREAM_HTPP__PORT: '1', FACESTREAM_HTTP__PROT: '1', FACESTREAM_HTTP_PORT: '1', FACESTREAM_HTTP__PORT__X: '1' } });
    assert.ok(e.message.includes('FACESTREAM_HTPP__PORT: unknown key "htpp" (did you mean "http"?)'), e.message);
    assert.ok(e.message.includes('http: FACESTREAM_HTTP__PROT: unknown key "prot" (did you mean "port"?)'), e.message);
    assert.ok(e.message.includes('FACESTREAM_HTTP_PORT: not a setting (did you mean FACESTREAM_HTTP__PORT?)'), e.message);
    assert.ok(e.message.includes('FACESTREAM_HTTP__PORT__X'), e.message);
  });

  it('reports unreadable files and non-mapping YAML', () => {
    assert.match(configError({ env: {}, file: path.join(dir, 'missing.yaml') }).message, /cannot read config file .*missing\.yaml: ENOENT/);
    assert.match(configError({ env: {}, file: yamlFile('- a\n- b\n') }).message, /expected a mapping of settings at the top level, got a list/);
    assert.deepEqual(loadConfig({ env: {}, file: yamlFile('') }).cameras, []);
    assert.match(configError({ env: {}, file: yamlFile('http:\n  port: 1\n  port: 2\n') }).message, /YAML error/);
  });
});
