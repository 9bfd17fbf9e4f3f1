/** Test alerts: real buildAlert() output with a small JPEG-framed payload standing in for a face crop. */
import { Alert, buildAlert } from '../../src/alerts/alert';

export const FAKE_JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xff, 0xd9]);

export function makeAlert(n: number, overrides: Partial<{ camera: string; identityId: string; trackId: number }> = {}): Alert {
  const t0 = Date.UTC(2024, 0, 1, 12, 0, 0) + n * 1000;
  return buildAlert(
    {
      camera: overrides.camera ?? 'front-door',
      identity: { id: overrides.identityId ?? `person-${n}`, name: `Person ${n}` },
      watchlists: ['staff-banned'],
      scores: { svm: 0.8, distance: 0.42, detector: 0.99 },
      trackId: overrides.trackId ?? n,
      firstSeen: t0,
      lastSeen: t0 + 800,
      box: { x: 10, y: 20, width: 64, height: 80 },
      frameSize: { width: 640, height: 360 },
      faceJpeg: FAKE_JPEG,
    },
    new Date(t0 + 900),
  );
}
