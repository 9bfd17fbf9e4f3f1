/**
 * Durable on-disk alert spool: an alert is on disk (fsynced) before enqueue() resolves, and stays there
 * until markDelivered() deletes it or markDead() moves it to dead/ — across crashes and restarts.
 *
 * Layout of `dir` (created 0700; files 0600, since an alert holds a face crop):
 *   pending/<seq>-<id>.json   one alert each; <seq> (16 digits, microsecond-ish, monotonic) keeps enqueue order
 *   dead/<id>.json            dead-lettered alert + reason
 *   .lock                     pid of the process that owns the spool (one process per spool directory)
 * Writes go to a temporary file, fsync, rename, then fsync of the directory, so a crash leaves either the
 * whole file or none (temporary leftovers are removed by open()).
 *
 * De-duplication: enqueue() of an id that is pending, dead, or was delivered recently by this process
 * (the last 10 000) is a no-op.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fsyncDir, writeFileDurably } from '../util/durable-file';
import { Alert, AlertSchema } from './alert';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const TMP_PREFIX = '.tmp-';
const PENDING_NAME = /^(\d{16})-([A-Za-z0-9_-]{1,128})\.json$/;
const DEAD_NAME = /^([A-Za-z0-9_-]{1,128})\.json$/;
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const RECENT_DELIVERED_CAP = 10_000;

export class SpoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpoolError';
  }
}

export interface DeadRecord {
  id: string;
  reason: string;
  /** ISO time it was dead-lettered. */
  deadAt: string;
  /** The alert as spooled (or the raw file text if it could not be parsed). */
  alert: unknown;
}

interface PendingFile {
  v: 1;
  enqueuedAt: string;
  alert: Alert;
}

export class Spool {
  readonly dir: string;
  private readonly pendingDir: string;
  private readonly deadDir: string;
  private readonly lockFile: string;
  /** id → file name in pending/, in enqueue order (Map keeps insertion order; open() inserts sorted). */
  private readonly index = new Map<string, string>();
  private readonly dead = new Set<string>();
  private readonly recentlyDelivered = new Set<string>();
  private readonly writing = new Set<string>();
  private lastSeq = 0;
  private opened: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.pendingDir = path.join(this.dir, 'pending');
    this.deadDir = path.join(this.dir, 'dead');
    this.lockFile = path.join(this.dir, '.lock');
  }

  /** Creates the directories, takes the lock, removes temporary leftovers and indexes pending alerts. Idempotent. */
  open(): Promise<void> {
    this.opened ??= this.doOpen();
    return this.opened;
  }

  private async doOpen(): Promise<void> {
    for (const d of [this.dir, this.pendingDir, this.deadDir]) {
      await fs.mkdir(d, { recursive: true, mode: DIR_MODE });
      await fs.chmod(d, DIR_MODE).catch(() => undefined); // best effort on a directory we may not own
    }
    await this.lock();
    const names = (await fs.readdir(this.pendingDir)).sort();
    for (const name of names) {
      if (name.startsWith(TMP_PREFIX)) {
        await fs.rm(path.join(this.pendingDir, name), { force: true });
        continue;
      }
      const m = PENDING_NAME.exec(name);
      if (!m) continue;
      this.index.set(m[2], name);
      this.lastSeq = Math.max(this.lastSeq, Number(m[1]));
    }
    for (const name of await fs.readdir(this.deadDir)) {
      if (name.startsWith(TMP_PREFIX)) {
        await fs.rm(path.join(this.deadDir, name), { force: true });
        continue;
      }
      const m = DEAD_NAME.exec(name);
      if (m) this.dead.add(m[1]);
    }
  }

  /** Releases the lock. The spool may be opened again by a new instance. */
  async close(): Promise<void> {
    if (!this.opened) return;
    await this.opened.catch(() => undefined);
    const owner = await fs.readFile(this.lockFile, 'utf8').catch(() => '');
    if (owner.trim().split(/\s+/)[0] === String(process.pid)) await fs.rm(this.lockFile, { force: true });
    this.opened = undefined;
    this.index.clear();
    this.dead.clear();
  }

  /** Number of pending alerts. */
  get size(): number {
    return this.index.size;
  }

  /** Pending alert ids, oldest first. */
  pendingIds(): string[] {
    return [...this.index.keys()];
  }

  /** The oldest pending id, if any. */
  first(): string | undefined {
    return this.index.keys().next().value;
  }

  /** Whether an id is pending or dead-lettered. */
  has(id: string): boolean {
    return this.index.has(id) || this.dead.has(id) || this.writing.has(id);
  }

  /** All pending alerts, oldest first (reads every file: for small spools and tests; the deliverer uses read()). */
  async pending(): Promise<Alert[]> {
    this.assertOpen();
    const out: Alert[] = [];
    for (const id of this.pendingIds()) out.push(await this.read(id));
    return out;
  }

  /** Reads and validates one pending alert. Throws SpoolError if it is missing or its file is corrupt. */
  async read(id: string): Promise<Alert> {
    this.assertOpen();
    const name = this.index.get(id);
    if (!name) throw new SpoolError(`alert ${id} is not pending in the spool`);
    const text = await fs.readFile(path.join(this.pendingDir, name), 'utf8');
    let parsed: PendingFile;
    try {
      parsed = JSON.parse(text) as PendingFile;
    } catch {
      throw new SpoolError(`spool file ${name} is not valid JSON`);
    }
    const checked = AlertSchema.safeParse(parsed?.alert);
    if (!checked.success || checked.data.id !== id) {
      throw new SpoolError(`spool file ${name} does not hold a valid alert ${id}`);
    }
    return checked.data;
  }

  /**
   * Writes the alert durably. Resolves true when it was added, false when its id is already pending,
   * dead-lettered or was delivered recently (a no-op).
   */
  async enqueue(alert: Alert): Promise<boolean> {
    this.assertOpen();
    const checked = AlertSchema.parse(alert);
    const id = checked.id;
    assertSafeId(id);
    if (this.has(id) || this.recentlyDelivered.has(id)) return false;
    this.writing.add(id);
    try {
      this.lastSeq = Math.max(this.lastSeq + 1, Date.now() * 1000);
      const name = `${String(this.lastSeq).padStart(16, '0')}-${id}.json`;
      const file: PendingFile = { v: 1, enqueuedAt: new Date().toISOString(), alert: checked };
      await writeDurably(this.pendingDir, name, JSON.stringify(file));
      this.index.set(id, name);
      return true;
    } finally {
      this.writing.delete(id);
    }
  }

  /** Deletes a delivered alert. A no-op for an id that is not pending. */
  async markDelivered(id: string): Promise<void> {
    this.assertOpen();
    const name = this.index.get(id);
    if (!name) return;
    await fs.rm(path.join(this.pendingDir, name), { force: true });
    await fsyncDir(this.pendingDir);
    this.index.delete(id);
    this.rememberDelivered(id);
  }

  /** Moves a pending alert to dead/ with the reason (which must hold no secret). A no-op if not pending. */
  async markDead(id: string, reason: string): Promise<void> {
    this.assertOpen();
    const name = this.index.get(id);
    if (!name) return;
    const src = path.join(this.pendingDir, name);
    const text = await fs.readFile(src, 'utf8').catch(() => null);
    let alert: unknown = text;
    if (text !== null) {
      try {
        alert = (JSON.parse(text) as PendingFile).alert ?? text;
      } catch {
        alert = text;
      }
    }
    const record: DeadRecord = { id, reason, deadAt: new Date().toISOString(), alert };
    await writeDurably(this.deadDir, `${id}.json`, JSON.stringify(record));
    await fs.rm(src, { force: true });
    await fsyncDir(this.pendingDir);
    this.index.delete(id);
    this.dead.add(id);
  }

  /**
   * Erasure of a person: removes every pending and dead-lettered alert of the identity (each holds their face
   * picture) and returns how many. A deliverer sending one of them at that moment stops at its next step
   * (AlertDeliverer checks has() before each attempt); files that cannot be read are left alone.
   */
  async eraseIdentity(identityId: string): Promise<number> {
    this.assertOpen();
    let erased = 0;
    for (const [id, name] of [...this.index]) {
      const alert = await this.read(id).catch(() => undefined);
      if (alert?.identity.id !== identityId) continue;
      await fs.rm(path.join(this.pendingDir, name), { force: true });
      this.index.delete(id);
      erased++;
    }
    let erasedDead = 0;
    for (const id of [...this.dead]) {
      const record = await this.readDead(id).catch(() => undefined);
      const owner = (record?.alert as { identity?: { id?: unknown } } | null | undefined)?.identity?.id;
      if (owner !== identityId) continue;
      await fs.rm(path.join(this.deadDir, `${id}.json`), { force: true });
      this.dead.delete(id);
      erasedDead++;
    }
    if (erased > 0) await fsyncDir(this.pendingDir);
    if (erasedDead > 0) await fsyncDir(this.deadDir);
    return erased + erasedDead;
  }

  /** Dead-lettered ids (sorted). */
  deadIds(): string[] {
    return [...this.dead].sort();
  }

  async readDead(id: string): Promise<DeadRecord> {
    assertSafeId(id);
    return JSON.parse(await fs.readFile(path.join(this.deadDir, `${id}.json`), 'utf8')) as DeadRecord;
  }

  private rememberDelivered(id: string): void {
    this.recentlyDelivered.add(id);
    if (this.recentlyDelivered.size > RECENT_DELIVERED_CAP) {
      const oldest = this.recentlyDelivered.values().next().value;
      if (oldest !== undefined) this.recentlyDelivered.delete(oldest);
    }
  }

  private assertOpen(): void {
    if (!this.opened) throw new SpoolError(`spool ${this.dir} is not open (call open() first)`);
  }

  /**
   * One process per spool directory: two would deliver every alert twice. The lock records the owner's pid
   * and (on Linux) its start time, so a lock left by a dead process is taken over even when its pid has been
   * reused by another process (common in containers, where pids are small and repeat).
   */
  private async lock(): Promise<void> {
    const mine = `${process.pid} ${processStartTime(process.pid) ?? ''}`.trim();
    for (let tries = 0; tries < 2; tries++) {
      try {
        const fh = await fs.open(this.lockFile, 'wx', FILE_MODE);
        await fh.writeFile(mine);
        await fh.sync();
        await fh.close();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const [pidText, started] = (await fs.readFile(this.lockFile, 'utf8').catch(() => '')).trim().split(/\s+/);
      const owner = Number(pidText);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
        const now = processStartTime(owner);
        if (started === undefined || now === undefined || started === now) {
          throw new SpoolError(`spool ${this.dir} is in use by process ${owner}`);
        }
      }
      await fs.rm(this.lockFile, { force: true }); // stale (dead owner) or ours from an instance never closed
    }
    throw new SpoolError(`cannot lock spool ${this.dir}`);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22), or undefined off Linux. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function assertSafeId(id: string): void {
  if (!SAFE_ID.test(id)) throw new SpoolError(`alert id ${JSON.stringify(id.slice(0, 40))} is not file-name safe`);
}

/** tmp file (0600, exclusive) → write → fsync → rename → fsync directory. */
async function writeDurably(dir: string, name: string, data: string): Promise<void> {
  const tmp = path.join(dir, `${TMP_PREFIX}${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFileDurably(path.join(dir, name), tmp, data, FILE_MODE);
}

