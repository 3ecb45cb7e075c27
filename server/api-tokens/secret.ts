import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors';

/** Every token starts with this, so secret scanners and people recognise it. */
export const TOKEN_PREFIX = 'pw_';
/** 32 random bytes in base64url (no padding) are 43 characters. */
const TOKEN_PATTERN = /^pw_[A-Za-z0-9_-]{43}$/;
/** Characters shown to tell tokens apart: the marker and 6 characters (36 of the 256 random bits). */
const DISPLAY_PREFIX_LENGTH = TOKEN_PREFIX.length + 6;

/** A new token secret: `pw_` and 256 random bits in base64url. */
export function generateTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * What is stored and looked up: sha256 of the secret, in hex. A fast hash is enough because the
 * secret is 256 random bits, not a password: there is no dictionary to try and no way to brute
 * force 2^256, so a slow hash (argon2) would only cost time on every request.
 */
export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function tokenDisplayPrefix(secret: string): string {
  return secret.slice(0, DISPLAY_PREFIX_LENGTH);
}

export function isWellFormedToken(secret: string): boolean {
  return TOKEN_PATTERN.test(secret);
}

/**
 * The token of an `Authorization: Bearer <token>` header. A missing or malformed header, or a
 * string that cannot be a token, is UNAUTHORIZED (a malformed token answers like an unknown one).
 */
export function parseBearerToken(header: string | null | undefined): string {
  if (!header || header.trim() === '') {
    throw new AppError('UNAUTHORIZED', 'send an API token in the header "Authorization: Bearer pw_..."', { field: 'authorization' });
  }
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AppError('UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"', { field: 'authorization' });
  const secret = match[1]!;
  if (!isWellFormedToken(secret)) throw invalidToken();
  return secret;
}

export function invalidToken(): AppError {
  return new AppError('UNAUTHORIZED', 'invalid API token', { field: 'authorization' });
}
