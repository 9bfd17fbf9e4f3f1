/**
 * Which cameras this ingest process runs: exactly the enabled catalog cameras in the partitions it owns, at most
 * `maxCameras` (cameras already running keep their place; the rest wait, by name, until capacity frees). Every
 * change — a new assignment, a catalog change — is reconciled one at a time: cameras no longer wanted are stopped,
 * newly wanted ones started, changed ones restarted; a camera whose partition stays owned and whose record did not
 * change is never touched.
 */
import type { Logger } from '../../util/log';
import { sameCamera, type CatalogEntry } from './catalog';

export interface RunningCamera {
  stop(): Promise<void>;
}

export type StopReason = 'unassigned' | 'removed' | 'disabled' | 'updated' | 'shutdown';

export interface CameraRunnerOptions {
  /** The catalog as it is now. */
  catalog: { list(): CatalogEntry[]; get(name: string): CatalogEntry | undefined };
  maxCameras: number;
  /** Starts a camera (throws when it cannot be started; it is then retried at the next reconcile). */
  start: (entry: CatalogEntry) => RunningCamera;
  onStarted?: (entry: CatalogEntry) => void;
  onStopped?: (name: string, reason: StopReason) => void;
  log: Logger;
}

interface Running {
  entry: CatalogEntry;
  handle: RunningCamera;
}

export class CameraRunner {
  private owned = new Set<number>();
  private readonly runningMap = new Map<string, Running>();
  private waitingNames: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: CameraRunnerOptions) {}

  /** Names of the cameras running now. */
  get running(): string[] {
    return [...this.runningMap.keys()].sort();
  }

  /** Cameras owned but not started for lack of capacity (services.ingest.maxCameras). */
  get waiting(): string[] {
    return [...this.waitingNames];
  }

  get ownedPartitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  /** The partitions owned now (after a group join); resolves when the cameras match. */
  setOwned(partitions: readonly number[]): Promise<void> {
    return this.enqueue(() => {
      this.owned = new Set(partitions);
      return this.reconcile();
    });
  }

  /** Re-reads the catalog (after a change); resolves when the cameras match. */
  refresh(): Promise<void> {
    return this.enqueue(() => this.reconcile());
  }

  /** Stops every camera and accepts no more work. */
  stopAll(): Promise<void> {
    return this.enqueue(async () => {
      this.closed = true;
      await Promise.all([...this.runningMap.keys()].map((name) => this.stopOne(name, 'shutdown')));
      this.waitingNames = [];
    });
  }

  /** Runs steps one at a time; a failed step is logged (never rejected), and the next reconcile tries again. */
  private enqueue(step: () => Promise<void>): Promise<void> {
    this.chain = this.chain
      .then(() => (this.closed ? undefined : step()))
      .catch((err) => this.options.log.error({ err: (err as Error).message }, 'camera reconcile failed'));
    return this.chain;
  }

  private async stopOne(name: string, reason: StopReason): Promise<void> {
    const r = this.runningMap.get(name);
    if (!r) return;
    this.runningMap.delete(name);
    try {
      await r.handle.stop();
    } catch (err) {
      this.options.log.error({ camera: name, err: (err as Error).message }, 'camera did not stop cleanly');
    }
    this.options.log.info({ camera: name, partition: r.entry.partition, reason }, 'ingest: camera stopped');
    this.options.onStopped?.(name, reason);
  }

  private async reconcile(): Promise<void> {
    const { catalog, maxCameras, log } = this.options;
    // Stop what is no longer wanted or changed.
    const stops: Promise<void>[] = [];
    for (const [name, r] of this.runningMap) {
      const now = catalog.get(name);
      let reason: StopReason | undefined;
      if (!now) reason = 'removed';
      else if (!this.owned.has(now.partition)) reason = 'unassigned';
      else if (!now.camera.enabled) reason = 'disabled';
      else if (!sameCamera(now, r.entry)) reason = 'updated';
      if (reason) stops.push(this.stopOne(name, reason));
    }
    await Promise.all(stops);

    // Start what is wanted, within capacity (running cameras keep their place).
    const wanted = catalog.list().filter((e) => e.camera.enabled && this.owned.has(e.partition) && !this.runningMap.has(e.camera.name));
    const room = Math.max(0, maxCameras - this.runningMap.size);
    for (const entry of wanted.slice(0, room)) {
      try {
        const handle = this.options.start(entry);
        this.runningMap.set(entry.camera.name, { entry, handle });
        log.info({ camera: entry.camera.name, partition: entry.partition }, 'ingest: camera started');
        this.options.onStarted?.(entry);
      } catch (err) {
        log.error({ camera: entry.camera.name, err: (err as Error).message }, 'camera could not be started');
      }
    }
    const waiting = wanted.slice(room).map((e) => e.camera.name);
    if (waiting.length > 0 && waiting.join() !== this.waitingNames.join()) {
      log.warn({ waiting, maxCameras }, 'more cameras assigned than services.ingest.maxCameras; some wait for capacity');
    }
    this.waitingNames = waiting;
  }
}
