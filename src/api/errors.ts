/**
 * The API's error type and body. Every 4xx/5xx answer is `{ error: { code, message, field? } }`:
 *   code     stable machine-readable kind ("invalid-request", "unknown-field", "not-found", "forbidden", …)
 *   message  what is wrong and what was expected, for a human
 *   field    the offending field when there is one ("name", "query.limit", "images[2]")
 * Messages never quote secrets: URLs are masked by whoever builds the message.
 */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** Extra top-level members of the body (e.g. per-image `results` of a refused upload). */
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.field !== undefined ? { field: this.field } : {}) }, ...this.extra };
  }
}

export const badRequest = (message: string, field?: string) => new ApiError(400, 'invalid-request', message, field);
export const notFound = (what: string, field?: string) => new ApiError(404, 'not-found', what, field);
export const conflict = (message: string, field?: string) => new ApiError(409, 'conflict', message, field);
