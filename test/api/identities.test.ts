/**
 * Identities and enrolment through a real server with the real models: create, list, get, patch; enrol by image
 * upload (per-image results: accepted with quality, no-face, several-faces, unreadable); negatives; the gallery and
 * the default watchlist reflect it; every change leaves an audit record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cv } from '../../src/util/cv';
import { skipWithoutShared } from '../support/shared';
import { groupPhoto, idOf, lfwImages, lfwPeople, startTestApi, type TestApi } from './helpers';

const skip = skipWithoutShared('enrol real faces through the API');

function blankJpeg(): Buffer {
  return cv().imencode('.jpg', new (cv().Mat)(240, 320, cv().CV_8UC3, [120, 120, 120]));
}

describe('identities and enrolment', { skip }, () => {
  let api: TestApi;
  let person: string;
  let other: string;
  before(async () => {
    [person, other] = lfwPeople(2);
    api = await startTestApi();
  });
  after(async () => api?.close());

  test('create, list, get, patch an identity; it joins the gallery with its first accepted face', async () => {
    const admin = api.keys.admin;
    const made = await api.call('POST', '/identities', { key: admin, json: { name: person.replace(/_/g, ' '), displayName: 'Subject A', metadata: { team: 'red', badge: 12 } } });
    assert.equal(made.status, 201, made.text);
    const id = made.body.id;
    assert.equal(id, idOf(person));
    assert.deepEqual({ enrolled: made.body.enrolled, embeddings: made.body.embeddings, watchlists: made.body.watchlists }, { enrolled: false, embeddings: 0, watchlists: [] });
    // The same name again gets the next free id; an explicit taken id is a conflict naming the field.
    const again = await api.call('POST', '/identities', { key: admin, json: { name: person.replace(/_/g, ' ') } });
    assert.equal(again.body.id, `${id}-2`);
    const dup = await api.call('POST', '/identities', { key: admin, json: { name: 'X', id } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.field, 'id');

    const [a1, a2] = lfwImages(person);
    const enrol = await api.call('POST', `/identities/${id}/images`, { key: admin, files: [['images', 'a1.jpg', a1], ['images', 'a2.jpg', a2], ['images', 'blank.jpg', blankJpeg()], ['images', 'group.jpg', groupPhoto()], ['images', 'text.jpg', Buffer.from('not an image')]] });
    assert.equal(enrol.status, 200, enrol.text);
    assert.equal(enrol.body.accepted, 2);
    assert.equal(enrol.body.rejected, 3);
    const [r1, r2, r3, r4, r5] = enrol.body.results;
    for (const r of [r1, r2]) {
      assert.equal(r.accepted, true);
      assert.equal(r.faces, 1);
      assert.ok(r.quality.score > 0 && r.quality.faceSize > 40 && r.box.width > 0, JSON.stringify(r));
    }
    assert.deepEqual([r3.reason, r3.faces, r3.field], ['no-face', 0, 'images[2]']);
    assert.equal(r4.reason, 'several-faces');
    assert.ok(r4.faces >= 2);
    assert.match(r4.message, /images\[3\] "group.jpg": \d+ faces found, expected exactly one/);
    assert.equal(r5.reason, 'unreadable');
    assert.match(r5.message, /images\[4\] "text.jpg"/);
    assert.deepEqual({ enrolled: enrol.body.identity.enrolled, embeddings: enrol.body.identity.embeddings, watchlists: enrol.body.identity.watchlists }, { enrolled: true, embeddings: 2, watchlists: ['default'] });

    const g = await api.ctx.gallery.read();
    assert.equal(g!.identities.find((i) => i.id === id)!.embeddings.length, 2);

    const patched = await api.call('PATCH', `/identities/${id}`, { key: admin, json: { name: 'Renamed Person', metadata: null } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.name, 'Renamed Person');
    assert.equal(patched.body.metadata, undefined);
    assert.equal(patched.body.displayName, 'Subject A');
    assert.equal((await api.ctx.gallery.read())!.identities.find((i) => i.id === id)!.name, 'Renamed Person');

    const got = await api.call('GET', `/identities/${id}`, { key: api.keys.viewer });
    assert.equal(got.body.embeddings, 2);
    const list = await api.call('GET', '/identities?limit=1', { key: api.keys.viewer });
    assert.equal(list.body.total, 2);
    assert.equal(list.body.identities.length, 1);
    assert.equal((await api.call('GET', '/identities/no-such-person', { key: api.keys.viewer })).status, 404);

    // Negatives: a face of someone else, "this is not <id>".
    const neg = await api.call('POST', `/identities/${id}/negatives`, { key: admin, files: [['images', 'other.jpg', lfwImages(other)[0]]] });
    assert.equal(neg.status, 200, neg.text);
    assert.equal(neg.body.identity.negatives, 1);
    // Negatives of an identity without any enrolled face: refused, naming why.
    const noFace = await api.call('POST', `/identities/${id}-2/negatives`, { key: admin, files: [['images', 'other.jpg', lfwImages(other)[0]]] });
    assert.equal(noFace.status, 409);
    assert.match(noFace.body.error.message, /no enrolled face yet/);

    const audit = (await api.call('GET', `/audit?target=identity:${id}`, { key: admin })).body.records.map((r: { action: string; result: string }) => `${r.action}:${r.result}`);
    assert.deepEqual(audit, ['identity.negatives:ok', 'identity.update:ok', 'identity.enrol:ok', 'identity.create:error', 'identity.create:ok']);
  });

  test('an upload where no image is usable answers 422 with the per-image reasons', async () => {
    const made = await api.call('POST', '/identities', { key: api.keys.admin, json: { name: 'Nobody Usable' } });
    const r = await api.call('POST', `/identities/${made.body.id}/images`, { key: api.keys.admin, files: [['images', 'blank.jpg', blankJpeg()]] });
    assert.equal(r.status, 422);
    assert.equal(r.body.error.code, 'no-usable-face');
    assert.equal(r.body.error.field, 'images[0]');
    assert.match(r.body.error.message, /no face found/);
    assert.equal(r.body.results[0].reason, 'no-face');
    assert.equal((await api.call('GET', `/identities/${made.body.id}`, { key: api.keys.admin })).body.enrolled, false);
  });
});
