/**
 * The demo's enrolment: crop each watch-listed person's face out of one photo with facestream's own detector,
 * write the crops as an enrolment folder (<gallery>/<identity>/<photo>.jpg, exactly what a user would prepare for
 * `facestream enroll`), then enrol that folder through the same code path as the enroll command and put the
 * identities on a watchlist.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema';
import type { FaceDetector } from '../detect/detector';
import type { Box } from '../detect/types';
import type { Embedder } from '../embed/embedder';
import { decodeImageFile } from '../image/decode';
import { addIdentity, createWatchlist, DEFAULT_WATCHLIST, findIdentity, setWatchlistActive, slugify, type Gallery } from '../match/gallery';
import type { GalleryStore } from '../match/store';
import { enrolFolder, type ItemResult } from '../pipeline/enrol';
import { faceJpeg } from '../runtime/face-jpeg';
import type { WatchlistPick } from './sample-photos';

export interface Crop {
  identity: string;
  photo: string;
  file: string;
  box: Box;
  /** Faces the detector found in the photo. */
  faces: number;
}

/** Margin around the face box, in box sizes per side: enough hair and chin for the enrolment detector to find the face again. */
const CROP_MARGIN = 0.6;

/** Index of the face whose box centre is nearest to (px, py), or -1 when none has the point within 1.5 box sizes. */
export function nearestFace(boxes: readonly Box[], px: number, py: number): number {
  let best = -1;
  let bestD = Infinity;
  boxes.forEach((b, i) => {
    const size = Math.max(b.width, b.height);
    const d = Math.hypot(b.x + b.width / 2 - px, b.y + b.height / 2 - py) / size;
    if (d <= 1.5 && d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}

export async function cropWatchlistFaces(detector: FaceDetector, photoDir: string, picks: readonly WatchlistPick[], galleryDir: string): Promise<Crop[]> {
  const crops: Crop[] = [];
  for (const pick of picks) {
    const photo = path.join(photoDir, pick.photo);
    const frame = await decodeImageFile(photo);
    const faces = await detector.detect(frame);
    const i = nearestFace(
      faces.map((f) => f.box),
      pick.x * frame.width,
      pick.y * frame.height,
    );
    if (i < 0) {
      throw new Error(
        `no face found near (${pick.x}, ${pick.y}) of ${photo} for ${pick.identity} (${faces.length} faces detected); ` +
          'the photo or the detector differs from the one the demo was made with',
      );
    }
    const dir = path.join(galleryDir, pick.identity);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, pick.photo.replace(/\.[^.]+$/, '.jpg'));
    await writeFile(file, faceJpeg(frame, faces[i].box, CROP_MARGIN, 95), { mode: 0o600 });
    crops.push({ identity: pick.identity, photo: pick.photo, file, box: faces[i].box, faces: faces.length });
  }
  return crops;
}

export interface EnrolResult {
  gallery: Gallery;
  /** Identity ids on the watchlist. */
  ids: string[];
  items: ItemResult[];
}

/**
 * Enrols `galleryDir` into a new gallery (as `facestream enroll` does), creates watchlist `watchlist` with every
 * identity enrolled and deactivates the "default" watchlist, so alerts name the demo's list. Throws if an
 * identity could not be enrolled.
 */
export async function enrolWatchlist(
  galleryDir: string,
  deps: { detector: FaceDetector; embedder: Embedder; store: GalleryStore; gallery: Gallery; config: Config },
  watchlist: string,
): Promise<EnrolResult> {
  const { config } = deps;
  const { identities } = await enrolFolder(galleryDir, {
    detector: deps.detector,
    embedder: deps.embedder,
    // A crop with a margin can show part of a neighbour's face: enrol the largest face of each crop.
    policy: 'largest',
    quality: { minFaceSize: config.quality.minFaceSize, minBlur: config.quality.minBlur, maxYaw: config.quality.maxYaw, maxPitch: config.quality.maxPitch },
  });
  let gallery = deps.gallery;
  const ids: string[] = [];
  for (const idn of identities) {
    if (idn.embeddings.length === 0) {
      const why = idn.items.map((i) => i.reason).filter(Boolean).join('; ');
      throw new Error(`could not enrol ${idn.name}: ${why || 'no usable face'}`);
    }
    const existing = findIdentity(gallery, slugify(idn.name));
    if (existing) throw new Error(`identity ${existing.id} is already in the demo gallery; the demo starts from an empty store`);
    const r = addIdentity(gallery, { name: idn.name, embedder: gallery.embedder, embeddings: idn.embeddings });
    gallery = r.gallery;
    ids.push(r.identity.id);
  }
  gallery = createWatchlist(gallery, watchlist, { active: true, identities: ids });
  if (gallery.watchlists.some((w) => w.name === DEFAULT_WATCHLIST)) gallery = setWatchlistActive(gallery, DEFAULT_WATCHLIST, false);
  await deps.store.save(gallery);
  return { gallery, ids, items: identities.flatMap((i) => i.items) };
}
