/**
 * docs/api.md from the OpenAPI document the server serves (so the reference cannot drift from what is validated):
 * per tag, per operation: method, path, summary, roles, path and query parameters, the JSON body's fields and the
 * responses. `npm run docs:api` writes it; test/api/openapi.test.ts fails when the file is not current.
 */
type Json = Record<string, any>;

const HEADER = `# facestream management API reference

Generated from the OpenAPI document (\`GET /openapi.json\`) by \`npm run docs:api\`; do not edit by hand.

- Serve it: \`facestream api --port 8080 [--store DIR | --store redis://…]\`. The same port serves \`/healthz\`,
  \`/readyz\` and \`/metrics\` without authentication.
- Authenticate every other call with \`Authorization: Bearer <key>\`; create keys with
  \`facestream keys create --role admin|operator|viewer\` (printed once, stored hashed; \`keys list\`, \`keys revoke ID\`).
- Roles: **admin** everything; **operator** cameras, watchlists, recognize, alerts and every read except the audit log;
  **viewer** reads only. A missing or invalid key gets 401, a role that may not call the endpoint 403.
- Errors: \`{ "error": { "code": "...", "message": "...", "field": "..." } }\` — \`field\` names the offending field
  (\`name\`, \`query.limit\` as \`limit\`, \`images[2]\`); unknown fields are refused (\`unknown-field\`). Too many requests
  for one key: 429 (\`rate-limited\`, with \`retry-after\`).
- Uploaded images are processed in memory and never stored; only the embeddings of accepted faces are kept, and
  \`DELETE /identities/{id}\` erases them everywhere (with an audit record).
`;

function typeOf(s: Json | undefined): string {
  if (!s) return 'any';
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf || s.oneOf) return (s.anyOf ?? s.oneOf).map((x: Json) => typeOf(x)).join(' \\| ');
  if (s.type === 'array') return `${typeOf(s.items)}[]`;
  if (s.format === 'binary') return 'file';
  if (Array.isArray(s.type)) return s.type.join(' \\| ');
  return s.type ?? (s.additionalProperties ? 'object' : 'any');
}

function constraints(s: Json): string {
  const c: string[] = [];
  if (s.minLength !== undefined) c.push(`min length ${s.minLength}`);
  if (s.maxLength !== undefined) c.push(`max length ${s.maxLength}`);
  if (s.minimum !== undefined && s.minimum > -9007199254740991) c.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) c.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < 9007199254740991) c.push(`<= ${s.maximum}`);
  if (s.maxItems !== undefined) c.push(`at most ${s.maxItems} items`);
  if (s.minItems !== undefined) c.push(`at least ${s.minItems} items`);
  if (s.format !== undefined && s.format !== 'binary') c.push(`format ${s.format}`);
  else if (s.pattern !== undefined) c.push(`pattern \`${s.pattern}\``);
  if (s.default !== undefined) c.push(`default ${JSON.stringify(s.default)}`);
  if (s.description) c.push(s.description);
  return c.join('; ').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function fieldTable(schema: Json | undefined): string[] {
  const props = schema?.properties as Json | undefined;
  if (!props || Object.keys(props).length === 0) return [];
  const required = new Set<string>(schema?.required ?? []);
  const rows = Object.entries(props).map(([name, s]) => `| \`${name}\` | ${typeOf(s as Json)} | ${required.has(name) ? 'yes' : ''} | ${constraints(s as Json)} |`);
  return ['| field | type | required | notes |', '|---|---|---|---|', ...rows];
}

export function renderApiMarkdown(doc: Json): string {
  const out: string[] = [HEADER];
  const ops: { tag: string; method: string; path: string; op: Json }[] = [];
  for (const [path, methods] of Object.entries(doc.paths as Json)) {
    for (const [method, op] of Object.entries(methods as Json)) ops.push({ tag: (op as Json).tags?.[0] ?? 'other', method: method.toUpperCase(), path, op: op as Json });
  }
  const tags = [...new Set(ops.map((o) => o.tag))].sort();
  out.push('## Endpoints', '', '| method | path | summary |', '|---|---|---|', ...tags.flatMap((t) => ops.filter((o) => o.tag === t).map((o) => `| ${o.method} | \`${o.path}\` | ${o.op.summary ?? ''} |`)), '');
  for (const tag of tags) {
    out.push(`## ${tag}`, '');
    for (const { method, path, op } of ops.filter((o) => o.tag === tag)) {
      out.push(`### ${method} \`${path}\``, '');
      if (op.summary) out.push(`${op.summary}.`.replace(/\.\.$/, '.'), '');
      if (op.description) out.push(op.description, '');
      const params = (op.parameters ?? []) as Json[];
      if (params.length) {
        out.push('| parameter | in | type | required | notes |', '|---|---|---|---|---|');
        for (const p of params) out.push(`| \`${p.name}\` | ${p.in} | ${typeOf(p.schema)} | ${p.required ? 'yes' : ''} | ${constraints({ ...p.schema, description: p.description ?? p.schema?.description })} |`);
        out.push('');
      }
      const content = op.requestBody?.content as Json | undefined;
      if (content) {
        const [type, body] = Object.entries(content)[0] as [string, Json];
        out.push(`Request body (\`${type}\`):`, '');
        const table = fieldTable(body.schema);
        out.push(...(table.length ? table : ['(see the schema in /openapi.json)']), '');
      }
      const responses = Object.entries((op.responses ?? {}) as Json);
      if (responses.length) {
        out.push('Responses:', '');
        for (const [code, r] of responses) {
          const schema = (r as Json).content?.['application/json']?.schema as Json | undefined;
          const fields = schema?.properties ? Object.keys(schema.properties).map((f) => `\`${f}\``).join(', ') : '';
          out.push(`- ${code}${fields ? `: ${fields}` : ''}`);
        }
        out.push('');
      }
    }
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
