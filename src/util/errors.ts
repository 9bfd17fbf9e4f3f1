/** A user-facing error: its message is printed without a stack trace and the process exits with `exitCode`. */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UsageError';
  }
}
