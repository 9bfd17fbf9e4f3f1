/** isRetryable: which failures the consumer retries in place instead of dead-lettering (no broker needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { SchemaError } from '../../src/schema';
import { isRetryable, RetryableError } from '../../src/transport/consumer';

// kafkajs's constructors take (error, {cause, retriable, …}) at run time; its typings declare only the first.
type WithOptions = new (e: Error | string, o: Record<string, unknown>) => Error;
const NonRetriable = KafkaJSNonRetriableError as unknown as WithOptions;
const RetriesExceeded = KafkaJSNumberOfRetriesExceeded as unknown as WithOptions;
const Protocol = KafkaJSProtocolError as unknown as WithOptions;

test('isRetryable: transient kafkajs errors (also wrapped by an exhausted retry) and RetryableError', () => {
  const conn = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  assert.equal(isRetryable(conn), true);
  // What producer.send throws after kafkajs's inner retries run out during a broker outage.
  assert.equal(isRetryable(new NonRetriable(conn, { cause: conn })), true);
  assert.equal(isRetryable(new RetriesExceeded(conn, { retryCount: 5, retryTime: 300, cause: conn })), true);
  assert.equal(isRetryable(new RetryableError('webhook target down')), true);
  assert.equal(isRetryable(new Error('outer', { cause: new RetryableError('inner') })), true);
});

test('isRetryable: record faults and permanent broker errors are not retried', () => {
  assert.equal(isRetryable(new SchemaError('FaceCrop', 'camera: missing')), false);
  assert.equal(isRetryable(new Error('bad crop geometry')), false);
  const tooLarge = new Protocol('message too large', { retriable: false });
  assert.equal(isRetryable(tooLarge), false);
  assert.equal(isRetryable(new NonRetriable(tooLarge, { cause: tooLarge })), false);
  assert.equal(isRetryable('a string'), false);
  assert.equal(isRetryable(null), false);
});
