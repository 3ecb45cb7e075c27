import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TMessage } from '@/db/schema';
import { strengths } from '@/server/annotation/strengths';
import { localArtifactStore, type TArtifactStore } from '@/server/artifacts/store';
import type { TExport } from '@/server/exports/exports';
import type { TPreferencePair as TTrlPreferenceRow } from '@/server/exports/preference-pairs';
import { DEAD_LETTER_QUEUE, jobs } from '@/server/jobs/queue';
import type { TProject } from '@/server/projects/projects';
import type { TSessionUser } from '@/server/users/schemas';
import { startWorker, type TRunningWorker } from '@/workers/run-worker';
import { setupTestDatabase } from '../helpers/db';
import { resolveHandle } from '../helpers/handles';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';

const db = setupTestDatabase();

let workerDir: string;
let webDir: string;
let store: TArtifactStore;
let worker: TRunningWorker | undefined;
const workerLog: string[] = [];

beforeAll(async () => {
  workerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-worker-artifacts-'));
  // The web side's store: the worker must not write here.
  webDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-web-artifacts-'));
  store = localArtifactStore(workerDir);
  worker = await startWorker(db.current.url, { db: db.current.handle, store }, (line) => workerLog.push(line));
});

afterAll(async () => {
  await worker?.stop();
  await stopSharedQueue();
  fs.rmSync(workerDir, { recursive: true, force: true });
  fs.rmSync(webDir, { recursive: true, force: true });
});

const caller = (user: TSessionUser) => callerFor(db.current.handle, db.current.url, user, webDir);

async function until<T>(what: string, probe: () => Promise<T | null | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; worker log:\n${workerLog.join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Polls exports.list, as the admin page does, until the export has finished one way or the other. */
function finished(admin: TSessionUser, project: TProject, exportId: number): Promise<TExport> {
  return until(`export ${exportId} to finish`, async () => {
    const rows = await caller(admin).exports.list({ project: project.slug });
    const row = rows.find((r) => r.id === exportId);
    return row && (row.status === 'succeeded' || row.status === 'failed') ? row : null;
  });
}

/** comparisonLines' responses say which model wrote them: "answer <prefix> <i> from m1". */
const modelOf = (messages: TMessage[]) => messages[0]!.content.match(/from (m\d)$/)![1]!;

async function readArtifact(key: string): Promise<string> {
  let text = '';
  for await (const chunk of await store.read(key)) text += String(chunk);
  return text;
}

function webDirFiles(): string[] {
  return fs.readdirSync(webDir, { recursive: true }).map(String);
}

describe('the export-project job, run by the worker', () => {
  it('writes one TRL line per judgment, chosen and rejected as the annotator picked them in the shown order', async () => {
    const { handle } = db.current;
    const [admin, annotator] = [await makeUser(handle, 'admin'), await makeUser(handle, 'annotator')];
    const project = await makeProject(handle, { members: [{ user: annotator, role: 'annotator' }] });
    await importLines(handle, project, comparisonLines(6, 'job'));

    // TRL training lines: the pair, its metadata with one type per key (see typed-metadata.ts).
    const expected: (Omit<TTrlPreferenceRow, 'metadata'> & { metadata: Record<string, unknown> })[] = [];
    for (let i = 0; ; i++) {
      const { items } = await caller(annotator).annotation.lease({ project: project.slug, want: 1 });
      const [item] = items;
      if (!item) break;
      const position = i % 3 === 0 ? 1 : 0;
      const strength = strengths[i % strengths.length]!;
      const { judgmentId } = await caller(annotator).annotation.submit({
        handle: item.handle,
        clientSubmissionId: crypto.randomUUID(),
        chosenPosition: position,
        strength,
        timeSpentMs: 2000,
      });
      const [chosen, rejected] = [item.responses[position]!.messages, item.responses[1 - position]!.messages];
      expected.push({
        prompt: item.prompt,
        chosen,
        rejected,
        metadata: {
          judgment_id: judgmentId,
          comparison_id: (await resolveHandle(db.current.handle, item.handle, annotator.id)).comparisonId,
          comparison_external_id: `job-${item.prompt[0]!.content.split(' ').at(-1)}`,
          annotator_id: annotator.id,
          strength,
          relation: 'chosen>rejected',
          flags: [],
          chosen_model: modelOf(chosen),
          rejected_model: modelOf(rejected),
          chosen_origin: 'model',
          rejected_origin: 'model',
          // A training file's metadata has one type per key: no guidelines version is 0, no review or source ''.
          guidelines_version: 0,
          review: '',
          source: '',
        },
      });
    }
    expect(expected).toHaveLength(6);

    const requested = await caller(admin).exports.request({ project: project.slug });
    expect(requested).toMatchObject({ status: 'queued', format: 'trl', rowCount: null, artifactKey: null });

    const row = await finished(admin, project, requested.id);
    expect(row).toMatchObject({ status: 'succeeded', rowCount: 6, error: null, artifactKey: `exports/${project.slug}-trl-${requested.id}.jsonl` });
    expect(row.startedAt).not.toBeNull();
    expect(row.finishedAt).not.toBeNull();

    const text = await readArtifact(row.artifactKey!);
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    const rows = lines.map((l) => JSON.parse(l) as TTrlPreferenceRow);
    for (const [i, r] of rows.entries()) {
      expect(Object.keys(r).sort()).toEqual(['chosen', 'metadata', 'prompt', 'rejected']);
      expect(r.prompt).toEqual([{ role: 'user', content: expect.stringMatching(/^prompt job \d$/) }]);
      expect(r).toEqual(expected[i]);
      // Both answers belong to the prompt of their line.
      const n = r.prompt[0]!.content.split(' ').at(-1);
      expect([r.chosen[0]!.content, r.rejected[0]!.content].sort()).toEqual([`answer job ${n} from m1`, `answer job ${n} from m2`]);
    }
    // The web process's store was never written: the worker uses its own.
    expect(webDirFiles()).toEqual([]);
  });

  it('exports a project without judgments as an empty file with rowCount 0', async () => {
    const { handle } = db.current;
    const admin = await makeUser(handle, 'admin');
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(2, 'unjudged'));

    const requested = await caller(admin).exports.request({ project: project.slug });
    const row = await finished(admin, project, requested.id);
    expect(row).toMatchObject({ status: 'succeeded', rowCount: 0, error: null });
    expect(row.artifactKey).toBe(`exports/${project.slug}-trl-${requested.id}.jsonl`);
    expect(await store.size(row.artifactKey!)).toBe(0);
    expect(await readArtifact(row.artifactKey!)).toBe('');
  });

  it('leaves a finished export alone when its job runs again (a retry)', async () => {
    const { handle } = db.current;
    const [admin, annotator] = [await makeUser(handle, 'admin'), await makeUser(handle, 'annotator')];
    const project = await makeProject(handle, { members: [{ user: annotator, role: 'annotator' }] });
    await importLines(handle, project, comparisonLines(1, 'again'));
    const { items } = await caller(annotator).annotation.lease({ project: project.slug, want: 1 });
    await caller(annotator).annotation.submit({
      handle: items[0]!.handle,
      clientSubmissionId: crypto.randomUUID(),
      chosenPosition: 0,
      strength: 'better',
      timeSpentMs: 1000,
    });
    const requested = await caller(admin).exports.request({ project: project.slug });
    const first = await finished(admin, project, requested.id);
    expect(first).toMatchObject({ status: 'succeeded', rowCount: 1 });
    const before = await readArtifact(first.artifactKey!);

    // More work arrives after the export, then the same job is delivered once more.
    await importLines(handle, project, comparisonLines(1, 'later'));
    const [later] = (await caller(annotator).annotation.lease({ project: project.slug, want: 1 })).items;
    await caller(annotator).annotation.submit({
      handle: later!.handle,
      clientSubmissionId: crypto.randomUUID(),
      chosenPosition: 1,
      strength: 'better',
      timeSpentMs: 1000,
    });
    const jobId = await worker!.boss.send(jobs.exportProject.name, { exportId: requested.id });
    expect(jobId).toBeTruthy();
    await until('the repeated job to complete', async () => {
      const job = await worker!.boss.getJobById(jobs.exportProject.name, jobId!);
      return job?.state === 'completed' ? job : null;
    });

    const [after] = (await caller(admin).exports.list({ project: project.slug })).filter((r) => r.id === requested.id);
    expect(after).toEqual(first);
    expect(await readArtifact(first.artifactKey!)).toBe(before);
  });

  it('sends a job with an invalid payload to the dead-letter queue, once, and touches no export', async () => {
    const { handle } = db.current;
    const boss = worker!.boss;
    const exportsBefore = await handle.sql`select * from exports order by id`;

    const jobId = await boss.send(jobs.exportProject.name, { exportId: 'x' });
    expect(jobId).toBeTruthy();
    const original = await until('the invalid job to be handled', async () => {
      const job = await boss.getJobById(jobs.exportProject.name, jobId!);
      return job && job.state !== 'created' && job.state !== 'active' ? job : null;
    });
    // Not retried: a payload that fails validation can never succeed.
    expect(original.state).toBe('completed');
    expect(original.retryCount).toBe(0);

    await until('a dead letter', async () => ((await boss.getQueueSize(DEAD_LETTER_QUEUE)) > 0 ? true : null));
    const letters = await boss.fetch<{ queue: string; jobId: string; data: unknown; error: string }>(DEAD_LETTER_QUEUE, { batchSize: 20 });
    const letter = letters.find((l) => l.data.jobId === jobId);
    expect(letter?.data).toMatchObject({ queue: 'export-project', jobId, data: { exportId: 'x' } });
    expect(letter?.data.error).toContain('exportId');
    expect(letters.filter((l) => l.data.jobId === jobId)).toHaveLength(1);

    expect(await handle.sql`select * from exports order by id`).toEqual(exportsBefore);
  });
});
