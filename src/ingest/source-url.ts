/**
 * Camera source URLs: validation, the ffmpeg input string, and masking of the credentials they carry.
 * RTSP/HTTP URLs routinely embed `user:password@`; ffmpeg needs them, nothing else may see them.
 * Pure functions, no I/O.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { maskUrl } from '../util/redact';

export type SourceKind = 'rtsp' | 'http' | 'file';

export interface SourceUrl {
  readonly kind: SourceKind;
  /** What ffmpeg gets as `-i` (credentials included; never log it). Files become absolute paths. */
  readonly input: string;
  /** Safe to log: credentials and secret query values replaced by `***`. */
  readonly masked: string;
  /** Network streams (rtsp/http) are live: they reconnect forever by default. */
  readonly live: boolean;
}

export class SourceUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceUrlError';
  }
}

const NETWORK_SCHEMES: Record<string, SourceKind> = {
  'rtsp:': 'rtsp',
  'rtsps:': 'rtsp',
  'http:': 'http',
  'https:': 'http',
};
const EXPECTED = 'expected rtsp://, rtsps://, http://, https://, file:// or a file path';
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;
/** `scheme://anything@` up to the last '@' of the authority, so a password holding '@' is covered too. */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi;
/** Looser form for a lone URL string that may be malformed (`rtsp:/user:pw@host`, `rtsp:user:pw@host`). */
const LOOSE_USERINFO = /^([a-z][a-z0-9+.-]*:\/{0,3})[^\s/?#]*@/i;
/** Shorter secrets are not replaced as bare substrings (they would mangle ordinary words). */
const MIN_BARE_SECRET = 3;

/** Validate a camera URL or path; throws SourceUrlError naming the problem (with the URL masked). */
export function parseSourceUrl(raw: string): SourceUrl {
  const masked = maskSourceUrl(raw);
  const fail = (problem: string): never => {
    throw new SourceUrlError(`invalid camera URL "${masked}": ${problem}; ${EXPECTED}`);
  };
  if (typeof raw !== 'string' || raw.trim() === '') fail('it is empty');
  if (raw !== raw.trim()) fail('it has leading or trailing whitespace');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) fail('it contains control characters');

  const scheme = SCHEME.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    return { kind: 'file', input: path.resolve(raw), masked: raw, live: false };
  }
  if (scheme === 'file') {
    let file: string;
    try {
      file = fileURLToPath(raw);
    } catch (err) {
      return fail(`it is not a valid file:// URL (${(err as Error).message})`);
    }
    return { kind: 'file', input: file, masked: file, live: false };
  }
  const kind = NETWORK_SCHEMES[`${scheme}:`];
  if (kind === undefined) fail(`unsupported scheme "${scheme}:"`);
  if (!raw.toLowerCase().startsWith(`${scheme}://`)) fail(`"${scheme}:" must be followed by "//host"`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('it is not a valid URL (check the host, the port and characters that need %-encoding)');
  }
  if (url.hostname === '') fail('it has no host');
  if (url.port !== '' && Number(url.port) === 0) fail('port 0 is not a valid port');
  return { kind: kind as SourceKind, input: raw, masked, live: true };
}

/** Mask a camera URL for display, robust to URLs that do not parse (where maskUrl's fallback is weaker). */
export function maskSourceUrl(raw: string): string {
  if (typeof raw !== 'string') return String(raw);
  let out = maskUrl(raw).replace(USERINFO, '$1***@').replace(LOOSE_USERINFO, '$1***@');
  for (const secret of urlSecrets(raw)) out = out.split(secret).join('***');
  return out;
}

/**
 * Remove the credentials of `rawUrl` from arbitrary text (ffmpeg/ffprobe stderr, error messages): the exact URL is
 * replaced by its masked form, any `scheme://userinfo@` is masked, and the user name, password and secret query
 * values are replaced wherever they appear, raw or %-decoded (ffmpeg prints both forms).
 */
export function scrubSecrets(text: string, rawUrl: string): string {
  let out = text;
  if (rawUrl) out = out.split(rawUrl).join(maskSourceUrl(rawUrl));
  out = out.replace(USERINFO, '$1***@');
  for (const secret of urlSecrets(rawUrl)) out = out.split(secret).join('***');
  return out;
}

/** The secret parts of a URL (user, password, secret query values), raw and decoded, longest first. */
function urlSecrets(raw: string): string[] {
  const found = new Set<string>();
  const add = (s: string | undefined): void => {
    if (!s) return;
    for (const v of [s, safeDecode(s)]) if (v.length >= MIN_BARE_SECRET) found.add(v);
  };
  const authority = /^[a-z][a-z0-9+.-]*:\/{0,3}([^/?#]*)@/i.exec(raw)?.[1];
  if (authority !== undefined) {
    const colon = authority.indexOf(':');
    add(colon < 0 ? authority : authority.slice(0, colon));
    if (colon >= 0) add(authority.slice(colon + 1));
    add(authority);
  }
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url) {
    add(url.username);
    add(url.password);
    for (const [key, value] of url.searchParams) {
      if (maskUrl(`http://h/?${encodeURIComponent(key)}=x`).includes('***')) {
        add(value);
        add(encodeURIComponent(value));
      }
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
