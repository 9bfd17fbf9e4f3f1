/** The alerts instance id kept in the spool directory: created once, stable, shared by concurrent starters, checked. */
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { INSTANCE_ID_FILE, spoolInstanceId } from '../../src/services/alerts/instance-id';

const root = mkdtempSync(path.join(os.tmpdir(), 'facestream-instance-id-'));
after(() => fs.rm(root, { recursive: true, force: true }));

describe('alerts instance id', () => {
  it('is created from the given id (sanitised) and then read back unchanged', async () => {
    const dir = path.join(root, 'a', 'spool');
    assert.equal(await spoolInstanceId(dir, 'host:1/2 x'), 'host_1_2_x');
    assert.equal(await spoolInstanceId(dir, 'another-run'), 'host_1_2_x');
    assert.deepEqual(readdirSync(dir), [INSTANCE_ID_FILE], 'no temporary file left');
    assert.equal((await fs.stat(path.join(dir, INSTANCE_ID_FILE))).mode & 0o777, 0o600);
  });

  it('concurrent first starts agree on one id', async () => {
    const dir = path.join(root, 'b');
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => spoolInstanceId(dir, `run-${i}`)));
    assert.equal(new Set(ids).size, 1);
  });

  it('refuses a damaged file instead of silently becoming another owner', async () => {
    const dir = path.join(root, 'c');
    await fs.mkdir(dir);
    writeFileSync(path.join(dir, INSTANCE_ID_FILE), 'bad id with spaces\n');
    await assert.rejects(spoolInstanceId(dir, 'x'), /does not hold an alerts instance id/);
  });
});
