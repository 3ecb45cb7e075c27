import { describe, expect, it } from 'vitest';
import { AppError } from '@/server/errors';
import { generateTokenSecret, hashTokenSecret, isWellFormedToken, parseBearerToken, tokenDisplayPrefix, TOKEN_PREFIX } from '@/server/api-tokens/secret';

function unauthorized(header: string | null | undefined): AppError {
  try {
    parseBearerToken(header);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('UNAUTHORIZED');
    return error as AppError;
  }
  throw new Error(`"${header}" was accepted`);
}

describe('API token secrets', () => {
  it('are pw_ and 256 random bits in base64url', () => {
    const secrets = Array.from({ length: 50 }, generateTokenSecret);
    for (const secret of secrets) {
      expect(secret).toMatch(/^pw_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(secret.slice(TOKEN_PREFIX.length), 'base64url')).toHaveLength(32);
      expect(isWellFormedToken(secret)).toBe(true);
    }
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  it('are stored as their sha256 in hex', () => {
    // printf 'pw_test' | sha256sum
    expect(hashTokenSecret('pw_test')).toBe('7385aabf0686675cf3f41051fc92d688d2c06abb5915f83dcb12b1ca2abfece7');
    expect(hashTokenSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const secret = generateTokenSecret();
    expect(hashTokenSecret(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashTokenSecret(secret)).toBe(hashTokenSecret(secret));
    expect(hashTokenSecret(secret)).not.toBe(hashTokenSecret(generateTokenSecret()));
  });

  it('show a short prefix that gives almost nothing of the secret away', () => {
    const secret = generateTokenSecret();
    const prefix = tokenDisplayPrefix(secret);
    expect(prefix).toBe(secret.slice(0, 9));
    expect(prefix.startsWith('pw_')).toBe(true);
  });
});

describe('the Authorization header', () => {
  const secret = generateTokenSecret();

  it('gives the token of "Bearer <token>", whatever the scheme’s case and surrounding spaces', () => {
    expect(parseBearerToken(`Bearer ${secret}`)).toBe(secret);
    expect(parseBearerToken(`bearer ${secret}`)).toBe(secret);
    expect(parseBearerToken(`  BEARER   ${secret}  `)).toBe(secret);
  });

  it('is required', () => {
    expect(unauthorized(null).message).toMatch(/send an API token/);
    expect(unauthorized(undefined).message).toMatch(/send an API token/);
    expect(unauthorized('   ').message).toMatch(/send an API token/);
  });

  it('must use the Bearer scheme with one token', () => {
    expect(unauthorized(`Basic ${Buffer.from('a:b').toString('base64')}`).message).toMatch(/must be "Bearer <token>"/);
    expect(unauthorized(secret).message).toMatch(/must be "Bearer <token>"/);
    expect(unauthorized(`Bearer ${secret} ${secret}`).message).toMatch(/must be "Bearer <token>"/);
    expect(unauthorized('Bearer').message).toMatch(/must be "Bearer <token>"/);
  });

  it('answers a token of the wrong shape like an unknown one', () => {
    for (const bad of ['pw_short', `gh_${secret.slice(3)}`, `${secret}x`, secret.slice(0, -1), `pw_${'='.repeat(43)}`]) {
      expect(unauthorized(`Bearer ${bad}`).message).toBe('invalid API token');
    }
  });
});
