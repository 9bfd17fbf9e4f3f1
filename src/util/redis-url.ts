/**
 * A Redis URL checked once and a scrubber for the messages of its connection: ioredis errors can quote the URL or
 * the password, so every message a Redis-backed component logs or throws goes through scrub() first.
 */
import { maskUrl } from './redact';

export interface RedisUrlScrubber {
  /** The URL with credentials masked (redis://***@host:port/db). */
  readonly url: string;
  /** The text with the raw URL replaced by the masked one and every form of the password by "***". */
  scrub(text: string): string;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Throws an Error starting with `what` when `rawUrl` is not a redis:// or rediss:// URL. */
export function redisUrlScrubber(rawUrl: string, what: string, extraPassword = ''): RedisUrlScrubber {
  const url = maskUrl(rawUrl);
  let parsed: URL;
  try {
    parsed = new URL(rawUrl);
  } catch {
    throw new Error(`${what} ${url} is not a URL (expected redis://[user:password@]host[:port][/db] or rediss://...)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`${what} ${url}: protocol "${parsed.protocol}" is not redis: or rediss:`);
  }
  const queryPassword = parsed.searchParams.get('password') ?? '';
  const secrets = [parsed.password, safeDecode(parsed.password), queryPassword, encodeURIComponent(queryPassword), extraPassword].filter((s) => s.length > 0);
  return {
    url,
    scrub(text: string): string {
      let out = text.split(rawUrl).join(url);
      for (const s of secrets) out = out.split(s).join('***');
      return out;
    },
  };
}
