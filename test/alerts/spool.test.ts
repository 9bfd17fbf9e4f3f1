import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, promises as fs, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Spool, SpoolError } from '../../src/alerts/spool';
import { makeAlert } from './make-alert';

const root = mkdtempSync(path.join(os.tmpdir(), 'facestream-spool-'));
after(() => fs.rm(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => path.join(root, `s${n++}`);
const mode = (p: string): number => statSync(p).mode & 0o777;

describe('durable alert spool', () => {
  it('keeps alerts across a restart (new instance, same directory), in enqueue order, files 0600', async () => {
    const dir = freshDir();
    const s1 = new Spool(dir);
    await s1.open();
    const alerts = [makeAlert(3), makeAlert(1), makeAlert(2), makeAlert(5), makeAlert(4)];
    for (const a of alerts) assert.equal(await s1.enqueue(a), true);
    assert.equal(s1.size, 5);

    // Simulated crash: s1 is never closed. A new instance on the same directory sees everything.
    const s2 = new Spool(dir);
    await s2.open();
    assert.deepEqual(s2.pendingIds(), alerts.map((a) => a.id));
    assert.deepEqual(await s2.pending(), alerts);

    assert.equal(mode(dir), 0o700);
    assert.equal(mode(path.join(dir, 'pending')), 0o700);
    const files = readdirSync(path.join(dir, 'pending'));
    assert.equal(files.length, 5);
    for (const f of files) assert.equal(mode(path.join(dir, 'pending', f)), 0o600, `${f} mode`);
    await s2.close();
  });

  it('erasure: eraseIdentity removes every pending and dead-lettered alert of that person, on disk too, and nothing else', async () => {
    const dir = freshDir();
    const s = new Spool(dir);
    await s.open();
    const hers = [makeAlert(1, { identityId: 'jane' }), makeAlert(2, { identityId: 'jane' }), makeAlert(3, { identityId: 'jane' })];
    const others = [makeAlert(4, { identityId: 'john' }), makeAlert(5, { identityId: 'john' })];
    for (const a of [hers[0], others[0], hers[1], others[1], hers[2]]) await s.enqueue(a);
    await s.markDead(hers[2].id, 'test: dead-lettered');
    await s.markDead(others[1].id, 'test: dead-lettered');
    assert.equal(await s.eraseIdentity('jane'), 3);
    assert.deepEqual(s.pendingIds(), [others[0].id]);
    assert.deepEqual(s.deadIds(), [others[1].id]);
    const onDisk = ['pending', 'dead']
      .flatMap((sub) => readdirSync(path.join(dir, sub)).map((f) => readFileSync(path.join(dir, sub, f), 'utf8')))
      .join('\n');
    assert.ok(!onDisk.includes('"jane"'), 'no file still names the erased identity');
    assert.ok(onDisk.includes('"john"'));
    assert.equal(await s.eraseIdentity('jane'), 0, 'idempotent');
    await s.close();
    const again = new Spool(dir);
    await again.open();
    assert.deepEqual(again.pendingIds(), [others[0].id], 'the erasure survives a restart');
    assert.deepEqual(again.deadIds(), [others[1].id]);
    await again.close();
  });

  it('de-duplicates by id: pending, delivered (recently) and dead ids are no-ops', async () => {
    const s = new Spool(freshDir());
    await s.open();
    const [a, b, c] = [makeAlert(1), makeAlert(2), makeAlert(3)];
    assert.equal(await s.enqueue(a), true);
    assert.equal(await s.enqueue(makeAlert(1)), false, 'same decision again');
    assert.equal(s.size, 1);
    const concurrent = await Promise.all([s.enqueue(b), s.enqueue(b), s.enqueue(b)]);
    assert.deepEqual(concurrent.filter(Boolean).length, 1);
    assert.equal(readdirSync(path.join(s.dir, 'pending')).length, 2);

    await s.markDelivered(a.id);
    assert.equal(s.size, 1);
    assert.equal(await s.enqueue(a), false, 'recently delivered');

    await s.enqueue(c);
    await s.markDead(c.id, 'HTTP 404 after 3 attempts');
    assert.equal(await s.enqueue(c), false, 'dead-lettered');
    assert.deepEqual(s.pendingIds(), [b.id]);
    await s.close();
  });

  it('deletes delivered alerts and moves dead ones to dead/ (0600) with the reason, durably', async () => {
    const dir = freshDir();
    const s = new Spool(dir);
    await s.open();
    const [a, b] = [makeAlert(1), makeAlert(2)];
    await s.enqueue(a);
    await s.enqueue(b);
    await s.markDelivered(a.id);
    await s.markDead(b.id, 'HTTP 410 after 5 attempts');
    await s.markDelivered('not-there'); // no-op
    assert.equal(s.size, 0);
    assert.deepEqual(readdirSync(path.join(dir, 'pending')), []);
    const deadFile = path.join(dir, 'dead', `${b.id}.json`);
    assert.equal(mode(deadFile), 0o600);
    await s.close();

    const again = new Spool(dir);
    await again.open();
    assert.equal(again.size, 0);
    assert.deepEqual(again.deadIds(), [b.id]);
    const rec = await again.readDead(b.id);
    assert.equal(rec.reason, 'HTTP 410 after 5 attempts');
    assert.deepEqual(rec.alert, b);
    assert.equal(await again.enqueue(b), false);
    await again.close();
  });

  it('removes half-written temporary files on open and reports a corrupt entry on read', async () => {
    const dir = freshDir();
    const s = new Spool(dir);
    await s.open();
    const a = makeAlert(1);
    await s.enqueue(a);
    await s.close();
    // A crash between write and rename leaves a temporary file; a disk problem a truncated entry.
    writeFileSync(path.join(dir, 'pending', `.tmp-0000000000000001-x.json-1-abcd`), '{"v":1,"alert":{"id"');
    const [file] = readdirSync(path.join(dir, 'pending')).filter((f) => !f.startsWith('.'));
    writeFileSync(path.join(dir, 'pending', file), '{"v":1,"alert":{"id"');

    const s2 = new Spool(dir);
    await s2.open();
    assert.deepEqual(readdirSync(path.join(dir, 'pending')).filter((f) => f.startsWith('.tmp-')), []);
    assert.deepEqual(s2.pendingIds(), [a.id]);
    await assert.rejects(s2.read(a.id), SpoolError);
    await s2.markDead(a.id, 'unreadable');
    assert.equal((await s2.readDead(a.id)).alert, '{"v":1,"alert":{"id"');
    await s2.close();
  });

  it('refuses a spool held by another live process and takes over a stale lock', async () => {
    const dir = freshDir();
    await fs.mkdir(dir, { recursive: true });
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(path.join(dir, '.lock'), String(child.pid));
      await assert.rejects(new Spool(dir).open(), /in use by process/);
      if (process.platform === 'linux') {
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
        writeFileSync(path.join(dir, '.lock'), `${child.pid} ${started}`);
        await assert.rejects(new Spool(dir).open(), /in use by process/);
        // Same pid, other start time: the pid was reused by an unrelated process; the lock is stale.
        writeFileSync(path.join(dir, '.lock'), `${child.pid} ${Number(started) - 1}`);
        const reused = new Spool(dir);
        await reused.open();
        await reused.close();
      }
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    // The owner is gone now: its lock is stale.
    const s = new Spool(dir);
    await s.open();
    await s.enqueue(makeAlert(1));
    assert.equal(s.size, 1);
    await s.close();
  });

  it('must be opened before use', async () => {
    const s = new Spool(freshDir());
    await assert.rejects(s.enqueue(makeAlert(1)), /not open/);
  });
});
