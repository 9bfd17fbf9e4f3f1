/** Helpers for the ingest tests: a pino logger captured in memory, polling waits, a closed local port. */
import type { TestContext } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { CameraSource, type CameraSourceOptions } from '../../src/ingest/camera-source';
import { REDACT_PATHS, type Logger } from '../../src/util/log';
export { closedPort, sleep } from '../support/net';

/** A CameraSource that is stopped when the test ends, pass or fail (a running one keeps the process alive). */
export function cameraFor(t: TestContext, options: CameraSourceOptions): CameraSource {
  const source = new CameraSource(options);
  t.after(() => source.stop());
  return source;
}

/** A logger at level trace (every line the ingest code can write) whose output is kept in memory. */
export function capturedLogger(): { log: Logger; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '***' } }, sink);
  return { log, text: () => chunks.join('') };
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

