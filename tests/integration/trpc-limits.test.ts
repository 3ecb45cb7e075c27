import superjson from 'superjson';
import { afterAll, describe, expect, it } from 'vitest';
import { localArtifactStore } from '@/server/artifacts/store';
import { appRouter } from '@/server/root';
import { serveTrpc, trpcLimits, type TTrpcLimits } from '@/server/trpc-http';
import type { TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { makeUser, stopSharedQueue } from '../helpers/factories';

const db = setupTestDatabase();
afterAll(() => stopSharedQueue());

const limits: TTrpcLimits = { maxBodyBytes: 64 * 1024, maxBatchCalls: 5 };

/** The route's handler as app/api/trpc mounts it, with a context that counts how often it was built. */
function serve(req: Request, user: TSessionUser | null, counter: { contexts: number }) {
  return serveTrpc({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    limits,
    createContext: () => {
      counter.contexts++;
      return { db: db.current.handle, user, store: localArtifactStore('/tmp/pairwise-test-artifacts'), queue: () => Promise.reject(new Error('nothing to enqueue')) };
    },
  });
}

const errorOf = async (res: Response) => {
  const body = (await res.json()) as { error?: { json: { message: string; data: { code: string } } } } | { error: { json: { message: string; data: { code: string } } } }[];
  return (Array.isArray(body) ? body[0]! : body).error!.json;
};

/** A body that arrives in chunks without a Content-Length, as a chunked upload does. */
function streamed(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const chunk = new Uint8Array(Math.min(16 * 1024, bytes - sent)).fill(0x20);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

describe('/api/trpc limits', () => {
  it('refuses a body over the limit by its Content-Length with 413, before any context or parse', async () => {
    const counter = { contexts: 0 };
    const body = JSON.stringify(superjson.serialize({ project: 'x'.repeat(limits.maxBodyBytes) }));
    const res = await serve(new Request('http://localhost/api/trpc/annotation.lease', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }, body }), null, counter);
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toMatchObject({ data: { code: 'PAYLOAD_TOO_LARGE' }, message: `the request body is larger than ${limits.maxBodyBytes} bytes` });
    expect(counter.contexts).toBe(0);
  });

  it('counts a streamed body without Content-Length and stops reading past the limit', async () => {
    const counter = { contexts: 0 };
    const body = streamed(10 * limits.maxBodyBytes);
    const res = await serve(new Request('http://localhost/api/trpc/annotation.lease', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit), null, counter);
    expect(res.status).toBe(413);
    expect(counter.contexts).toBe(0);
  });

  it('serves a body under the limit, streamed or not', async () => {
    const user = await makeUser(db.current.handle);
    const counter = { contexts: 0 };
    const json = JSON.stringify(superjson.serialize({ project: 'no-such-project' }));
    const bytes = new TextEncoder().encode(json);
    const stream = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(bytes), c.close()) });
    for (const body of [json, stream]) {
      const res = await serve(new Request('http://localhost/api/trpc/annotation.lease', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit), user, counter);
      // Past the limits: the procedure ran and answered for the project it was asked about.
      expect(res.status).toBe(404);
      expect((await errorOf(res)).message).toBe('no project with slug no-such-project');
    }
    expect(counter.contexts).toBe(2);
  });

  it('refuses a batch of more calls than allowed with 400 and runs none of them', async () => {
    const counter = { contexts: 0 };
    const paths = Array.from({ length: 500 }, () => 'annotation.progress').join(',');
    const res = await serve(new Request(`http://localhost/api/trpc/${paths}?batch=1&input=${encodeURIComponent('{}')}`), null, counter);
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ message: `a batch holds at most ${limits.maxBatchCalls} calls; this one has 500` });
    expect(counter.contexts).toBe(0);
    const allowed = Array.from({ length: limits.maxBatchCalls }, () => 'annotation.progress').join(',');
    const ok = await serve(new Request(`http://localhost/api/trpc/${allowed}?batch=1&input=${encodeURIComponent('{}')}`), null, counter);
    // Within the limit the calls run (and, signed out, are refused one by one).
    expect(ok.status).toBe(401);
    expect(counter.contexts).toBe(1);
  });

  it('derives the default body limit from the message limit, with room for an edited response', () => {
    const { maxBodyBytes, maxBatchCalls } = trpcLimits();
    expect(maxBodyBytes).toBeGreaterThanOrEqual(2 * 1_000_000);
    expect(maxBatchCalls).toBe(50);
  });
});
