/**
 * Loads the configuration: defaults < YAML file < environment < command-line overrides, validated by the one
 * schema (schema.ts). Errors name the key path, what was expected, what was given and where it came from:
 *
 *   http.port: expected integer 0..65535 (0 = any free port), got "abc" (from FACESTREAM_HTTP__PORT)
 *   cameras.0.url: expected rtsp://, rtsps://, http://, https:// or file path, got "ftp://***@host/x" (in cfg.yaml)
 *   unknown key "camras" (did you mean "cameras"?)
 *
 * Values shown in errors have URLs masked (maskUrl) before anything else is done to them; secrets are never shown.
 *
 * Environment: FACESTREAM_<PATH>, "__" between levels, each level matched to the schema's keys ignoring case
 * and "_" (FACESTREAM_HTTP__PORT → http.port, FACESTREAM_ALERTS__COOLDOWN_SEC → alerts.cooldownSec,
 * FACESTREAM_CAMERAS__0__URL → cameras[0].url). Values are parsed by the schema type of their key: numbers,
 * booleans (true/false/1/0/yes/no/on/off), lists of enums/strings as "a,b" or JSON, lists of objects as JSON.
 * FACESTREAM_LOG_LEVEL is an alias of log.level; FACESTREAM_WEBHOOK_SECRET is the secret of every webhook
 * that has none; FACESTREAM_CONFIG names the YAML file when none is passed. Other FACESTREAM_* variables
 * without "__" that are not config keys (FACESTREAM_SHARED_DIR, FACESTREAM_DEBUG, …) are ignored.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import type { z } from 'zod';
import { UsageError } from '../util/errors';
import { maskUrlsInText } from './mask-text';
import { Config, ConfigOverrides, ConfigSchema } from './schema';

export interface ConfigIssue {
  /** Dotted key path ("" for the top level). */
  path: string;
  message: string;
}

export class ConfigError extends UsageError {
  constructor(readonly issues: ConfigIssue[], header = 'invalid configuration') {
    super(`${header}:\n${issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`, 2);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** YAML file (`--config`). Default: $FACESTREAM_CONFIG, else none. */
  file?: string;
  /** Environment to read FACESTREAM_* from. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Command-line flags as a partial config (arrays replace, objects merge; undefined values are ignored). */
  overrides?: ConfigOverrides;
}

const ENV_PREFIX = 'FACESTREAM_';
const ENV_ALIASES: Record<string, string[]> = { LOG_LEVEL: ['log', 'level'] };
const ENV_RESERVED = new Set(['WEBHOOK_SECRET', 'CONFIG']);
const SECRET_KEY = /secret|password|passwd|token/i;

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? (env.FACESTREAM_CONFIG || undefined);
  const sources = new Map<string, string>(); // dotted path → where a value came from (env var / command line)
  const issues: ConfigIssue[] = [];

  let fileData: Record<string, unknown> = {};
  if (file !== undefined) fileData = readYamlFile(file);
  const merged = structuredClone(fileData) as Record<string, unknown>;

  applyEnv(merged, env, sources, issues);
  if (opts.overrides) mergeOverrides(merged, opts.overrides as Record<string, unknown>, [], sources);
  fillWebhookSecrets(merged, env, sources);

  const result = ConfigSchema.safeParse(merged, { reportInput: true });
  if (result.success && issues.length === 0) return result.data;
  if (!result.success) for (const issue of result.error.issues) issues.push(...formatIssue(issue, merged, fileData, file, sources));
  throw new ConfigError(issues);
}

// ---- YAML ----------------------------------------------------------------------------------------------

function readYamlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([{ path: '', message: `cannot read config file ${file}: ${code ?? (err as Error).message}` }], 'invalid configuration');
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        // Only the error's first sentence and position: the library's snippet could quote a password.
        const what = maskUrlsInText(e.message.split(' at line')[0].split('\n')[0]);
        const pos = e.linePos?.[0];
        return { path: '', message: `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML error: ${what}` };
      }),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([{ path: '', message: `${file}: expected a mapping of settings at the top level, got ${describe(data, false)}` }]);
  }
  return data as Record<string, unknown>;
}

// ---- schema walking (zod 4 internals: def.type, innerType, shape, element) ------------------------------

interface ZNode {
  _zod: { def: { type: string; innerType?: ZNode; in?: ZNode; shape?: Record<string, ZNode>; element?: ZNode } };
}
const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

function unwrap(node: ZNode): ZNode {
  for (;;) {
    const def = node._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType) node = def.innerType;
    else if (def.type === 'pipe' && def.in) node = def.in;
    else return node;
  }
}

const ROOT = ConfigSchema as unknown as ZNode;

/** The schema node at a path (numeric segments step into arrays), or undefined. */
function nodeAt(path: readonly PropertyKey[]): ZNode | undefined {
  let node: ZNode | undefined = unwrap(ROOT);
  for (const seg of path) {
    if (!node) return undefined;
    const def: ZNode['_zod']['def'] = node._zod.def;
    if (def.type === 'object' && typeof seg === 'string') node = def.shape?.[seg];
    else if (def.type === 'array') node = def.element;
    else return undefined;
    if (node) node = unwrap(node);
  }
  return node;
}

function keysAt(path: readonly PropertyKey[]): string[] {
  const node = nodeAt(path);
  return node && node._zod.def.type === 'object' ? Object.keys(node._zod.def.shape ?? {}) : [];
}

const norm = (s: string): string => s.toLowerCase().replace(/_/g, '');

// ---- environment ---------------------------------------------------------------------------------------

function applyEnv(
  target: Record<string, unknown>,
  env: Record<string, string | undefined>,
  sources: Map<string, string>,
  issues: ConfigIssue[],
): void {
  const topKeys = keysAt([]);
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const rest = name.slice(ENV_PREFIX.length);
    if (ENV_RESERVED.has(rest)) continue;
    let segs: string[];
    if (ENV_ALIASES[rest]) segs = ENV_ALIASES[rest];
    else {
      const raw = rest.split('__');
      const top = topKeys.find((k) => norm(k) === norm(raw[0]));
      if (!top) {
        if (raw.length > 1) {
          issues.push({ path: '', message: `${name}: unknown key "${raw[0].toLowerCase()}"${suggest(raw[0], topKeys)}` });
        } else {
          const hint = singleUnderscoreHint(rest, topKeys);
          if (hint) issues.push({ path: '', message: `${name}: not a setting (did you mean ${ENV_PREFIX}${hint}?)` });
        }
        continue; // some other FACESTREAM_* variable (FACESTREAM_SHARED_DIR, FACESTREAM_DEBUG, …)
      }
      segs = [top];
      let ok = true;
      for (const seg of raw.slice(1)) {
        const node = nodeAt(segs);
        const type = node?._zod.def.type;
        if (type === 'object') {
          const keys = keysAt(segs);
          const key = keys.find((k) => norm(k) === norm(seg));
          if (!key) {
            issues.push({ path: segs.join('.'), message: `${name}: unknown key "${seg.toLowerCase()}"${suggest(seg, keys)}` });
            ok = false;
            break;
          }
          segs.push(key);
        } else if (type === 'array' && /^\d{1,4}$/.test(seg)) {
          segs.push(seg);
        } else {
          issues.push({
            path: segs.join('.'),
            message: `${name}: "${seg.toLowerCase()}" does not exist here (${type === 'array' ? 'expected a list index 0, 1, …' : 'not a group of settings'})`,
          });
          ok = false;
          break;
        }
      }
      if (!ok) continue;
    }
    const parsed = parseEnvValue(value, nodeAt(segs), name, segs.join('.'), issues);
    if (parsed === NO_VALUE) continue;
    setAt(target, segs, parsed);
    sources.set(segs.join('.'), name);
  }
}

/** FACESTREAM_HTTP_PORT → "HTTP__PORT" when that would have been a setting. */
function singleUnderscoreHint(rest: string, topKeys: string[]): string | undefined {
  const parts = rest.split('_');
  for (let i = 1; i < parts.length; i++) {
    const head = parts.slice(0, i).join('_');
    const tail = parts.slice(i).join('_');
    const top = topKeys.find((k) => norm(k) === norm(head));
    if (top && keysAt([top]).some((k) => norm(k) === norm(tail))) return `${head}__${tail}`;
  }
  return undefined;
}

const NO_VALUE = Symbol('no value');

function parseEnvValue(value: string, node: ZNode | undefined, name: string, path: string, issues: ConfigIssue[]): unknown {
  const type = node?._zod.def.type;
  const v = value.trim();
  switch (type) {
    case 'number':
      return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) ? Number(v) : value; // else the schema reports it
    case 'boolean': {
      const b = v.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(b)) return true;
      if (['false', '0', 'no', 'off'].includes(b)) return false;
      return value;
    }
    case 'array': {
      const element = node?._zod.def.element ? unwrap(node._zod.def.element) : undefined;
      const elementType = element?._zod.def.type;
      if (v.startsWith('[') || elementType === 'object') return parseJson(v, name, path, issues);
      if (v === '') return [];
      return v.split(',').map((s) => parseEnvValue(s.trim(), element, name, path, issues));
    }
    case 'object':
      return parseJson(v, name, path, issues);
    default:
      return value;
  }
}

function parseJson(v: string, name: string, path: string, issues: ConfigIssue[]): unknown {
  try {
    return JSON.parse(v);
  } catch {
    issues.push({ path, message: `${name}: expected JSON (a list or object), got ${describe(v, SECRET_KEY.test(path))}` });
    return NO_VALUE;
  }
}

function setAt(target: Record<string, unknown>, segs: readonly string[], value: unknown): void {
  let cur: Record<string, unknown> | unknown[] = target;
  for (let i = 0; i < segs.length - 1; i++) {
    const key = segs[i];
    const nextIsIndex = /^\d+$/.test(segs[i + 1]);
    const existing = (cur as Record<string, unknown>)[key];
    if (existing === null || typeof existing !== 'object') {
      (cur as Record<string, unknown>)[key] = nextIsIndex ? [] : {};
    }
    cur = (cur as Record<string, unknown>)[key] as Record<string, unknown>;
  }
  (cur as Record<string, unknown>)[segs[segs.length - 1]] = value;
}

// ---- command-line overrides ----------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mergeOverrides(target: Record<string, unknown>, src: Record<string, unknown>, path: string[], sources: Map<string, string>): void {
  for (const [key, value] of Object.entries(src)) {
    if (value === undefined) continue;
    const p = [...path, key];
    if (isPlainObject(value)) {
      if (!isPlainObject(target[key])) target[key] = {};
      mergeOverrides(target[key] as Record<string, unknown>, value, p, sources);
    } else {
      target[key] = Array.isArray(value) ? structuredClone(value) : value;
      sources.set(p.join('.'), 'the command line');
    }
  }
}

function fillWebhookSecrets(merged: Record<string, unknown>, env: Record<string, string | undefined>, sources: Map<string, string>): void {
  const secret = env.FACESTREAM_WEBHOOK_SECRET;
  const alerts = merged.alerts;
  if (!secret || !isPlainObject(alerts) || !Array.isArray(alerts.webhooks)) return;
  alerts.webhooks.forEach((w, i) => {
    if (isPlainObject(w) && w.secret === undefined) {
      w.secret = secret;
      sources.set(`alerts.webhooks.${i}.secret`, 'FACESTREAM_WEBHOOK_SECRET');
    }
  });
}

// ---- error messages ------------------------------------------------------------------------------------

function formatIssue(
  issue: z.core.$ZodIssue,
  input: unknown,
  fileData: unknown,
  file: string | undefined,
  sources: Map<string, string>,
): ConfigIssue[] {
  const path = issue.path.map(String).join('.');
  const where = origin(issue.path, fileData, file, sources);
  if (issue.code === 'unrecognized_keys') {
    const allowed = keysAt(issue.path);
    return issue.keys.map((k) => ({
      path,
      message: `unknown key ${JSON.stringify(maskUrlsInText(k))}${suggest(k, allowed)}${origin([...issue.path, k], fileData, file, sources)}`,
    }));
  }
  const secret = issue.path.some((p) => typeof p === 'string' && SECRET_KEY.test(p));
  let message = issue.message;
  if (issue.code === 'invalid_type' && /^Invalid input/.test(message)) message = `expected ${typeWord(issue.expected)}`;
  if (/^expected /.test(message) && !/\bgot\b/.test(message)) {
    const value = 'input' in issue ? issue.input : getAt(input, issue.path);
    message += `, got ${describe(value, secret)}`;
  }
  return [{ path, message: `${message}${where}` }];
}

function origin(path: readonly PropertyKey[], fileData: unknown, file: string | undefined, sources: Map<string, string>): string {
  for (let n = path.length; n >= 1; n--) {
    const src = sources.get(path.slice(0, n).map(String).join('.'));
    if (src) return ` (from ${src})`;
  }
  if (file !== undefined && path.length > 0 && getAt(fileData, path) !== undefined) return ` (in ${file})`;
  return '';
}

function getAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

function typeWord(expected: string): string {
  switch (expected) {
    case 'object':
      return 'a mapping of settings';
    case 'array':
      return 'a list';
    default:
      return expected;
  }
}

/** What a value was, for an error message: URLs masked first (then shortened), secrets never shown. */
function describe(value: unknown, secret: boolean): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (secret) return `a ${typeof value} (not shown)`;
  if (typeof value === 'string') {
    const masked = maskUrlsInText(value);
    return JSON.stringify(masked.length > 80 ? `${masked.slice(0, 77)}…` : masked);
  }
  return String(value);
}

/** ` (did you mean "x"?)` for a near miss: case-insensitive edit distance within a third of the length. */
function suggest(given: string, allowed: readonly string[]): string {
  const g = norm(given);
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = editDistance(g, norm(a));
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(g.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

/** Edit distance with adjacent transpositions (optimal string alignment; a dozen lines, not worth a dependency). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
