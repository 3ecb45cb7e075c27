import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { isDriverTypeFetchFailure, isDriverWriteCrash } from '@/db/availability';
import { createDb, type TDbHandle } from '@/db/client';
import { startEmbeddedPostgres, type TEmbeddedServer } from '@/db/embedded';
import type { TProject } from '@/server/projects/projects';
import { prepareDatabase } from '@/server/setup/installation';
import type { TSessionUser } from '@/server/users/schemas';
import { repoRoot } from '../helpers/app-process';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';

/**
 * The platform under faults: a worker killed in the middle of a job, the database killed under
 * annotators' load and started again, a lease that expires during a submit, and one submission
 * sent ten times at once.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number, log: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${log()}`);
    await sleep(100);
  }
}

describe('a worker killed in the middle of an export', () => {
  const db = setupTestDatabase();
  let dataDir: string;
  const workers: ChildProcess[] = [];
  let output = '';

  const startWorkerProcess = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'workers', 'index.ts')], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: db.current.url, PAIRWISE_DATA_DIR: dataDir, PAIRWISE_PROCESS: 'pairwise-worker' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    workers.push(child);
    return child;
  };

  /** The annotator judges every comparison the project leases them. */
  const judgeEverything = async (api: ReturnType<typeof callerFor>, project: TProject) => {
    for (;;) {
      const [item] = (await api.annotation.lease({ project: project.slug, want: 1 })).items;
      if (!item) return;
      await api.annotation.submit({ handle: item.handle, clientSubmissionId: crypto.randomUUID(), chosenPosition: 0, strength: 'better', timeSpentMs: 1000 });
    }
  };

  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-faults-'));
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await stopSharedQueue();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('is retried within seconds, leaves no temporary file, and writes each judgment once', { timeout: 90_000 }, async () => {
    const { handle } = db.current;
    const [admin, annotator] = [await makeUser(handle, 'admin'), await makeUser(handle, 'annotator')];
    const project = await makeProject(handle, { members: [{ user: annotator, role: 'annotator' }] });
    await importLines(handle, project, comparisonLines(8, 'kill'));
    const caller = (user: TSessionUser) => callerFor(handle, db.current.url, user, path.join(dataDir, 'artifacts'));
    await judgeEverything(caller(annotator), project);

    const first = startWorkerProcess();
    await until('the first worker', async () => output.includes('[worker] ready'), 30_000, () => output);

    // Holds the export in the middle: its file is open, its read of the judgments waits on this lock.
    const blocker = await handle.sql.reserve();
    await blocker`begin`;
    await blocker`lock table judgments in access exclusive mode`;
    const requested = await caller(admin).exports.request({ project: project.slug, format: 'trl' });
    const artifacts = path.join(dataDir, 'artifacts', 'exports');
    const partials = () => (fs.existsSync(artifacts) ? fs.readdirSync(artifacts).filter((f) => f.endsWith('.partial')) : []);
    await until('the export to open its temporary file', async () => partials().length > 0, 20_000, () => output);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    await blocker`rollback`;
    blocker.release();

    const killedAt = Date.now();
    startWorkerProcess();
    const done = await until(
      'the export to be retried and finish',
      async () => {
        const rows = await caller(admin).exports.list({ project: project.slug });
        const row = rows.find((r) => r.id === requested.id);
        return row?.status === 'succeeded' ? row : null;
      },
      45_000,
      () => output,
    );
    const retriedInMs = Date.now() - killedAt;
    console.log(`[faults] export retried and finished ${retriedInMs} ms after its worker was killed`);
    expect(retriedInMs).toBeLessThan(30_000);
    expect(output).toMatch(/its worker stopped, retrying it/);
    expect(done.rowCount).toBe(8);
    expect(partials()).toEqual([]);
    const lines = fs.readFileSync(path.join(dataDir, 'artifacts', done.artifactKey!), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(8);
    expect(new Set(lines.map((l) => (JSON.parse(l) as { metadata: { judgment_id: number } }).metadata.judgment_id)).size).toBe(8);
  });

  it('retries a dataset build whose worker was killed, and the version comes out whole', { timeout: 90_000 }, async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    const { handle } = db.current;
    const [admin, annotator] = [await makeUser(handle, 'admin'), await makeUser(handle, 'annotator')];
    const project = await makeProject(handle, { members: [{ user: annotator, role: 'annotator' }] });
    await importLines(handle, project, comparisonLines(6, 'build-kill'));
    const caller = (user: TSessionUser) => callerFor(handle, db.current.url, user, path.join(dataDir, 'artifacts'));
    await judgeEverything(caller(annotator), project);
    output = '';
    const first = startWorkerProcess();
    await until('the first worker', async () => output.includes('[worker] ready'), 30_000, () => output);

    // Holds the build in the middle: the version is claimed (running), its read of the judgments waits on this lock.
    const blocker = await handle.sql.reserve();
    await blocker`begin`;
    await blocker`lock table judgments in access exclusive mode`;
    const requested = (await caller(admin).datasets.build({ name: 'killed mid-build', spec: { projects: [project.slug] } } as never)) as { id: number };
    await until('the build to start', async () => (await caller(admin).datasets.get({ version: requested.id })).status === 'running', 20_000, () => output);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    await blocker`rollback`;
    blocker.release();

    const killedAt = Date.now();
    startWorkerProcess();
    const done = await until(
      'the build to be retried and finish',
      async () => {
        const version = await caller(admin).datasets.get({ version: requested.id });
        return version.status === 'succeeded' || version.status === 'failed' ? version : null;
      },
      60_000,
      () => output,
    );
    console.log(`[faults] dataset build retried and finished ${Date.now() - killedAt} ms after its worker was killed`);
    expect(done.status).toBe('succeeded');
    expect((done.manifest as { counts: { pairs: number } }).counts.pairs).toBe(6);
    const [row] = await handle.sql<{ n: number }[]>`select count(*)::int as n from dataset_version_judgments where version_id = ${requested.id}`;
    expect(row?.n).toBe(6);
  });
});

describe('annotators while the database is killed and started again', () => {
  let tempDir: string;
  let server: TEmbeddedServer;
  let handle: TDbHandle;
  let url: string;
  let project: TProject;
  const annotators: TSessionUser[] = [];
  const ANNOTATORS = 50;

  // As in the web app and the worker (guardDriverCrashes): the driver's two known throws on a cut
  // connection are survived; anything else still reaches the test runner.
  const driverCrashes: string[] = [];
  const listen = (event: string, listener: (...args: unknown[]) => void) => void process.on(event as 'exit', listener);
  const savedListeners = new Map<'uncaughtException' | 'unhandledRejection', ((...args: unknown[]) => void)[]>();
  const guardEvent = (event: 'uncaughtException' | 'unhandledRejection') => {
    const saved = process.listeners(event as 'exit') as ((...args: unknown[]) => void)[];
    savedListeners.set(event, saved);
    process.removeAllListeners(event);
    listen(event, (error: unknown, ...rest: unknown[]) => {
      if (isDriverWriteCrash(error) || isDriverTypeFetchFailure(error)) return void driverCrashes.push((error as Error).message);
      for (const listener of saved) listener(error, ...rest);
    });
  };

  beforeAll(async () => {
    guardEvent('uncaughtException');
    guardEvent('unhandledRejection');
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-faults-pg-'));
    fs.chmodSync(tempDir, 0o755);
    server = await startEmbeddedPostgres({ dataDir: path.join(tempDir, 'postgres'), password: 'faults' });
    url = server.url;
    await prepareDatabase(url);
    handle = createDb(url, { max: 10, applicationName: 'pairwise-faults' });
    project = await makeProject(handle, { judgmentsRequired: 2 });
    for (let i = 0; i < ANNOTATORS; i++) annotators.push(await makeUser(handle, 'annotator'));
    const { addMember } = await import('@/server/projects/projects');
    for (const a of annotators) await addMember(handle.db, { projectId: project.id, userId: a.id, role: 'annotator' });
    await importLines(handle, project, comparisonLines(400, 'load'));
  }, 120_000);

  afterAll(async () => {
    for (const [event, listeners] of savedListeners) {
      process.removeAllListeners(event);
      for (const listener of listeners) listen(event, listener);
    }
    if (driverCrashes.length) console.log(`[faults] survived ${driverCrashes.length} driver errors on cut connections`);
    await handle?.close().catch(() => {});
    await stopSharedQueue();
    await server?.stop();
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  });

  it('answers 503 within seconds, recovers within seconds of the database, and stores each acknowledged judgment once', { timeout: 120_000 }, async () => {
    const acknowledged = new Map<string, number>();
    const failures: { code: string; ms: number; at: number }[] = [];
    let stop = false;

    const annotate = async (user: TSessionUser) => {
      const caller = callerFor(handle, url, user, path.join(tempDir, 'artifacts'));
      while (!stop) {
        const started = Date.now();
        try {
          const [item] = (await caller.annotation.lease({ project: project.slug, want: 1 })).items;
          if (!item) return;
          const submissionId = crypto.randomUUID();
          const { judgmentId } = await caller.annotation.submit({ handle: item.handle, clientSubmissionId: submissionId, chosenPosition: 0, strength: 'better', timeSpentMs: 500 });
          acknowledged.set(submissionId, judgmentId);
        } catch (error) {
          failures.push({ code: error instanceof TRPCError ? error.code : String(error), ms: Date.now() - started, at: Date.now() });
          await sleep(200);
        }
      }
    };

    const load = annotators.map((a) => annotate(a));
    try {
      await until('the first judgments', async () => acknowledged.size >= ANNOTATORS, 30_000);
      await checkOutageAndRecovery();
    } finally {
      stop = true;
      await Promise.all(load);
    }

    async function checkOutageAndRecovery() {
    // Kill the server as a crash would: no shutdown, connections cut.
    const pid = Number(fs.readFileSync(path.join(tempDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await sleep(6_000);
    const duringOutage = failures.filter((f) => f.at > killedAt + 500);
    expect(duringOutage.length).toBeGreaterThan(0);
    const slowest = Math.max(...duringOutage.map((f) => f.ms));
    console.log(`[faults] ${duringOutage.length} calls failed during the outage, the slowest after ${slowest} ms; codes ${[...new Set(duringOutage.map((f) => f.code))].join(', ')}`);
    expect(duringOutage.every((f) => f.code === 'SERVICE_UNAVAILABLE')).toBe(true);
    expect(slowest).toBeLessThan(3_500);

    const restartAt = Date.now();
    await server.restart();
    const upAt = Date.now();
    const acknowledgedAtRestart = acknowledged.size;
    await until('judgments to be stored again', async () => acknowledged.size > acknowledgedAtRestart + 20, 20_000);
    console.log(`[faults] PostgreSQL restarted in ${upAt - restartAt} ms; annotators were served again ${Date.now() - upAt} ms later`);
    expect(Date.now() - upAt).toBeLessThan(10_000);
    }

    const stored = await handle.sql<{ client_submission_id: string; id: number }[]>`
      select client_submission_id, id::int from judgments where client_submission_id = any(${[...acknowledged.keys()]})`;
    expect(stored).toHaveLength(acknowledged.size);
    for (const row of stored) expect(acknowledged.get(row.client_submission_id)).toBe(row.id);
    const [dupes] = await handle.sql<{ n: number }[]>`
      select count(*)::int as n from (select 1 from judgments group by annotator_id, client_submission_id having count(*) > 1) d`;
    expect(dupes!.n).toBe(0);
    const [over] = await handle.sql<{ n: number }[]>`
      select count(*)::int as n from comparisons c
       where c.project_id = ${project.id} and (select count(*) from judgments j where j.comparison_id = c.id) > c.judgments_required`;
    expect(over!.n).toBe(0);
  });

  it('stores one judgment when the same submission arrives ten times at once', { timeout: 90_000 }, async () => {
    const annotator = annotators[0]!;
    // A pool of its own: this test is about ten racing submits, not about the previous test's
    // pool finding its way back to the restarted server on a busy machine.
    const fresh = createDb(url, { max: 10, applicationName: 'pairwise-faults-idempotency' });
    onTestFinished(() => fresh.close());
    const caller = callerFor(fresh, url, annotator, path.join(tempDir, 'artifacts'));
    const [item] = (await caller.annotation.lease({ project: project.slug, want: 1 })).items;
    expect(item).toBeDefined();
    const submissionId = crypto.randomUUID();
    // Open the pool's connections first, so that the ten submits race each other, not the set-up
    // of ten connections on a busy machine.
    await until('the pool to connect', () => Promise.all(Array.from({ length: 10 }, () => fresh.sql`select 1`)).then(() => true, () => false), 60_000);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => caller.annotation.submit({ handle: item!.handle, clientSubmissionId: submissionId, chosenPosition: 1, strength: 'slightly_better', timeSpentMs: 700 })),
    );
    const ids = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ judgmentId: number }>).value.judgmentId);
    const refusals = results.filter((r) => r.status === 'rejected').map((r) => {
      const reason = (r as PromiseRejectedResult).reason as Error & { cause?: Error & { code?: string; cause?: Error & { code?: string } } };
      return `${String(reason)} ${reason.cause?.code ?? ''} ${reason.cause?.message ?? ''} ${reason.cause?.cause?.code ?? ''} ${reason.cause?.cause?.message ?? ''}`;
    });
    expect(refusals).toEqual([]);
    expect(ids.length).toBe(10);
    expect(new Set(ids).size).toBe(1);
    const [row] = await fresh.sql<{ n: number }[]>`select count(*)::int as n from judgments where client_submission_id = ${submissionId}`;
    expect(row!.n).toBe(1);
  });

  it('refuses a submit whose lease expired and went to another annotator, and takes the new holder’s', async () => {
    const solo = await makeProject(handle, { judgmentsRequired: 1, members: annotators.slice(1, 3).map((user) => ({ user, role: 'annotator' as const })) });
    await importLines(handle, solo, comparisonLines(1, 'expiry'));
    const [first, second] = [annotators[1]!, annotators[2]!].map((u) => callerFor(handle, url, u, path.join(tempDir, 'artifacts')));
    const [mine] = (await first!.annotation.lease({ project: solo.slug, want: 1 })).items;
    await handle.sql`update assignments set expires_at = now() - interval '1 second' where annotator_id = ${annotators[1]!.id} and comparison_id in (select id from comparisons where project_id = ${solo.id})`;
    const [theirs] = (await second!.annotation.lease({ project: solo.slug, want: 1 })).items;
    expect(theirs).toBeDefined();
    await expect(first!.annotation.submit({ handle: mine!.handle, clientSubmissionId: crypto.randomUUID(), chosenPosition: 0, strength: 'better', timeSpentMs: 900 })).rejects.toMatchObject({ code: 'CONFLICT' });
    await second!.annotation.submit({ handle: theirs!.handle, clientSubmissionId: crypto.randomUUID(), chosenPosition: 1, strength: 'better', timeSpentMs: 900 });
    const [row] = await handle.sql<{ n: number }[]>`select count(*)::int as n from judgments j join comparisons c on c.id = j.comparison_id where c.project_id = ${solo.id}`;
    expect(row!.n).toBe(1);
  });
});
