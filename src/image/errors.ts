/**
 * The one error type image decoding throws for bad input. `code` says what kind of problem it is
 * (stable, for `--json` reports and tests); the message names the file, what is wrong and what was
 * expected.
 */
export type ImageInputErrorCode =
  | 'not-found'
  | 'not-a-file'
  | 'unreadable'
  | 'empty'
  | 'too-large-file'
  | 'unsupported-format'
  | 'too-large-dimensions'
  | 'corrupt'
  | 'truncated';

export const IMAGE_INPUT_ERROR_CODES: readonly ImageInputErrorCode[] = [
  'not-found',
  'not-a-file',
  'unreadable',
  'empty',
  'too-large-file',
  'unsupported-format',
  'too-large-dimensions',
  'corrupt',
  'truncated',
];

export class ImageInputError extends Error {
  constructor(
    readonly code: ImageInputErrorCode,
    /** The file (or buffer name) the problem is in. */
    readonly file: string,
    /** What is wrong and what was expected; the message is `<file>: <detail>`. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${detail}`, options);
    this.name = 'ImageInputError';
  }

  /** The `{file, code, message}` record used in evaluation reports. */
  toRecord(): { file: string; code: ImageInputErrorCode; message: string } {
    return { file: this.file, code: this.code, message: this.message };
  }
}

export function isImageInputError(err: unknown): err is ImageInputError {
  return err instanceof ImageInputError;
}
