/**
 * Masking of credentials in URLs: `rtsp://user:pass@host/path` → `rtsp://***@host/path`.
 * Query parameters that commonly carry secrets are masked too.
 */
const SECRET_QUERY_KEYS = /^(password|passwd|pwd|pass|token|access_token|auth|key|apikey|api_key|secret|signature|sig)$/i;

export function maskUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not parseable: mask everything up to the LAST '@' (a password may itself hold '@' or '/').
    return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/).*@/i, '$1***@');
  }
  const hasUser = url.username !== '' || url.password !== '';
  url.username = '';
  url.password = '';
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_QUERY_KEYS.test(key)) url.searchParams.set(key, '***');
  }
  let out = url.toString();
  if (hasUser) out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, '$1***@');
  return out.replace(/%2A%2A%2A/g, '***');
}
