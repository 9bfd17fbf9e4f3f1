/**
 * The demo's material: the group photos npm @vladmandic/face-api ships (demo/sample1..6.jpg, 3–5 people each), so
 * the demo needs nothing but the installed packages.
 *
 * The watch-listed people were chosen by looking at the photos and at the default embedder's distances between
 * every pair of faces in them (facestream's own detector and embedder):
 *   - person-a (sample1, right) appears again in sample3 (middle): distance 0.29 between the two photos, the
 *     only cross-photo pair clearly below the default 0.38 threshold. Enrolled from sample1 only, so her alert
 *     on sample3 is a recognition in a photo the gallery never saw.
 *   - person-b (sample6, right) and person-c (sample4, right) appear once; their nearest other face in any of
 *     the photos is 0.45 away, so they make clean cases.
 * Everyone else (20 faces) is a stranger.
 *
 * The closest stranger is person-a's neighbour in sample3: 0.38–0.40 from person-a's enrolled face over the
 * frames of the demo clip, right at the default threshold 0.38 (the photos are of similar-looking young women,
 * a harder population than the default was set on). Genuine cross-photo matches of person-a measure 0.27–0.31.
 * The demo therefore runs with distance threshold DEMO_DISTANCE_THRESHOLD = 0.34, between the two, and says so;
 * deployments calibrate theirs (`facestream calibrate`) on unknown faces from their own cameras.
 */
export const DEMO_DISTANCE_THRESHOLD = 0.34;
import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../util/paths';

/** A face to enrol: the detected face nearest to (x, y), given as fractions of the photo's width and height. */
export interface WatchlistPick {
  identity: string;
  photo: string;
  x: number;
  y: number;
  /** Where the person is, for the printout. */
  where: string;
  /** Every sample photo the person is in (an alert on another photo would be a stranger alerted). */
  appearsIn: readonly string[];
}

export const SAMPLE_PHOTOS = ['sample1.jpg', 'sample2.jpg', 'sample3.jpg', 'sample4.jpg', 'sample5.jpg', 'sample6.jpg'] as const;

export const WATCHLIST_PICKS: readonly WatchlistPick[] = [
  { identity: 'person-a', photo: 'sample1.jpg', x: 0.82, y: 0.255, where: 'sample1.jpg, right (also in sample3.jpg, middle)', appearsIn: ['sample1.jpg', 'sample3.jpg'] },
  { identity: 'person-b', photo: 'sample6.jpg', x: 0.826, y: 0.263, where: 'sample6.jpg, right', appearsIn: ['sample6.jpg'] },
  { identity: 'person-c', photo: 'sample4.jpg', x: 0.70, y: 0.185, where: 'sample4.jpg, right', appearsIn: ['sample4.jpg'] },
];

/** The face-api package's demo/ folder, or an error saying how to get it. */
export function samplePhotoDir(): string {
  const candidates: string[] = [];
  try {
    candidates.push(path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json', { paths: [projectRoot()] })), 'demo'));
  } catch {
    /* the package may not export package.json: fall back to the usual place */
  }
  candidates.push(path.join(projectRoot(), 'node_modules', '@vladmandic', 'face-api', 'demo'));
  for (const dir of candidates) {
    if (SAMPLE_PHOTOS.every((p) => existsSync(path.join(dir, p)))) return dir;
  }
  throw new Error(
    `the demo photos ${SAMPLE_PHOTOS.join(', ')} were not found in ${candidates.join(' or ')}; ` +
      'they come with npm @vladmandic/face-api: run `npm run setup`',
  );
}
