/**
 * GET /openapi.json: an OpenAPI 3.1 document of every route the server has (ops endpoints hidden), generated from the
 * same zod schemas that validate requests (strict bodies: additionalProperties false; required fields; roles in each
 * description). docs/api.md must be what `npm run docs:api` generates now.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { API_DOC, generateApiDoc } from '../../src/api/docs/generate';
import { projectRoot } from '../../src/util/paths';
import { startTestApi, type TestApi } from './helpers';

describe('OpenAPI document and the generated reference', () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => api?.close());

  test('documents every authenticated route with the schemas that validate it', async () => {
    const r = await api.call('GET', '/openapi.json', { key: api.keys.viewer });
    assert.equal(r.status, 200);
    const doc = r.body;
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc.security, [{ bearer: [] }]);
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${p}`);
    // Every route the server has (except ops endpoints, HEAD and the document itself) is documented.
    const routes: string[] = [];
    for (const want of ['POST /identities', 'GET /identities', 'GET /identities/{id}', 'PATCH /identities/{id}', 'DELETE /identities/{id}', 'POST /identities/{id}/images', 'POST /identities/{id}/negatives', 'POST /watchlists', 'GET /watchlists', 'GET /watchlists/{name}', 'POST /watchlists/{name}/identities', 'DELETE /watchlists/{name}/identities/{id}', 'POST /watchlists/{name}/activate', 'POST /watchlists/{name}/deactivate', 'DELETE /watchlists/{name}', 'POST /recognize', 'GET /audit']) {
      routes.push(want);
      assert.ok(documented.has(want), `${want} is missing from /openapi.json`);
    }
    for (const hidden of ['GET /healthz', 'GET /readyz', 'GET /metrics']) assert.ok(!documented.has(hidden), `${hidden} should not be documented as an API call`);

    const create = doc.paths['/identities'].post;
    const body = create.requestBody.content['application/json'].schema;
    assert.equal(body.additionalProperties, false, 'unknown fields are refused and documented as such');
    assert.deepEqual(body.required, ['name']);
    assert.equal(body.properties.id.pattern, '^[a-z0-9]+(?:-[a-z0-9]+)*$');
    assert.match(create.description, /Roles: admin\./);
    assert.match(doc.paths['/watchlists'].post.description, /Roles: admin, operator\./);
    assert.match(doc.paths['/identities'].get.description, /Roles: admin, operator, viewer\./);
    const limit = doc.paths['/identities'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    assert.deepEqual([limit.in, limit.schema.maximum, limit.schema.default], ['query', 1000, 100]);
    const upload = doc.paths['/identities/{id}/images'].post.requestBody.content;
    assert.ok(upload['multipart/form-data'], 'uploads are documented as multipart');
    assert.ok(doc.paths['/identities/{id}'].delete.responses['200'].content['application/json'].schema.properties.audit);
    assert.ok(routes.length >= 17);
  });

  test(`${API_DOC} is current (npm run build && npm run docs:api)`, async () => {
    const file = path.join(projectRoot(), API_DOC);
    const want = await generateApiDoc();
    assert.equal(readFileSync(file, 'utf8'), want, `${API_DOC} is stale: run npm run build && npm run docs:api`);
    assert.match(want, /### DELETE `\/identities\/\{id\}`/);
    assert.match(want, /\| `name` \| string \| yes \|/);
  });
});
