/**
 * Labelled image sets for `facestream eval`.
 *
 * Two layouts:
 *  - readEvalFolder(dir): `gallery/<id>/*` (enrolled), `probes/<id>/*` (queries of enrolled people,
 *    every <id> must also be in gallery/), optional `unknown/<id>/*` (people NOT enrolled; their ids
 *    must not be in gallery/).
 *  - splitFolder(dir, {enrol: k}): a flat `<id>/*` tree such as LFW: per identity the first k images
 *    sorted by file name are enrolled and the rest are probes; optional `unknownDir`, another flat
 *    tree, supplies the non-enrolled probes.
 *
 * Images are chosen by extension (IMAGE_EXTENSIONS); anything else is listed in `skipped` with the
 * reason, not fatal. Files are not opened here: unreadable or corrupt images surface when decoded.
 * Ordering is by UTF-16 code unit (not locale), so results are the same on every machine.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { IMAGE_EXTENSIONS, extensionOf } from '../image/header';

export interface LabelledImage {
  /** Identity label (the folder name). */
  readonly label: string;
  /** Path of the image file (dir joined with the relative path). */
  readonly file: string;
}

export interface SkippedEntry {
  readonly file: string;
  readonly reason: string;
}

export interface EvalDataset {
  readonly root: string;
  readonly layout: 'gallery-probes' | 'split';
  /** Enrolment images, sorted by label then file. */
  readonly gallery: LabelledImage[];
  /** Probes of enrolled identities, sorted by label then file. */
  readonly probes: LabelledImage[];
  /** Probes of identities that are not enrolled (open-set impostors), sorted by label then file. */
  readonly unknown: LabelledImage[];
  /** Non-image entries and stray files, with why they were left out. */
  readonly skipped: SkippedEntry[];
  /** Non-fatal observations (e.g. identities with too few images to give probes). */
  readonly notes: string[];
}

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function isImageFileName(name: string): boolean {
  return IMAGE_EXTENSIONS[extensionOf(name)] !== undefined;
}

interface IdentityTree {
  /** label → image files (sorted by name). */
  readonly identities: Map<string, string[]>;
  readonly skipped: SkippedEntry[];
}

/** Reads `<dir>/<id>/<image>`; files directly in dir and non-images inside id folders are skipped. */
async function readIdentityTree(dir: string, what: string): Promise<IdentityTree> {
  await assertDirectory(dir, what);
  const identities = new Map<string, string[]>();
  const skipped: SkippedEntry[] = [];
  const entries = (await readdir(dir)).sort(byCodeUnit);
  for (const name of entries) {
    const full = path.join(dir, name);
    let isDir: boolean;
    try {
      isDir = (await stat(full)).isDirectory();
    } catch (err) {
      skipped.push({ file: full, reason: `cannot be examined (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` });
      continue;
    }
    if (!isDir) {
      skipped.push({ file: full, reason: `not inside an identity folder (expected ${what}/<id>/<image>)` });
      continue;
    }
    const files: string[] = [];
    for (const f of (await readdir(full)).sort(byCodeUnit)) {
      // A directory or broken link with an image name is kept: decoding reports it per file.
      if (isImageFileName(f)) files.push(path.join(full, f));
      else skipped.push({ file: path.join(full, f), reason: 'not an image by its extension (expected .jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff)' });
    }
    if (files.length === 0) {
      skipped.push({ file: full, reason: 'identity folder holds no image files' });
      continue;
    }
    identities.set(name, files);
  }
  return { identities, skipped };
}

async function assertDirectory(dir: string, what: string): Promise<void> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetError(`${what} folder ${dir} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}; expected a folder of <id>/<image> files`);
  }
  if (!isDir) throw new DatasetError(`${what} folder ${dir} is not a directory; expected a folder of <id>/<image> files`);
}

function flatten(tree: Map<string, string[]>): LabelledImage[] {
  const out: LabelledImage[] = [];
  for (const label of [...tree.keys()].sort(byCodeUnit)) for (const file of tree.get(label)!) out.push({ label, file });
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Reads the `gallery/`, `probes/`, optional `unknown/` layout. */
export async function readEvalFolder(dir: string): Promise<EvalDataset> {
  await assertDirectory(dir, 'evaluation');
  const gallery = await readIdentityTree(path.join(dir, 'gallery'), 'gallery');
  const probes = await readIdentityTree(path.join(dir, 'probes'), 'probes');
  const unknownDir = path.join(dir, 'unknown');
  const unknown = (await exists(unknownDir)) ? await readIdentityTree(unknownDir, 'unknown') : undefined;
  if (gallery.identities.size === 0) throw new DatasetError(`gallery folder ${path.join(dir, 'gallery')} has no identity folders with images; expected gallery/<id>/<image>`);
  if (probes.identities.size === 0) throw new DatasetError(`probes folder ${path.join(dir, 'probes')} has no identity folders with images; expected probes/<id>/<image>`);
  const notEnrolled = [...probes.identities.keys()].filter((id) => !gallery.identities.has(id));
  if (notEnrolled.length > 0) {
    throw new DatasetError(
      `probes/ has identities with no gallery/ folder: ${listSome(notEnrolled)}; every probes/<id> must be enrolled in gallery/<id> ` +
        '(put people who are not enrolled under unknown/<id>)');
  }
  if (unknown) {
    const enrolled = [...unknown.identities.keys()].filter((id) => gallery.identities.has(id));
    if (enrolled.length > 0) {
      throw new DatasetError(`unknown/ has identities that are enrolled in gallery/: ${listSome(enrolled)}; unknown/ must hold only people who are not enrolled`);
    }
  }
  const notes: string[] = [];
  const noProbes = [...gallery.identities.keys()].filter((id) => !probes.identities.has(id));
  if (noProbes.length > 0) notes.push(`${noProbes.length} enrolled identities have no probes (they still act as distractors): ${listSome(noProbes)}`);
  if (!unknown) notes.push('no unknown/ folder: open-set figures (FNIR at FPIR) cannot be computed');
  return {
    root: dir,
    layout: 'gallery-probes',
    gallery: flatten(gallery.identities),
    probes: flatten(probes.identities),
    unknown: unknown ? flatten(unknown.identities) : [],
    skipped: [...gallery.skipped, ...probes.skipped, ...(unknown?.skipped ?? [])],
    notes,
  };
}

export interface SplitOptions {
  /** Images per identity to enrol (the first k by file name). */
  readonly enrol: number;
  /** Optional flat `<id>/*` tree of people who are not enrolled; all its images become unknown probes. */
  readonly unknownDir?: string;
}

/**
 * Splits a flat `<id>/*` tree: per identity, the first `enrol` images (sorted by file name) go to
 * the gallery, the rest are probes. Identities with `enrol` or fewer images are enrolled with all
 * their images and give no probes (noted).
 */
export async function splitFolder(dir: string, options: SplitOptions): Promise<EvalDataset> {
  const k = options.enrol;
  if (!Number.isInteger(k) || k < 1) throw new DatasetError(`enrol must be a positive whole number of images per identity, got ${k}`);
  const tree = await readIdentityTree(dir, 'identity');
  if (tree.identities.size === 0) throw new DatasetError(`${dir} has no identity folders with images; expected <id>/<image>`);
  const gallery = new Map<string, string[]>();
  const probes = new Map<string, string[]>();
  const tooFew: string[] = [];
  for (const [label, files] of tree.identities) {
    gallery.set(label, files.slice(0, k));
    if (files.length > k) probes.set(label, files.slice(k));
    else tooFew.push(label);
  }
  const notes: string[] = [];
  if (tooFew.length > 0) notes.push(`${tooFew.length} identities have ${k} or fewer images, so all are enrolled and they give no probes: ${listSome(tooFew)}`);
  let unknown: IdentityTree | undefined;
  if (options.unknownDir !== undefined) {
    unknown = await readIdentityTree(options.unknownDir, 'unknown');
    const enrolled = [...unknown.identities.keys()].filter((id) => gallery.has(id));
    if (enrolled.length > 0) {
      throw new DatasetError(`${options.unknownDir} has identities that are enrolled from ${dir}: ${listSome(enrolled)}; the unknown set must hold only people who are not enrolled`);
    }
  } else {
    notes.push('no unknown set given: open-set figures (FNIR at FPIR) cannot be computed');
  }
  return {
    root: dir,
    layout: 'split',
    gallery: flatten(gallery),
    probes: flatten(probes),
    unknown: unknown ? flatten(unknown.identities) : [],
    skipped: [...tree.skipped, ...(unknown?.skipped ?? [])],
    notes,
  };
}

function listSome(items: string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** Reads one `<dir>/<id>/<image>` tree (e.g. `--gallery DIR`), labelled by folder name. */
export async function readLabelledTree(dir: string, what: string): Promise<{ images: LabelledImage[]; skipped: SkippedEntry[] }> {
  const tree = await readIdentityTree(dir, what);
  return { images: flatten(tree.identities), skipped: tree.skipped };
}
