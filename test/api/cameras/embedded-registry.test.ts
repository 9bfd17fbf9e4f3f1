/** The embedded cameras file: absent, valid, and broken files (errors name the file and the entry, never a URL). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readCamerasFile } from '../../../src/api/cameras/embedded-registry';

test('cameras.json: absent → undefined; valid → the cameras; broken → an error naming the file and the entry', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-cameras-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'cameras.json');
  assert.equal(await readCamerasFile(file), undefined);

  const cam = { name: 'door', url: 'rtsp://u:hunter2@h/x', fps: 5, maxWidth: 1280, transport: 'tcp', enabled: true, hwaccel: 'none', updatedAtMs: 1 };
  writeFileSync(file, JSON.stringify({ version: 1, cameras: [cam] }));
  assert.deepEqual(await readCamerasFile(file), [cam]);

  const broken: [unknown, RegExp][] = [
    ['not json', /is not a facestream cameras file/],
    [{ version: 2, cameras: [] }, /is not a facestream cameras file/],
    [{ version: 1, cameras: [{ ...cam, fps: -1 }] }, /cameras\[0\]\.fps: expected number/],
    [{ version: 1, cameras: [{ ...cam, url: 'ftp://u:hunter2@h' }] }, /cameras\[0\]\.url: expected rtsp/],
    [{ version: 1, cameras: [cam, cam] }, /cameras\[1\]\.name: duplicate camera name "door"/],
    [{ version: 1, cameras: [{ ...cam, extra: 1 }] }, /cameras\[0\]/],
  ];
  for (const [content, re] of broken) {
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    await assert.rejects(readCamerasFile(file), (e: Error) => re.test(e.message) && e.message.includes(file) && !e.message.includes('hunter2'), String(re));
  }
});
