/**
 * Masks every URL inside free text with maskUrl() (credentials and secret query parameters → ***), for
 * strings that may embed URLs: config error messages, readiness details. (A candidate for util/redact.ts.)
 */
import { maskUrl } from '../util/redact';

const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

export function maskUrlsInText(text: string): string {
  return text.replace(URL_IN_TEXT, (u) => maskUrl(u));
}
