/** Shared helpers of the transport tests (real broker): records, a raw topic reader, polling. */
import { type Admin, type ITopicConfig, type Kafka, logLevel } from 'kafkajs';
import { createKafka } from '../../src/transport/client';
import { waitForLeaders } from '../../src/transport/topics';
import { decodeFaceCrop, encodeFaceCrop, recordKey } from '../../src/schema';
import type { OutgoingRecord } from '../../src/transport/producer';
import { faceCrop } from '../schema/fixtures';

export function testKafka(brokers: string[], clientId: string): Kafka {
  // Errors are asserted through the API; kafkajs's own logs (connection errors provoked on purpose) are muted.
  return createKafka({ clientId, brokers, logLevel: logLevel.NOTHING });
}

/** FaceCrop record number n (frame.seq = n), keyed by one of 6 cameras. */
export function cropRecord(n: number): OutgoingRecord {
  const c = faceCrop(0, { side: 4 });
  c.camera = `cam-${n % 6}`;
  c.frame.seq = n;
  return { key: recordKey(c), value: encodeFaceCrop(c) };
}

export const seqOf = (value: Buffer | null): number => decodeFaceCrop(value).frame.seq;

export { readTopic, type RawRecord } from '../support/kafka';

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** admin.createTopics, then waits for the leaders (see waitForLeaders in src/transport/topics.ts for why). */
export async function createTopics(admin: Admin, req: { topics: ITopicConfig[] }): Promise<void> {
  await admin.createTopics({ topics: req.topics, waitForLeaders: false });
  await waitForLeaders(admin, req.topics.map((t) => t.topic));
}
