import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  deadLetterFor,
  deadLetterKey,
  decodeDeadLetter,
  decodeFaceCrop,
  encodeDeadLetter,
  SchemaError,
} from '../../src/schema';
import { randomBytes, T0 } from './fixtures';

test('a failed record becomes a dead letter that keeps its bytes, key, place and reason', () => {
  const garbage = Buffer.from(randomBytes(300, 11));
  let err: unknown;
  try {
    decodeFaceCrop(garbage);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SchemaError);
  const failed = { topic: 'facestream.crops', partition: 3, message: { offset: '9223372036854775807', key: Buffer.from('front-door'), value: garbage } };
  const dl = deadLetterFor(failed, err, 'embed', T0);
  assert.equal(dl.reason, err.reason, 'the reason without the "FaceCrop record rejected" prefix');
  const d = decodeDeadLetter(encodeDeadLetter(dl));
  assert.equal(d.sourceTopic, 'facestream.crops');
  assert.equal(d.partition, 3);
  assert.equal(d.offset, '9223372036854775807', 'int64 offsets are exact');
  assert.equal(d.reason, err.reason);
  assert.equal(d.service, 'embed');
  assert.equal(d.failedAtMs, T0);
  assert.ok(d.original && Buffer.from(d.original).equals(garbage));
  assert.ok(d.originalKey && Buffer.from(d.originalKey).equals(Buffer.from('front-door')));
  assert.deepStrictEqual(deadLetterKey(d), Buffer.from('front-door'));
});

test('a dead letter keeps null (absent) and empty values apart', () => {
  const base = { topic: 't', partition: 0, message: { offset: '0', key: null, value: null } };
  const d = decodeDeadLetter(encodeDeadLetter(deadLetterFor(base, 'no value', 'match', T0)));
  assert.equal(d.original, null);
  assert.equal(d.originalKey, null);
  assert.equal(deadLetterKey(d), null);
  const e = decodeDeadLetter(encodeDeadLetter(deadLetterFor({ ...base, message: { ...base.message, value: Buffer.alloc(0) } }, 'empty', 'match', T0)));
  assert.ok(e.original instanceof Uint8Array);
  assert.equal(e.original.byteLength, 0);
});

test('dead letters are checked: long reasons are cut, bad fields refused', () => {
  const base = { topic: 't', partition: 0, message: { offset: '12', key: null, value: null } };
  const long = deadLetterFor(base, new Error('x'.repeat(5000)), 'alerts', T0);
  assert.equal(long.reason.length, 2000);
  decodeDeadLetter(encodeDeadLetter(long));
  assert.throws(() => encodeDeadLetter({ ...long, offset: '-1' }), (e: unknown) => e instanceof SchemaError && /^offset: /.test(e.reason));
  assert.throws(() => encodeDeadLetter({ ...long, sourceTopic: 'a topic' }), (e: unknown) => e instanceof SchemaError && /^source_topic: /.test(e.reason));
  assert.throws(() => encodeDeadLetter({ ...long, service: '' }), (e: unknown) => e instanceof SchemaError && /^service: missing/.test(e.reason));
});
