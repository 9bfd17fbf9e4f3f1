/**
 * POST /recognize through a real server with the real models: an enrolled person's unseen photo is recognised
 * (identity, scores, the active watchlists that would alert); a stranger is not (no identity named); the response
 * before anything is enrolled; faces that fail the quality gate are reported, not matched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipWithoutShared } from '../support/shared';
import { groupPhoto, idOf, lfwImages, lfwPeople, startTestApi, type TestApi } from './helpers';

describe('recognize', { skip: skipWithoutShared('recognize real faces through the API') }, () => {
  let api: TestApi;
  let people: string[];
  before(async () => {
    people = lfwPeople(3);
    // LFW photos often show other people behind the subject: enrol the central face, as evaluation does.
    api = await startTestApi({ config: { api: { facePolicy: 'central' } } });
  });
  after(async () => api?.close());

  const recognize = (img: Buffer, key = api.keys.operator) => api.call('POST', '/recognize', { key, files: [['image', 'probe.jpg', img]] });

  test('nothing enrolled: faces are found, nobody is named', async () => {
    const r = await recognize(lfwImages(people[0])[4]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.galleryVersion, null);
    assert.equal(r.body.faces.length, 1);
    assert.deepEqual(r.body.faces[0].match, { accepted: false, reason: 'no-identities', svm: null, distance: null, watchlists: [] });
  });

  test('an enrolled person is recognised from an unseen photo; a stranger is not', async () => {
    for (const p of people) {
      const made = await api.call('POST', '/identities', { key: api.keys.admin, json: { name: p } });
      const imgs = lfwImages(p).slice(0, 3);
      const r = await api.call('POST', `/identities/${made.body.id}/images`, { key: api.keys.admin, files: imgs.map((b, i) => ['images', `${i}.jpg`, b] as [string, string, Buffer]) });
      assert.equal(r.body.accepted, 3, r.text);
    }
    const hit = await recognize(lfwImages(people[1])[4]);
    assert.equal(hit.status, 200, hit.text);
    const [face] = hit.body.faces;
    assert.equal(face.usable, true);
    assert.equal(face.match.accepted, true, JSON.stringify(face.match));
    assert.equal(face.match.identity, idOf(people[1]));
    assert.equal(face.match.reason, 'accepted');
    assert.deepEqual(face.match.watchlists, ['default']);
    assert.ok(face.match.distance <= hit.body.thresholds.distance && face.match.svm >= hit.body.thresholds.svm);
    assert.ok(hit.body.galleryVersion >= 3);

    // Deactivating the watchlist: still recognised, but nothing would alert.
    await api.call('POST', '/watchlists/default/deactivate', { key: api.keys.operator });
    assert.deepEqual((await recognize(lfwImages(people[1])[4])).body.faces[0].match.watchlists, []);

    const stranger = lfwPeople(2, 'lfw-dev-unknown')[1];
    const miss = await recognize(lfwImages(stranger, 'lfw-dev-unknown')[0]);
    assert.equal(miss.status, 200);
    assert.equal(miss.body.faces[0].match.accepted, false);
    assert.equal(miss.body.faces[0].match.identity, undefined, 'a rejected face names nobody');
    assert.notEqual(miss.body.faces[0].match.reason, 'accepted');
  });

  test('a group photo: every face is reported with box and quality', async () => {
    const r = await recognize(groupPhoto());
    assert.equal(r.status, 200);
    assert.ok(r.body.faces.length >= 3, `${r.body.faces.length} faces`);
    for (const f of r.body.faces) {
      assert.ok(f.box.width > 0 && f.quality.score >= 0);
      assert.equal(f.usable, f.match !== undefined);
      if (!f.usable) assert.match(f.rejected, /too|pose/);
    }
  });

  test('viewers may not recognize', async () => {
    assert.equal((await recognize(groupPhoto(), api.keys.viewer)).status, 403);
  });
});
