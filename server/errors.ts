/**
 * The one error family services throw. The code decides the HTTP / tRPC status;
 * anything else that escapes is a bug and reaches clients as a generic 500 with a logged id.
 */
export const appErrorCodes = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
} as const;
export type TAppErrorCode = keyof typeof appErrorCodes;

export class AppError extends Error {
  readonly code: TAppErrorCode;
  /** For bad input: which field (or file line) was wrong. */
  readonly field?: string;

  constructor(code: TAppErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.field = options.field;
  }

  get httpStatus(): number {
    return appErrorCodes[this.code];
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
