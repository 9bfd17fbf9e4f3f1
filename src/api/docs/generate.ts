/**
 * `npm run docs:api`: writes docs/api.md from the OpenAPI document of a server built with a throw-away store
 * (nothing listens, no model is loaded). `--check` exits 1 when the file is not current.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config/load';
import { logger } from '../../util/log';
import { projectRoot } from '../../util/paths';
import { createApiContext } from '../create-context';
import { buildApiServer } from '../server';
import { renderApiMarkdown } from './openapi-markdown';

export const API_DOC = 'docs/api.md';

/** The OpenAPI document the server serves. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-apidoc-'));
  const config = loadConfig({ env: {}, overrides: { store: path.join(dir, 'store'), log: { level: 'silent' } } });
  const ctx = await createApiContext(config, { log: logger().child({}, { level: 'silent' }) });
  const app = await buildApiServer(ctx);
  try {
    await app.ready();
    return JSON.parse(JSON.stringify(app.swagger())) as Record<string, unknown>;
  } finally {
    await app.close();
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function generateApiDoc(): Promise<string> {
  return renderApiMarkdown(await openApiDocument());
}

if (require.main === module) {
  void (async () => {
    const file = path.join(projectRoot(), API_DOC);
    const text = await generateApiDoc();
    if (process.argv.includes('--check')) {
      let current = '';
      try {
        current = readFileSync(file, 'utf8');
      } catch {
        /* missing */
      }
      if (current !== text) {
        process.stderr.write(`${API_DOC} is not current: run npm run build && npm run docs:api\n`);
        process.exit(1);
      }
      return;
    }
    writeFileSync(file, text);
    process.stdout.write(`wrote ${API_DOC} (${text.length} bytes)\n`);
  })().catch((e: Error) => {
    process.stderr.write(`docs:api: ${e.message}\n`);
    process.exit(1);
  });
}
