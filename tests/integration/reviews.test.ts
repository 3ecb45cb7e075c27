import { TRPCError } from '@trpc/server';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseComparisons } from '@/server/annotation/lease';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import type { TProject } from '@/server/projects/projects';
import { consensusForProject } from '@/server/quality/consensus';
import { reviewQueue, reviewSampleCondition, reviewStats, submitReview, type TReviewItem } from '@/server/quality/reviews';
import type { TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';
import { castVote, comparisonId } from '../helpers/votes';
import { refusal } from '../helpers/refusal';

const db = setupTestDatabase();

afterAll(async () => {
  await stopSharedQueue();
});

async function trpcRefusal(call: Promise<unknown>): Promise<TRPCError> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, 'expected the call to be refused').toBeInstanceOf(TRPCError);
  return error as TRPCError;
}

let project: TProject;
let a1: TSessionUser;
let a2: TSessionUser;
let reviewer: TSessionUser;
let admin: TSessionUser;
let outsider: TSessionUser;
/** Judgment ids by "<comparison external id>/<annotator>". */
const judgment: Record<string, number> = {};

const setSampleRate = (rate: number) => db.current.handle.db.execute(sql`update projects set review_sample_rate = ${rate} where id = ${project.id}`);
const queueOf = (user: TSessionUser, limit = 50) => reviewQueue(db.current.handle.db, { projectId: project.id, reviewerId: user.id, limit });
const summary = (items: TReviewItem[]) => items.map((i) => `${i.externalId}/${i.annotator.email.split('-')[0]}#${i.judgmentId}:${i.reasons.join('+')}`);
const name = (key: string) => {
  const [ext, who] = key.split('/');
  const user = { a1, a2, reviewer }[who as 'a1' | 'a2' | 'reviewer'];
  return `${ext}/${user.email.split('-')[0]}#${judgment[key]}`;
};

beforeAll(async () => {
  const { handle } = db.current;
  [a1, a2, reviewer, admin, outsider] = await Promise.all([makeUser(handle), makeUser(handle), makeUser(handle, 'reviewer'), makeUser(handle), makeUser(handle)]);
  project = await makeProject(handle, {
    // a1 and a2 lease everything at once (castVote), so leave room for the reviewer's vote.
    judgmentsRequired: 3,
    members: [
      { user: a1, role: 'annotator' },
      { user: a2, role: 'annotator' },
      { user: reviewer, role: 'reviewer' },
      { user: admin, role: 'admin' },
    ],
  });
  await setSampleRate(0);
  await importLines(handle, project, comparisonLines(4, 'q'));
  const vote = async (ext: string, who: 'a1' | 'a2' | 'reviewer', choice: 0 | 1, extra: Parameters<typeof castVote>[6] = {}) => {
    const user = { a1, a2, reviewer }[who];
    judgment[`${ext}/${who}`] = await castVote(handle, project, user, ext, choice, 'better', extra);
  };
  // q-0: unanimous, a1's judgment flagged with a rationale.
  await vote('q-0', 'a1', 0, { flags: ['unsafe'], rationale: 'the second answer gives dangerous advice' });
  await vote('q-0', 'a2', 0);
  // q-1: a tie, both judgments conflicting.
  await vote('q-1', 'a1', 0);
  await vote('q-1', 'a2', 1);
  // q-2: unanimous, nothing special.
  await vote('q-2', 'a1', 1);
  await vote('q-2', 'a2', 1);
  // q-3: the reviewer annotated too, and flagged it.
  await vote('q-3', 'reviewer', 1, { flags: ['both_bad'] });
  await vote('q-3', 'a1', 1);
});

describe('the review queue', () => {
  it('holds flagged, then conflicting judgments, with their reasons, never the reviewer’s own', async () => {
    const queue = await queueOf(reviewer);
    expect(summary(queue)).toEqual([`${name('q-0/a1')}:flagged`, `${name('q-1/a1')}:conflict`, `${name('q-1/a2')}:conflict`]);
    // Another reviewer (an admin) sees the reviewer's flagged judgment.
    expect(summary(await queueOf(admin))).toContain(`${name('q-3/reviewer')}:flagged`);
  });

  it('shows the prompt, the responses in canonical order, the choice, strength, rationale, flags, annotator and votes', async () => {
    const [first] = await queueOf(reviewer);
    expect(first).toMatchObject({
      judgmentId: judgment['q-0/a1'],
      comparisonId: await comparisonId(db.current.handle, project, 'q-0'),
      prompt: [{ role: 'user', content: 'prompt q 0' }],
      responses: [{ messages: [{ role: 'assistant', content: 'answer q 0 from m1' }] }, { messages: [{ role: 'assistant', content: 'answer q 0 from m2' }] }],
      chosen: 0,
      strength: 'better',
      rationale: 'the second answer gives dangerous advice',
      flags: ['unsafe'],
      edit: null,
      annotator: { id: a1.id, email: a1.email },
      votes: [2, 0],
    });
    // Model names are withheld.
    expect(JSON.stringify(first)).not.toContain('"m1"');
    const conflict = (await queueOf(reviewer))[1]!;
    expect(conflict.votes).toEqual([1, 1]);
  });

  it('samples deterministically at the project’s rate', async () => {
    await setSampleRate(1);
    expect(summary(await queueOf(reviewer))).toEqual([
      `${name('q-0/a1')}:flagged+sampled`,
      `${name('q-1/a1')}:conflict+sampled`,
      `${name('q-1/a2')}:conflict+sampled`,
      `${name('q-0/a2')}:sampled`,
      `${name('q-2/a1')}:sampled`,
      `${name('q-2/a2')}:sampled`,
      `${name('q-3/a1')}:sampled`,
    ]);
    expect(await queueOf(reviewer, 2)).toHaveLength(2);
    await setSampleRate(0);
    expect(await queueOf(reviewer)).toHaveLength(3);
  });

  it('the sampling hash hits the rate and only adds judgments as the rate grows', async () => {
    const rows = await db.current.handle.db.execute<{ at5: number; at30: number; at30_without5: number }>(sql`
      select count(*) filter (where ${reviewSampleCondition(sql`g`, sql`0.05::real`)})::int as at5,
        count(*) filter (where ${reviewSampleCondition(sql`g`, sql`0.3::real`)})::int as at30,
        count(*) filter (where ${reviewSampleCondition(sql`g`, sql`0.05::real`)} and not ${reviewSampleCondition(sql`g`, sql`0.3::real`)})::int as at30_without5
      from generate_series(1::bigint, 20000::bigint) g`);
    const { at5, at30, at30_without5 } = rows[0]!;
    expect(at5 / 20000).toBeGreaterThan(0.04);
    expect(at5 / 20000).toBeLessThan(0.06);
    expect(at30 / 20000).toBeGreaterThan(0.28);
    expect(at30 / 20000).toBeLessThan(0.32);
    expect(at30_without5).toBe(0);
  });
});

describe('submitting reviews', () => {
  it('refuses bad input with the field, the reviewer’s own judgment, rankings and other projects’ judgments', async () => {
    const { handle } = db.current;
    const base = { projectId: project.id, reviewerId: reviewer.id, judgmentId: judgment['q-1/a1']! };
    await refusal(submitReview(handle.db, { ...base, decision: 'correct', correctedChoice: 1 }), 'BAD_REQUEST', 'correctedStrength');
    await refusal(submitReview(handle.db, { ...base, decision: 'correct', correctedStrength: 'better' }), 'BAD_REQUEST', 'correctedChoice');
    await refusal(submitReview(handle.db, { ...base, decision: 'accept', correctedChoice: 1 }), 'BAD_REQUEST', 'correctedChoice');
    await refusal(submitReview(handle.db, { ...base, decision: 'correct', correctedChoice: 2, correctedStrength: 'better' }), 'BAD_REQUEST', 'correctedChoice');
    await refusal(submitReview(handle.db, { ...base, decision: 'maybe' as 'accept' }), 'BAD_REQUEST', 'decision');
    // A "correction" that repeats the annotator's verdict is an accept.
    await refusal(submitReview(handle.db, { ...base, decision: 'correct', correctedChoice: 0, correctedStrength: 'better' }), 'BAD_REQUEST', 'correctedChoice');
    await refusal(submitReview(handle.db, { ...base, judgmentId: judgment['q-3/reviewer']!, decision: 'accept' }), 'FORBIDDEN', 'judgmentId');
    await refusal(submitReview(handle.db, { ...base, judgmentId: 999_999_999, decision: 'accept' }), 'NOT_FOUND', 'judgmentId');

    const other = await makeProject(handle, { members: [{ user: a1, role: 'annotator' }] });
    await importLines(handle, other, [
      JSON.stringify({ id: 'r-0', prompt: 'rank these', responses: ['one', 'two', 'three'].map((content) => ({ content })) }),
      ...comparisonLines(1, 'o'),
    ]);
    const foreign = await castVote(handle, other, a1, 'o-0', 0, 'better');
    await refusal(submitReview(handle.db, { ...base, judgmentId: foreign, decision: 'accept' }), 'NOT_FOUND', 'judgmentId');
    const [ranking] = (await leaseComparisons(handle.db, { projectId: other.id, annotatorId: a1.id, leaseSeconds: 900, want: 5 })).filter((i) => i.responses.length === 3);
    const ranked = await submitJudgment(handle.db, { annotatorId: a1.id, assignmentId: ranking!.assignmentId, clientSubmissionId: crypto.randomUUID(), ranking: [[0], [1], [2]], timeSpentMs: 10 });
    await refusal(submitReview(handle.db, { projectId: other.id, reviewerId: reviewer.id, judgmentId: ranked.judgmentId, decision: 'accept' }), 'BAD_REQUEST', 'judgmentId');
  });

  it('stores one review per judgment; reviewed judgments leave the queue; a correction can settle a conflict', async () => {
    const { handle } = db.current;
    const { reviewId } = await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: judgment['q-0/a1']!, decision: 'accept', note: '  fine  ' });
    expect(reviewId).toBeGreaterThan(0);
    await refusal(submitReview(handle.db, { projectId: project.id, reviewerId: admin.id, judgmentId: judgment['q-0/a1']!, decision: 'reject' }), 'CONFLICT', 'judgmentId');
    const [stored] = await handle.sql<{ decision: string; note: string; reviewer_id: number }[]>`select decision, note, reviewer_id::int from reviews where id = ${reviewId}`;
    expect(stored).toEqual({ decision: 'accept', note: 'fine', reviewer_id: reviewer.id });
    expect(summary(await queueOf(reviewer))).toEqual([`${name('q-1/a1')}:conflict`, `${name('q-1/a2')}:conflict`]);

    // Correcting a1 on the tied q-1 to the second response settles it: a2's judgment is no longer a conflict.
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: judgment['q-1/a1']!, decision: 'correct', correctedChoice: 1, correctedStrength: 'slightly_better', note: 'the first answer is wrong' });
    expect(await queueOf(reviewer)).toEqual([]);
    const q1 = (await consensusForProject(handle.db, project.id, { weighting: 'majority' })).items.find((i) => i.externalId === 'q-1');
    expect(q1).toMatchObject({ votes: [0, 2], choice: 1, status: 'unanimous' });
    // The judgment row is as the annotator left it.
    const [original] = await handle.sql<{ chosen_position: number; strength: string }[]>`select chosen_position, strength from judgments where id = ${judgment['q-1/a1']!}`;
    expect(original!.strength).toBe('better');

    // The admin rejects the reviewer's own flagged judgment.
    await submitReview(handle.db, { projectId: project.id, reviewerId: admin.id, judgmentId: judgment['q-3/reviewer']!, decision: 'reject' });
    expect(await queueOf(admin)).toEqual([]);
  });

  it('reports decisions, rates and every annotator’s outcomes to admins', async () => {
    const stats = await reviewStats(db.current.handle.db, project.id);
    expect(stats).toMatchObject({
      judgments: 8,
      reviewed: 3,
      reviewedShare: 3 / 8,
      decisions: { accept: 1, reject: 1, correct: 1 },
      rates: { accept: 1 / 3, reject: 1 / 3, correct: 1 / 3 },
      pending: { total: 0, flagged: 0, conflict: 0, sampled: 0 },
      conflicts: 0,
    });
    expect(stats.byReviewer.map((r) => [r.email, r.reviewed, r.accept, r.reject, r.correct, r.acceptanceRate])).toEqual(
      [
        [reviewer.email, 2, 1, 0, 1, 0.5],
        [admin.email, 1, 0, 1, 0, 0],
      ],
    );
    const byAnnotator = Object.fromEntries(stats.byAnnotator.map((a) => [a.email, [a.judgments, a.reviewed, a.accepted, a.rejected, a.corrected]]));
    expect(byAnnotator).toEqual({ [a1.email]: [4, 2, 1, 0, 1], [a2.email]: [3, 0, 0, 0, 0], [reviewer.email]: [1, 1, 0, 1, 0] });
    expect(stats.recent[0]).toMatchObject({ decision: 'reject', reviewer: admin.email, annotator: reviewer.email, correction: null });
    expect(stats.recent[1]).toMatchObject({ decision: 'correct', original: { choice: 0, strength: 'better' }, correction: { choice: 1, strength: 'slightly_better' }, note: 'the first answer is wrong' });

    await setSampleRate(1);
    const sampled = await reviewStats(db.current.handle.db, project.id);
    expect(sampled.pending).toEqual({ total: 5, flagged: 0, conflict: 0, sampled: 5 });
    await setSampleRate(0);
  });
});

describe('through the tRPC caller', () => {
  const caller = (user: TSessionUser) => callerFor(db.current.handle, db.current.url, user);

  it('lets reviewers and admins review, admins see stats and consensus; annotators are forbidden, outsiders find nothing', async () => {
    const slug = project.slug;
    await setSampleRate(1);
    const queue = await caller(reviewer).reviews.queue({ project: slug });
    expect(queue.map((i) => i.judgmentId)).toContain(judgment['q-2/a1']);
    await caller(reviewer).reviews.submit({ project: slug, judgmentId: judgment['q-2/a1']!, decision: 'accept' });
    expect((await caller(admin).reviews.queue({ project: slug })).map((i) => i.judgmentId)).not.toContain(judgment['q-2/a1']);

    const bad = await trpcRefusal(caller(reviewer).reviews.submit({ project: slug, judgmentId: judgment['q-2/a2']!, decision: 'correct', correctedChoice: 0 }));
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.message).toMatch(/strength/);
    expect((await trpcRefusal(caller(reviewer).reviews.submit({ project: slug, judgmentId: judgment['q-2/a1']!, decision: 'reject' }))).code).toBe('CONFLICT');

    // Calls as thunks: each is started only when awaited, so no refusal goes unhandled.
    for (const call of [
      () => caller(a1).reviews.queue({ project: slug }),
      () => caller(a1).reviews.submit({ project: slug, judgmentId: judgment['q-2/a2']!, decision: 'accept' }),
      () => caller(a1).reviews.stats({ project: slug }),
      () => caller(reviewer).reviews.stats({ project: slug }),
      () => caller(reviewer).reviews.consensus({ project: slug }),
      () => caller(reviewer).reviews.conflicts({ project: slug }),
    ]) {
      expect((await trpcRefusal(call())).code).toBe('FORBIDDEN');
    }
    for (const call of [
      () => caller(outsider).reviews.queue({ project: slug }),
      () => caller(outsider).reviews.submit({ project: slug, judgmentId: judgment['q-2/a2']!, decision: 'accept' }),
      () => caller(outsider).reviews.stats({ project: slug }),
      () => caller(outsider).reviews.consensus({ project: slug }),
    ]) {
      expect((await trpcRefusal(call())).code).toBe('NOT_FOUND');
    }

    expect((await caller(admin).reviews.stats({ project: slug })).decisions.accept).toBe(2);
    const consensus = await caller(admin).reviews.consensus({ project: slug, weighting: 'trust', limit: 2 });
    expect(consensus.items).toHaveLength(2);
    expect(consensus.nextCursor).not.toBeNull();
    expect(await caller(admin).reviews.conflicts({ project: slug })).toEqual({ total: 0, items: [] });
    await setSampleRate(0);
  });
});
