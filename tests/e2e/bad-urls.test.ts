/**
 * What the running app answers, over real HTTP, to requests that are the client's mistake:
 * paths whose percent-encoding does not decode, and a body or batch past the /api/trpc limits.
 */
import { describe, expect, inject, it } from 'vitest';

const appUrl = inject('appUrl');

describe('malformed requests', () => {
  it('answers 400 for a path whose percent-encoding does not decode, on every kind of dynamic route', async () => {
    for (const path of ['/api/trpc/%00%ff', '/api/live/turns/%E0%A4%A/stream', '/api/v1/datasets/%E0%A4%A', '/api/auth/%00%ff', '/annotate/%E0%A4%A']) {
      const response = await fetch(`${appUrl}${path}`, { redirect: 'manual' });
      expect(response.status, path).toBe(400);
      if (path.startsWith('/api/')) expect(await response.json(), path).toMatchObject({ code: 'BAD_REQUEST', field: 'path' });
    }
    // A well-formed encoding still reaches its route (here: tRPC, which knows no such procedure).
    expect((await fetch(`${appUrl}/api/trpc/no%2Esuch`)).status).toBe(404);
  });

  it('refuses a 30 MB tRPC body with 413 on its length, and a batch of 500 calls with 400', async () => {
    const big = new Uint8Array(30 * 1024 * 1024).fill(0x20);
    const tooLarge = await fetch(`${appUrl}/api/trpc/annotation.submit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(tooLarge.status).toBe(413);
    expect(JSON.stringify(await tooLarge.json())).toContain('PAYLOAD_TOO_LARGE');
    const paths = Array.from({ length: 500 }, () => 'projects.list').join(',');
    const batch = await fetch(`${appUrl}/api/trpc/${paths}?batch=1&input=%7B%7D`);
    expect(batch.status).toBe(400);
    expect(JSON.stringify(await batch.json())).toContain('a batch holds at most 50 calls; this one has 500');
  });
});
