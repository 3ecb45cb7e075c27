import { TRPCError } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { localArtifactStore } from '@/server/artifacts/store';
import { signInWithPassword } from '@/server/auth/sign-in';
import type { TSignInThrottleSettings } from '@/server/auth/sign-in-throttle';
import { hitRateLimit, retryAfterOf } from '@/server/limits/rate-limit';
import type { TProject } from '@/server/projects/projects';
import { appRouter } from '@/server/root';
import type { TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';

// Read lazily by server/env.ts, so they hold for this file's process.
process.env.PAIRWISE_MAX_CONCURRENT_HASHES = '1';
process.env.PAIRWISE_MAX_QUEUED_HASHES = '1';
process.env.PAIRWISE_RATE_LIMIT_STATS = '3/60';

/**
 * argon2's verify, counted, and held while a test closes the gate: so a test can see which
 * attempts reach a hash, and hold the hashing slots taken for as long as it needs.
 */
const argon = vi.hoisted(() => ({ verifications: 0, gate: null as Promise<void> | null }));
vi.mock('@node-rs/argon2', async (importOriginal) => {
  const original = await importOriginal<typeof import('@node-rs/argon2')>();
  return {
    ...original,
    verify: async (...args: Parameters<typeof original.verify>) => {
      argon.verifications++;
      if (argon.gate) await argon.gate;
      return original.verify(...args);
    },
  };
});

const db = setupTestDatabase();
const PASSWORD = 'correct horse battery'; // what makeUser sets

const quick: TSignInThrottleSettings = { accountFailures: 3, addressFailures: 100, lockS: 1, maxLockS: 2, forgetS: 3600 };

/** One after the other: this file allows a single password hash at a time. */
async function makeUsers(n: number): Promise<TSessionUser[]> {
  const made: TSessionUser[] = [];
  for (let i = 0; i < n; i++) made.push(await makeUser(db.current.handle));
  return made;
}

let nextAddress = 1;
const freshAddress = () => `192.0.2.${nextAddress++}`;

afterAll(async () => {
  await stopSharedQueue();
});

describe('sign-in backoff', () => {
  it('locks an account after N wrong passwords: the right one is refused, without hashing, until the delay passes', async () => {
    const d = db.current.handle.db;
    const user = await makeUser(db.current.handle);
    const address = freshAddress();
    for (let i = 0; i < quick.accountFailures; i++) {
      expect(await signInWithPassword(d, { email: user.email, password: `wrong ${i}`, address }, quick)).toEqual({ ok: false, reason: 'invalid' });
    }
    const before = argon.verifications;
    const refused = await signInWithPassword(d, { email: user.email, password: PASSWORD, address: freshAddress() }, quick);
    expect(refused).toEqual({ ok: false, reason: 'throttled', retryAfterS: 1 });
    expect(argon.verifications).toBe(before); // no argon2 run for a locked account

    await new Promise((r) => setTimeout(r, 1100));
    const accepted = await signInWithPassword(d, { email: user.email, password: PASSWORD, address }, quick);
    expect(accepted).toMatchObject({ ok: true, user: { id: user.id } });

    // Success cleared the account's count: one more failure does not lock it again.
    await signInWithPassword(d, { email: user.email, password: 'wrong again', address }, quick);
    expect(await signInWithPassword(d, { email: user.email, password: PASSWORD, address }, quick)).toMatchObject({ ok: true });
  });

  it('doubles the lock with each further failure, up to the cap, and treats the email case-insensitively', async () => {
    const d = db.current.handle.db;
    const user = await makeUser(db.current.handle);
    const settings = { ...quick, lockS: 10, maxLockS: 25 };
    const waits: (number | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      await db.current.handle.sql`update sign_in_failures set locked_until = null where key = ${`account:${user.email}`}`; // step past each lock
      const email = i % 2 ? user.email.toUpperCase() : user.email;
      await signInWithPassword(d, { email, password: 'wrong', address: freshAddress() }, settings);
      const [row] = await db.current.handle.sql<{ wait: number | null }[]>`
        select ceil(extract(epoch from locked_until - now()))::int as wait from sign_in_failures where key = ${`account:${user.email}`}`;
      waits.push(row?.wait ?? undefined);
    }
    expect(waits).toEqual([undefined, undefined, 10, 20, 25, 25]);
  });

  it('locks a client address that fails on many accounts, with its own threshold', async () => {
    const d = db.current.handle.db;
    const settings = { ...quick, addressFailures: 4 };
    const address = freshAddress();
    const victims = await makeUsers(5);
    for (const v of victims.slice(0, 4)) await signInWithPassword(d, { email: v.email, password: 'guess', address }, settings);
    expect(await signInWithPassword(d, { email: victims[4]!.email, password: PASSWORD, address }, settings)).toMatchObject({ ok: false, reason: 'throttled' });
    // The same account from elsewhere is fine: the lock is on the address.
    expect(await signInWithPassword(d, { email: victims[4]!.email, password: PASSWORD, address: freshAddress() }, settings)).toMatchObject({ ok: true });
  });

  it('logs one line per refused sign-in, without the email or a stack', async () => {
    const user = await makeUser(db.current.handle);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await signInWithPassword(db.current.handle.db, { email: user.email, password: 'nope', address: '198.51.100.7' }, quick);
      expect(warn).toHaveBeenCalledTimes(1);
      const line = String(warn.mock.calls[0]![0]);
      expect(line).toMatch(/^\[auth\] sign-in refused: account [0-9a-f]{12}, address 198\.51\.100\.7, wrong email or password$/);
      expect(line).not.toContain(user.email);
      expect(error).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });
});

describe('password hashing cap', () => {
  it('refuses attempts beyond the running and queued hashes at once, instead of queuing them', async () => {
    const d = db.current.handle.db;
    const users = await makeUsers(6);
    let open!: () => void;
    argon.gate = new Promise((resolve) => (open = resolve));
    const settled: string[] = [];
    const attempts = users.map((u) =>
      signInWithPassword(d, { email: u.email, password: PASSWORD, address: freshAddress() }, quick).then((r) => {
        settled.push(r.ok ? 'ok' : r.reason);
        return r;
      }),
    );
    // While one hash is held at the gate and one attempt waits for its slot, the rest are refused.
    await vi.waitFor(() => expect(settled).toEqual(['busy', 'busy', 'busy', 'busy']), { timeout: 5000 });
    argon.gate = null;
    open();
    const results = await Promise.all(attempts);
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    expect(results.find((r) => !r.ok)).toEqual({ ok: false, reason: 'busy', retryAfterS: 5 });
  });
});

describe('rate limits', () => {
  let project: TProject;
  let admin: TSessionUser;

  beforeAll(async () => {
    admin = await makeUser(db.current.handle, 'annotator');
    project = await makeProject(db.current.handle, { members: [{ user: admin, role: 'admin' }] });
  });

  it('counts in one statement per window, exactly under concurrency', async () => {
    const d = db.current.handle.db;
    const hits = await Promise.all(Array.from({ length: 12 }, () => hitRateLimit(d, 'test:concurrent', { limit: 10, windowS: 3600 })));
    expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(hits.filter((h) => h.allowed)).toHaveLength(10);
    for (const h of hits) expect(h.retryAfterS).toBeGreaterThanOrEqual(1);
  });

  it('refuses a statistics procedure past the per-user limit with TOO_MANY_REQUESTS saying when to retry; others are not affected', async () => {
    const caller = callerFor(db.current.handle, db.current.url, admin);
    for (let i = 0; i < 3; i++) await caller.quality.dashboard({ project: project.slug });
    const refused = await caller.quality.dashboard({ project: project.slug }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TRPCError);
    expect((refused as TRPCError).code).toBe('TOO_MANY_REQUESTS');
    expect((refused as TRPCError).message).toMatch(/too many stats requests \(at most 3 in 60 s\); try again in \d+ s/);
    // The limit is per user: another admin of the project is still served.
    const other = await makeUser(db.current.handle, 'admin');
    await expect(callerFor(db.current.handle, db.current.url, other).quality.dashboard({ project: project.slug })).resolves.toBeDefined();
  });

  it('answers 429 with Retry-After over HTTP', async () => {
    const user = await makeUser(db.current.handle, 'admin');
    const handler = (req: Request) =>
      fetchRequestHandler({
        endpoint: '/api/trpc',
        req,
        router: appRouter,
        createContext: () => ({ db: db.current.handle, user, queue: () => Promise.reject(new Error('no queue here')), store: localArtifactStore('/tmp/pairwise-test-artifacts') }),
        // As app/api/trpc/[trpc]/route.ts does.
        responseMeta: ({ errors }) => {
          const retryAfter = retryAfterOf(errors);
          return retryAfter === null ? {} : { headers: { 'Retry-After': String(retryAfter) } };
        },
      });
    const url = `http://localhost/api/trpc/dataStats.get?input=${encodeURIComponent(JSON.stringify(superjson.serialize({ project: project.slug })))}`;
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await handler(new Request(url));
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const retryAfter = Number(last!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await last!.json()) as { error: { json: { message: string } } };
    expect(body.error.json.message).toContain(`try again in ${retryAfter} s`);
  });
});
