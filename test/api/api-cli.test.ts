/**
 * The real command line: `facestream keys create|list|revoke` and `facestream api --port 0` as child processes.
 * The key is printed once and works against the running server; list shows ids and roles, never keys; revoking it
 * from the CLI locks it out of the running server at once; SIGTERM stops the server cleanly. Bad flags exit 2 with
 * a message naming the flag.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLI, CliProcess } from '../support/cli-process';
import { keySecret } from '../../src/api/auth/keys';

const run = promisify(execFile);
const env = { ...process.env, FACESTREAM_LOG_LEVEL: 'info' };

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('facestream keys and facestream api (child processes)', () => {
  let dir: string;
  let store: string;
  let server: CliProcess | undefined;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-apicli-'));
    store = path.join(dir, 'store');
  });
  after(async () => {
    server?.killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('keys create prints a key once; api serves it; revoke locks it out; SIGTERM stops', async () => {
    const created = await cli('keys', 'create', '--role', 'operator', '--label', 'dashboard', '--store', store);
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^fsk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const id = key.split('_')[1];
    const secret = keySecret(key)!;
    assert.match(created.stderr, new RegExp(`created key ${id} \\(role operator\\)`));

    const listed = await cli('keys', 'list', '--json', '--store', store);
    const list = JSON.parse(listed.stdout);
    assert.deepEqual(list.map((k: { id: string; role: string; label: string }) => [k.id, k.role, k.label]), [[id, 'operator', 'dashboard']]);
    assert.ok(!listed.stdout.includes(secret), 'the listing never holds a key');

    server = new CliProcess(['api', '--port', '0', '--host', '127.0.0.1', '--store', store], env);
    const line = await server.waitForLog((l) => l.msg === 'management API listening', 30_000, 'the API to listen');
    const base = String(line.address);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/watchlists`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    assert.equal((await fetch(`${base}/identities`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{"name":"x"}' })).status, 403);

    const revoked = await cli('keys', 'revoke', id, '--store', store);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await fetch(`${base}/watchlists`, { headers: { authorization: `Bearer ${key}` } })).status, 401);
    assert.ok(!server.tail(200).includes(secret), 'the server log never holds a key');

    server.signal('SIGTERM');
    const exit = await server.waitForExit(20_000);
    assert.equal(exit.code, 0);
  });

  test('bad flags and unknown ids: exit code and a message naming what is wrong', async () => {
    const badRole = await cli('keys', 'create', '--role', 'root', '--store', store);
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /--role.*expected one of admin, operator, viewer, got "root"/);
    const unknown = await cli('keys', 'revoke', 'ffffffffffffffff', '--store', store);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no API key with id "ffffffffffffffff"/);
    const badPort = await cli('api', '--port', '99999', '--store', store);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--port.*expected a port 0\.\.65535, got "99999"/);
  });
});
