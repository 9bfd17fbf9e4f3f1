/**
 * Embedded mode's cameras: <store>/cameras.json (mode 0600, the store directory 0700 — the URLs may carry
 * credentials), written atomically (util/durable-file.ts), and run by the EmbeddedRuntime of the `facestream api`
 * process. Every change is applied to the runtime and the file together, one change at a time; a camera that
 * cannot be run is refused before anything changes. On the first start (no file yet) the cameras of the
 * configuration are taken over into the file.
 *
 *   { "version": 1, "cameras": [ { "name", "url", "fps", "maxWidth", "transport", "enabled", "hwaccel", "updatedAtMs" } ] }
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CameraSchema, type CameraConfig } from '../../config/schema';
import type { EmbeddedRuntime } from '../../runtime/embedded';
import { validateCamera } from '../../runtime/camera-setup';
import { idleStatus } from '../../runtime/camera-status';
import { scrubSecrets } from '../../ingest/source-url';
import { writeFileDurably } from '../../util/durable-file';
import type { Logger } from '../../util/log';
import { badRequest, conflict, notFound } from '../errors';
import { cameraView, patched, safeStatus, sameSettings, SerialQueue, type CameraPatch, type CameraRegistry, type CameraView, type StoredCamera } from './registry';
import { cameraUrlProblem } from './url';

export const CAMERAS_FILE = 'cameras.json';

const FileSchema = z.strictObject({
  version: z.literal(1),
  cameras: z.array(z.unknown()),
});

/** The runtime operations the registry uses (an EmbeddedRuntime). */
export type CameraRuntime = Pick<EmbeddedRuntime, 'addCamera' | 'replaceCamera' | 'removeCamera' | 'cameraStatus' | 'runningCameras'>;

export interface EmbeddedCameraRegistryOptions {
  /** The store directory (the cameras file lives next to the gallery). */
  dir: string;
  runtime: CameraRuntime;
  /** Cameras taken over into the file when there is none yet (the configuration's). */
  seed?: readonly CameraConfig[];
  log: Logger;
}

/** Reads the cameras file: undefined when absent; an error names the file and the entry, never a URL. */
export async function readCamerasFile(file: string): Promise<StoredCamera[] | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the cameras file ${file}: ${(err as Error).message}`);
  }
  let parsed: z.infer<typeof FileSchema>;
  try {
    parsed = FileSchema.parse(JSON.parse(text));
  } catch {
    throw new Error(`the cameras file ${file} is not a facestream cameras file (expected {"version":1,"cameras":[…]}); fix or remove it`);
  }
  const StoredSchema = CameraSchema.extend({ updatedAtMs: z.number().int().nonnegative() });
  const names = new Set<string>();
  return parsed.cameras.map((raw, i) => {
    const r = StoredSchema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new Error(`the cameras file ${file}: cameras[${i}].${issue.path.join('.')}: ${issue.message}`);
    }
    if (names.has(r.data.name)) throw new Error(`the cameras file ${file}: cameras[${i}].name: duplicate camera name "${r.data.name}"`);
    names.add(r.data.name);
    return r.data;
  });
}

export class EmbeddedCameraRegistry implements CameraRegistry {
  readonly mode = 'embedded' as const;
  readonly file: string;
  private readonly cameras = new Map<string, StoredCamera>();
  private readonly queue = new SerialQueue();

  private constructor(private readonly options: EmbeddedCameraRegistryOptions) {
    this.file = path.join(options.dir, CAMERAS_FILE);
  }

  /** Loads the file (or the seed), starts every camera in the runtime; a camera that cannot start is logged. */
  static async open(options: EmbeddedCameraRegistryOptions): Promise<EmbeddedCameraRegistry> {
    const reg = new EmbeddedCameraRegistry(options);
    await fs.mkdir(options.dir, { recursive: true, mode: 0o700 });
    const stored = await readCamerasFile(reg.file);
    const now = Date.now();
    const initial = stored ?? (options.seed ?? []).map((c) => ({ ...c, updatedAtMs: now }));
    for (const cam of initial) reg.cameras.set(cam.name, cam);
    if (!stored) await reg.save();
    for (const cam of initial) {
      try {
        options.runtime.addCamera(cam);
      } catch (err) {
        options.log.error({ camera: cam.name, err: scrubSecrets((err as Error).message, cam.url) }, 'camera could not be started');
      }
    }
    return reg;
  }

  async list(): Promise<CameraView[]> {
    return [...this.cameras.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(cameraView);
  }

  async get(name: string): Promise<CameraView | undefined> {
    const c = this.cameras.get(name);
    return c && cameraView(c);
  }

  create(camera: CameraConfig): Promise<CameraView> {
    return this.queue.run(async () => {
      if (this.cameras.has(camera.name)) throw conflict(`camera "${camera.name}" already exists (PATCH /cameras/${camera.name} changes it)`, 'name');
      checkRunnable(camera);
      const stored: StoredCamera = { ...camera, updatedAtMs: Date.now() };
      this.options.runtime.addCamera(stored);
      this.cameras.set(camera.name, stored);
      try {
        await this.save();
      } catch (err) {
        this.cameras.delete(camera.name);
        await this.options.runtime.removeCamera(camera.name);
        throw err;
      }
      this.options.log.info({ camera: camera.name, enabled: camera.enabled }, 'camera added');
      return cameraView(stored);
    });
  }

  update(name: string, patch: CameraPatch): Promise<CameraView> {
    return this.queue.run(async () => {
      const before = this.cameras.get(name);
      if (!before) throw notFound(`no camera named "${name}"`, 'name');
      const next = patched(before, patch);
      if (sameSettings(before, next)) return cameraView(before);
      checkRunnable(next, patch.url !== undefined);
      const stored: StoredCamera = { ...next, updatedAtMs: Date.now() };
      await this.options.runtime.replaceCamera(stored);
      this.cameras.set(name, stored);
      await this.save();
      this.options.log.info({ camera: name, enabled: stored.enabled, changed: Object.keys(patch).filter((k) => patch[k as keyof CameraPatch] !== undefined) }, 'camera updated');
      return cameraView(stored);
    });
  }

  remove(name: string): Promise<boolean> {
    return this.queue.run(async () => {
      if (!this.cameras.has(name)) return false;
      await this.options.runtime.removeCamera(name);
      this.cameras.delete(name);
      await this.save();
      return true;
    });
  }

  async status(name: string) {
    const cam = this.cameras.get(name);
    if (!cam) return undefined;
    const s = this.options.runtime.cameraStatus(name);
    // Listed but not in the runtime: it could not be started when the API started (the log says why).
    return s ? safeStatus(s, cam.url) : { ...idleStatus(name, 'stopped'), lastError: 'the camera could not be started (see the API log)' };
  }

  health(): { ok: boolean; detail: string } {
    const running = this.options.runtime.runningCameras().length;
    return { ok: true, detail: `${this.cameras.size} cameras, ${running} running` };
  }

  async close(): Promise<void> {
    await this.queue.run(async () => undefined);
  }

  private async save(): Promise<void> {
    const cameras = [...this.cameras.values()];
    const tmp = path.join(path.dirname(this.file), `.${CAMERAS_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    await writeFileDurably(this.file, tmp, `${JSON.stringify({ version: 1, cameras }, null, 2)}\n`, 0o600);
  }
}

/**
 * 400 when the camera cannot be run: the API's URL rule for a URL given over the API (`newUrl`; a camera taken over
 * from the config file may keep its file path while other settings change), then what the camera source checks.
 */
export function checkRunnable(camera: CameraConfig, newUrl = true): void {
  const problem = newUrl ? cameraUrlProblem(camera.url) : undefined;
  if (problem) throw badRequest(problem, 'url');
  try {
    validateCamera(camera);
  } catch (err) {
    throw badRequest(scrubSecrets((err as Error).message, camera.url), 'url');
  }
}
