/** The demo's pure helpers: slide timing, picking the enrolment face, reading the runtime's log and metrics. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nearestFace } from '../../src/demo/enrol-watchlist';
import { tapLine, type TapState } from '../../src/demo/log-tap';
import { pickCounters } from '../../src/demo/run-demo';
import { SAMPLE_PHOTOS, WATCHLIST_PICKS } from '../../src/demo/sample-photos';
import { clipSeconds, DEFAULT_PLAN, slideAt, slides, slideshowArgs } from '../../src/demo/slideshow';

const plan = { ...DEFAULT_PLAN, photos: ['a.jpg', 'b.jpg', 'c.jpg'], photoSec: 3, gapSec: 2 };

test('slides: each photo, then its gap; the clip is photos x (photo + gap)', () => {
  assert.deepEqual(slides(plan), [
    { photo: 'a.jpg', start: 0, end: 3 },
    { photo: 'b.jpg', start: 5, end: 8 },
    { photo: 'c.jpg', start: 10, end: 13 },
  ]);
  assert.equal(clipSeconds(plan), 15);
});

test('slideAt: times split in the middle of the gaps, clamped to the clip', () => {
  assert.equal(slideAt(plan, -0.5)?.photo, 'a.jpg'); // clock skew before the first frame
  assert.equal(slideAt(plan, 3.9)?.photo, 'a.jpg');
  assert.equal(slideAt(plan, 4.1)?.photo, 'b.jpg');
  assert.equal(slideAt(plan, 4.5)?.index, 1);
  assert.equal(slideAt(plan, 12)?.photo, 'c.jpg');
  assert.equal(slideAt(plan, 99)?.photo, 'c.jpg');
  assert.equal(slideAt(plan, Number.NaN), undefined);
});

test('slideshowArgs: one input and one filter chain per photo, concatenated to the output', () => {
  const args = slideshowArgs(plan, '/tmp/out.mp4');
  assert.deepEqual(
    args.filter((_a, i) => args[i - 1] === '-i'),
    ['a.jpg', 'b.jpg', 'c.jpg'],
  );
  const graph = args[args.indexOf('-filter_complex') + 1];
  assert.match(graph, /\[v0\]\[v1\]\[v2\]concat=n=3:v=1:a=0/);
  assert.match(graph, /tpad=stop_duration=2:color=black/);
  assert.match(graph, /d=75:s=1280x720:fps=25/); // 3 s at 25 fps
  assert.equal(args.at(-1), '/tmp/out.mp4');
  assert.throws(() => slideshowArgs({ ...plan, photos: [] }, 'x.mp4'), /at least one photo/);
});

test('nearestFace: the box whose centre is closest to the point, none when the point is far from every face', () => {
  const boxes = [
    { x: 0, y: 0, width: 100, height: 100 },
    { x: 300, y: 0, width: 100, height: 100 },
  ];
  assert.equal(nearestFace(boxes, 60, 40), 0);
  assert.equal(nearestFace(boxes, 330, 90), 1);
  assert.equal(nearestFace(boxes, 200, 50), 0); // 1.5 box sizes from both: the first wins the tie
  assert.equal(nearestFace(boxes, 800, 800), -1);
  assert.equal(nearestFace([], 0, 0), -1);
});

test('watchlist picks: distinct identities, sample photos, and each is in the photo it is enrolled from', () => {
  assert.equal(new Set(WATCHLIST_PICKS.map((p) => p.identity)).size, WATCHLIST_PICKS.length);
  for (const p of WATCHLIST_PICKS) {
    assert.ok((SAMPLE_PHOTOS as readonly string[]).includes(p.photo), p.photo);
    assert.ok(p.appearsIn.includes(p.photo), p.identity);
    assert.ok(p.x > 0 && p.x < 1 && p.y > 0 && p.y < 1);
  }
});

test('tapLine: online/offline times, per-track decisions (accepted identities, closest candidate), errors', () => {
  const s: TapState = { tracks: new Map(), errors: [] };
  const line = (o: object) => JSON.stringify({ level: 30, time: 1000, ...o });
  assert.deepEqual(tapLine(s, line({ msg: 'camera online', camera: 'lobby' })), { event: 'online' });
  assert.equal(s.onlineAt, 1000);
  tapLine(s, line({ level: 20, time: 1500, msg: 'track matched', trackId: 'lobby-1', accepted: false, reason: 'distance-too-large', candidate: 'person-a', distance: 0.41 }));
  tapLine(s, line({ level: 20, time: 1700, msg: 'track matched', trackId: 'lobby-1', accepted: false, reason: 'below-svm-threshold', candidate: 'person-b', distance: 0.39 }));
  tapLine(s, line({ level: 20, time: 1800, msg: 'track matched', trackId: 'lobby-2', accepted: true, reason: 'accepted', candidate: 'person-c', distance: 0.12 }));
  tapLine(s, line({ level: 20, time: 1900, msg: 'track matched', trackId: 'lobby-2', accepted: false, reason: 'distance-too-large', candidate: 'person-c', distance: 0.5 }));
  assert.deepEqual(s.tracks.get('lobby-1'), { trackId: 'lobby-1', firstAt: 1500, decisions: 2, accepted: [], reason: 'below-svm-threshold', candidate: 'person-b', distance: 0.39 });
  assert.deepEqual(s.tracks.get('lobby-2')?.accepted, ['person-c']); // once accepted (and alerted), it stays recognised
  assert.equal(s.tracks.get('lobby-2')?.distance, 0.12);
  assert.deepEqual(tapLine(s, line({ level: 50, msg: 'frame analysis failed', err: 'boom' })), { event: 'error', message: 'frame analysis failed: boom' });
  assert.deepEqual(tapLine(s, line({ level: 40, time: 2000, msg: 'camera offline', reason: 'exited', message: 'ffmpeg exited' })), { event: 'offline', message: 'ffmpeg exited' });
  assert.equal(s.offlineAt, 2000);
  assert.deepEqual(tapLine(s, 'not json'), {});
  assert.equal(s.errors.length, 1);
});

test('pickCounters: sums the series of each counter from Prometheus text', () => {
  const text = [
    '# HELP facestream_frames_total Frames',
    'facestream_frames_total{camera="a"} 10',
    'facestream_frames_total{camera="b"} 5',
    'facestream_embeddings_total 7',
    'facestream_alerts_total{outcome="raised"} 2',
    'facestream_alerts_total{outcome="cooldown"} 1',
  ].join('\n');
  const c = pickCounters(text);
  assert.equal(c.frames, 15);
  assert.equal(c.embeddings, 7);
  assert.equal(c.alertsRaised, 2);
  assert.equal(c.alertsCooldown, 1);
  assert.equal(c.delivered, 0);
});
