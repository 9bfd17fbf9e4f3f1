/**
 * Structured logging (pino) to stderr, so stdout stays free for command output such as `--json`.
 * Secrets are redacted by key name; URLs must be passed through maskUrl() before logging.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export const REDACT_PATHS = [
  'secret', '*.secret', 'password', '*.password', 'apiKey', '*.apiKey', 'authorization', '*.authorization',
  'headers.authorization', 'webhookSecret', '*.webhookSecret', 'embedding', '*.embedding',
];

let root: Logger | undefined;

export function logger(): Logger {
  if (!root) {
    root = pino(
      {
        name: 'facestream',
        level: process.env.FACESTREAM_LOG_LEVEL ?? 'info',
        redact: { paths: REDACT_PATHS, censor: '***' },
        base: { pid: process.pid },
      },
      pino.destination({ fd: 2, sync: true }),
    );
  }
  return root;
}
