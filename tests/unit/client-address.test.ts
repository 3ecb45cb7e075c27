import { describe, expect, it } from 'vitest';
import { clientAddress } from '@/server/auth/client-address';
import { RateLimitedError, retryAfterOf } from '@/server/limits/rate-limit';

const headers = (xff?: string) => new Headers(xff === undefined ? {} : { 'x-forwarded-for': xff });

describe('clientAddress', () => {
  it('takes the last entry when no proxy is trusted (what Next.js fills in from the socket)', () => {
    expect(clientAddress(headers('203.0.113.9'), 0)).toBe('203.0.113.9');
    expect(clientAddress(headers('1.1.1.1, 203.0.113.9'), 0)).toBe('203.0.113.9');
    expect(clientAddress(headers(), 0)).toBeNull();
  });

  it('behind trusted proxies, takes the entry written by the outermost one, whatever the client prepended', () => {
    expect(clientAddress(headers('6.6.6.6, 203.0.113.9'), 1)).toBe('203.0.113.9');
    expect(clientAddress(headers('6.6.6.6, 203.0.113.9, 10.0.0.2'), 2)).toBe('203.0.113.9');
    expect(clientAddress(headers('203.0.113.9'), 3)).toBe('203.0.113.9');
  });

  it('treats IPv4-mapped IPv6 as IPv4 and bounds the length', () => {
    expect(clientAddress(headers('::ffff:192.0.2.1'), 0)).toBe('192.0.2.1');
    expect(clientAddress(headers('x'.repeat(500)), 0)).toHaveLength(64);
  });
});

describe('retryAfterOf', () => {
  it('is the longest wait among rate-limited errors, null when none is', () => {
    expect(retryAfterOf([{ cause: new RateLimitedError('a', 5) }, { cause: new Error('b') }, { cause: new RateLimitedError('c', 9) }])).toBe(9);
    expect(retryAfterOf([{ cause: new Error('b') }, {}])).toBeNull();
  });
});
