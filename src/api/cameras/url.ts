/**
 * Camera URLs accepted by the management API: network streams only — rtsp://, rtsps://, http:// or https:// with a
 * host and, when given, a port 1..65535. File paths and file:// URLs, which the config file and `facestream run`
 * accept, are refused here: an API caller must not make the server open its own files.
 *
 * Messages name what is wrong and show the URL masked (credentials never appear in an answer or a log line).
 */
import { maskSourceUrl } from '../../ingest/source-url';

export const API_CAMERA_URL_EXPECTED = 'expected an rtsp://, rtsps://, http:// or https:// URL with a host and an optional port 1..65535';
const SCHEMES = new Set(['rtsp', 'rtsps', 'http', 'https']);
export const MAX_CAMERA_URL_LENGTH = 2048;

/** Why `raw` is not an acceptable camera URL (credentials masked), or undefined when it is. */
export function cameraUrlProblem(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return `${API_CAMERA_URL_EXPECTED}, got ${raw === null ? 'null' : typeof raw}`;
  const shown = (): string => `"${maskSourceUrl(raw).slice(0, 200)}"`;
  if (raw.length === 0) return `${API_CAMERA_URL_EXPECTED}, got an empty string`;
  if (raw.length > MAX_CAMERA_URL_LENGTH) return `${API_CAMERA_URL_EXPECTED} of at most ${MAX_CAMERA_URL_LENGTH} characters, got ${raw.length}`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(raw)) return `${API_CAMERA_URL_EXPECTED}; ${shown()} contains spaces or control characters`;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) return `${API_CAMERA_URL_EXPECTED}; ${shown()} has no scheme (file paths are not accepted over the API)`;
  if (!SCHEMES.has(scheme)) return `${API_CAMERA_URL_EXPECTED}; unsupported scheme "${scheme}:"`;
  if (!raw.toLowerCase().startsWith(`${scheme}://`)) return `${API_CAMERA_URL_EXPECTED}; "${scheme}:" must be followed by "//host"`;
  // The port as written (URL() drops default ports and rejects others without saying why).
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(raw)?.[1] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const portText = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(hostPort)?.[1];
  if (portText !== undefined && portText !== '') {
    const port = /^\d{1,6}$/.test(portText) ? Number(portText) : NaN;
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) return `${API_CAMERA_URL_EXPECTED}; port "${portText.slice(0, 12)}" is not 1..65535`;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${API_CAMERA_URL_EXPECTED}; ${shown()} is not a valid URL (check the host and characters that need %-encoding)`;
  }
  if (url.hostname === '') return `${API_CAMERA_URL_EXPECTED}; ${shown()} has no host`;
  return undefined;
}

/** Whether the URL carries a user name or password. */
export function hasCredentials(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.username !== '' || u.password !== '';
  } catch {
    return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(raw);
  }
}
