/**
 * The REAL `facestream api` process for end-to-end tests (test/support/cli-process.ts: its log lines parsed, killed
 * with its process group when the test ends), with keys made by the real `facestream keys create` and a recorder of
 * every HTTP answer (status, headers, body) so a test can grep them all.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { cliEnv, runCli, startCli, type CliProcess } from '../e2e/helpers';

export interface ApiAnswer {
  status: number;
  body: any;
  text: string;
}

export interface CliApi {
  proc: CliProcess;
  url: string;
  store: string;
  /** Keys by role, made with `facestream keys create`. */
  keys: { admin: string; viewer: string };
  /** Every answer so far, as text (status line, headers, body). */
  readonly answers: string[];
  call(method: string, route: string, opts?: { key?: string; json?: unknown; form?: FormData }): Promise<ApiAnswer>;
}

export interface CliApiOptions {
  /** The store directory (keys, cameras, gallery). */
  store: string;
  /** Written as the --config file (JSON is YAML). */
  config?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

async function createKey(t: TestContext, store: string, role: string, env: NodeJS.ProcessEnv): Promise<string> {
  const p = await runCli(t, ['keys', 'create', '--role', role, '--store', store], 60_000, env);
  const key = p.stdout.trim();
  if (p.exit.code !== 0 || !/^\S{20,}$/.test(key)) throw new Error(`keys create --role ${role} failed (${JSON.stringify(p.exit)}):\n${p.tail()}`);
  return key;
}

/** Creates an admin and a viewer key, starts `facestream api --port 0` and waits until it listens. */
export async function startCliApi(t: TestContext, options: CliApiOptions): Promise<CliApi> {
  const env = options.env ?? cliEnv();
  const keys = { admin: await createKey(t, options.store, 'admin', env), viewer: await createKey(t, options.store, 'viewer', env) };
  const args = ['api', '--port', '0', '--host', '127.0.0.1', '--store', options.store];
  if (options.config) {
    const file = path.join(path.dirname(options.store), 'api-config.yaml');
    writeFileSync(file, JSON.stringify(options.config), { mode: 0o600 });
    args.push('--config', file);
  }
  const proc = startCli(t, args, env);
  const url = await proc.waitUntil(
    () => proc.textLines.map((l) => /^facestream: API at (http:\/\/\S+) /.exec(l)?.[1]).find(Boolean),
    120_000,
    'the "API at" line of facestream api',
  );
  const answers: string[] = [];
  return {
    proc,
    url,
    store: options.store,
    keys,
    answers,
    async call(method, route, opts = {}) {
      const headers: Record<string, string> = {};
      if (opts.key) headers.authorization = `Bearer ${opts.key}`;
      let body: string | FormData | undefined;
      if (opts.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(opts.json);
      } else if (opts.form) body = opts.form;
      const res = await fetch(`${url}${route}`, { method, headers, body, signal: AbortSignal.timeout(120_000) });
      const text = await res.text();
      answers.push(`${res.status} ${method} ${route.split("?")[0]}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`);
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, text };
    },
  };
}
