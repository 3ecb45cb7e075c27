import { beforeAll, describe, expect, it } from 'vitest';
import type { TStrength } from '@/server/annotation/strengths';
import type { TProject } from '@/server/projects/projects';
import { annotatorTrustWeights, consensusForProject, listConflicts, type TConsensus } from '@/server/quality/consensus';
import { markGold } from '@/server/quality/gold';
import { submitReview } from '@/server/quality/reviews';
import type { TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { comparisonLines, importLines, makeProject, makeUser } from '../helpers/factories';
import { castVote, comparisonId } from '../helpers/votes';

const db = setupTestDatabase();

const S: TStrength = 'significantly_better';
const B: TStrength = 'better';
const SL: TStrength = 'slightly_better';
const M: TStrength = 'marginally_better';

/** Everything of a project's consensus, page after page. */
async function allConsensus(project: TProject, weighting: 'majority' | 'trust', limit = 100): Promise<Map<number, TConsensus>> {
  const out = new Map<number, TConsensus>();
  let cursor: number | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await consensusForProject(db.current.handle.db, project.id, { weighting, limit, cursor });
    for (const item of page.items) out.set(item.comparisonId, item);
    if (page.nextCursor === null) return out;
    cursor = page.nextCursor;
  }
  throw new Error('too many pages');
}

describe('majority consensus', () => {
  let project: TProject;
  let annotators: TSessionUser[];
  let reviewer: TSessionUser;
  const id = (ext: string) => comparisonId(db.current.handle, project, ext);

  beforeAll(async () => {
    const { handle } = db.current;
    annotators = await Promise.all(Array.from({ length: 5 }, () => makeUser(handle)));
    reviewer = await makeUser(handle, 'reviewer');
    project = await makeProject(handle, { judgmentsRequired: 5, members: [...annotators.map((user) => ({ user, role: 'annotator' as const })), { user: reviewer, role: 'reviewer' }] });
    await importLines(handle, project, comparisonLines(7, 'c'));
    const votes: [string, (0 | 1)[], TStrength[]][] = [
      // 4 vs 1; the majority's strengths, weakest first: marginally, slightly | better, significantly.
      ['c-0', [0, 0, 0, 0, 1], [S, B, SL, M, S]],
      // 3 vs 0: the median of significantly, significantly, marginally.
      ['c-1', [1, 1, 1], [S, S, M]],
      // 2 vs 2: a tie.
      ['c-2', [0, 0, 1, 1], [S, S, S, S]],
      // 3 vs 2: a majority with 60% of the votes, a conflict.
      ['c-3', [0, 1, 0, 1, 0], [B, S, M, S, SL]],
      // 2 vs 1: exactly two thirds, not a conflict.
      ['c-4', [1, 0, 1], [B, M, B]],
      // c-5 has no votes. c-6: 2 vs 0, the even count's weaker middle value.
      ['c-6', [0, 0], [S, SL]],
    ];
    for (const [ext, choices, strengths] of votes) {
      for (let i = 0; i < choices.length; i++) await castVote(handle, project, annotators[i]!, ext, choices[i]!, strengths[i]!);
    }
  });

  it('gives each comparison its votes, majority choice, median strength (weaker middle value on even counts) and status', async () => {
    const all = await allConsensus(project, 'majority');
    const c = async (ext: string) => all.get(await id(ext));
    expect(await c('c-0')).toMatchObject({ externalId: 'c-0', votes: [4, 1], weights: [4, 1], choice: 0, strength: 'slightly_better', agreement: 0.8, status: 'majority' });
    expect(await c('c-1')).toMatchObject({ votes: [0, 3], choice: 1, strength: 'significantly_better', agreement: 1, status: 'unanimous' });
    expect(await c('c-2')).toMatchObject({ votes: [2, 2], choice: null, strength: null, agreement: 0.5, status: 'tie' });
    expect(await c('c-3')).toMatchObject({ votes: [3, 2], choice: 0, strength: 'slightly_better', agreement: 0.6, status: 'majority' });
    expect(await c('c-4')).toMatchObject({ votes: [1, 2], choice: 1, strength: 'better', status: 'majority' });
    expect((await c('c-4'))!.agreement).toBeCloseTo(2 / 3, 9);
    expect(await c('c-6')).toMatchObject({ votes: [2, 0], choice: 0, strength: 'slightly_better', status: 'unanimous' });
    // No votes, no consensus row.
    expect(await c('c-5')).toBeUndefined();
    expect(all.size).toBe(6);
  });

  it('pages by comparison id with a cursor', async () => {
    const first = await consensusForProject(db.current.handle.db, project.id, { weighting: 'majority', limit: 4 });
    expect(first.items.map((i) => i.externalId)).toEqual(['c-0', 'c-1', 'c-2', 'c-3']);
    expect(first.nextCursor).toBe(await id('c-3'));
    const second = await consensusForProject(db.current.handle.db, project.id, { weighting: 'majority', limit: 4, cursor: first.nextCursor });
    expect(second.items.map((i) => i.externalId)).toEqual(['c-4', 'c-6']);
    expect(second.nextCursor).toBeNull();
  });

  it('lists ties first, then majorities below two thirds', async () => {
    const conflicts = await listConflicts(db.current.handle.db, project.id, { limit: 10 });
    expect(conflicts.total).toBe(2);
    expect(conflicts.items.map((i) => [i.externalId, i.status])).toEqual([
      ['c-2', 'tie'],
      ['c-3', 'majority'],
    ]);
    const cut = await listConflicts(db.current.handle.db, project.id, { limit: 1 });
    expect(cut).toMatchObject({ total: 2, items: [{ externalId: 'c-2' }] });
  });

  it('trust weighting without any gold answers weighs everyone 1', async () => {
    const page = await consensusForProject(db.current.handle.db, project.id, { weighting: 'trust' });
    expect(page.equalWeights).toBe(true);
    const majority = await consensusForProject(db.current.handle.db, project.id, { weighting: 'majority' });
    expect(page.items).toEqual(majority.items);
  });

  it('leaves out rejected judgments and counts corrections instead of the originals', async () => {
    const { handle } = db.current;
    const judgmentOf = async (ext: string, annotator: TSessionUser) => {
      const [row] = await handle.sql<{ id: number; strength: string; chosen_position: number }[]>`
        select id::int, strength, chosen_position from judgments where comparison_id = ${await id(ext)} and annotator_id = ${annotator.id}`;
      return row!;
    };
    // c-2 was 2-2: reject one vote for the second response.
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: (await judgmentOf('c-2', annotators[3]!)).id, decision: 'reject' });
    // c-4 was 1-2 (annotator 1 chose the first): correct annotator 2 to the first response, marginally better.
    const corrected = await judgmentOf('c-4', annotators[2]!);
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: corrected.id, decision: 'correct', correctedChoice: 0, correctedStrength: 'significantly_better' });
    // c-1 was 3-0 significantly, significantly, marginally: correct one significantly to marginally.
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: (await judgmentOf('c-1', annotators[0]!)).id, decision: 'correct', correctedChoice: 1, correctedStrength: 'marginally_better' });
    // An accept changes nothing.
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: (await judgmentOf('c-0', annotators[4]!)).id, decision: 'accept' });

    const all = await allConsensus(project, 'majority');
    const c = async (ext: string) => all.get(await id(ext));
    expect(await c('c-2')).toMatchObject({ votes: [2, 1], choice: 0, status: 'majority', strength: 'significantly_better' });
    // The two votes for the first response: marginally (annotator 1) and the correction's significantly: the weaker.
    expect(await c('c-4')).toMatchObject({ votes: [2, 1], choice: 0, strength: 'marginally_better', status: 'majority' });
    expect(await c('c-1')).toMatchObject({ votes: [0, 3], choice: 1, strength: 'marginally_better', status: 'unanimous' });
    expect(await c('c-0')).toMatchObject({ votes: [4, 1], choice: 0 });
    // The corrected judgment itself is unchanged.
    expect(await judgmentOf('c-4', annotators[2]!)).toEqual(corrected);
    // The former tie is no longer a conflict; c-3 still is.
    expect((await listConflicts(handle.db, project.id)).items.map((i) => i.externalId)).toEqual(['c-3']);
  });

  it('drops a comparison whose every vote was rejected', async () => {
    const { handle } = db.current;
    const [row] = await handle.sql<{ id: number }[]>`select id::int from judgments where comparison_id = ${await id('c-6')} and annotator_id = ${annotators[0]!.id}`;
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: row!.id, decision: 'reject' });
    expect((await allConsensus(project, 'majority')).get(await id('c-6'))).toMatchObject({ votes: [1, 0], strength: 'slightly_better' });
    const [other] = await handle.sql<{ id: number }[]>`select id::int from judgments where comparison_id = ${await id('c-6')} and annotator_id = ${annotators[1]!.id}`;
    await submitReview(handle.db, { projectId: project.id, reviewerId: reviewer.id, judgmentId: other!.id, decision: 'reject' });
    const all = await allConsensus(project, 'majority', 2);
    expect(all.has(await id('c-6'))).toBe(false);
    expect(all.size).toBe(5);
  });
});

describe('trust-weighted consensus', () => {
  let project: TProject;
  let good: TSessionUser;
  let poor1: TSessionUser;
  let poor2: TSessionUser;
  let chance: TSessionUser;

  beforeAll(async () => {
    const { handle } = db.current;
    [good, poor1, poor2, chance] = await Promise.all([makeUser(handle), makeUser(handle), makeUser(handle), makeUser(handle)]);
    project = await makeProject(handle, { judgmentsRequired: 4, members: [good, poor1, poor2, chance].map((user) => ({ user, role: 'annotator' as const })) });
    await importLines(handle, project, [...comparisonLines(1, 'x'), ...comparisonLines(5, 'g')]);
    // The comparison in question: the two poor annotators against the good one.
    await castVote(handle, project, poor1, 'x-0', 0, 'better');
    await castVote(handle, project, poor2, 'x-0', 0, 'better');
    await castVote(handle, project, good, 'x-0', 1, 'slightly_better');
    // Gold items, all answered "first response" by the key: the good annotator 5/5, the poor 3/5, chance 1/5.
    for (let i = 0; i < 5; i++) {
      await castVote(handle, project, good, `g-${i}`, 0, 'better');
      await castVote(handle, project, poor1, `g-${i}`, i < 3 ? 0 : 1, 'better');
      await castVote(handle, project, poor2, `g-${i}`, i < 3 ? 0 : 1, 'better');
      await castVote(handle, project, chance, `g-${i}`, i < 4 ? 1 : 0, 'better');
    }
  });

  it('before any gold item, trust weighting is the majority', async () => {
    const page = await consensusForProject(db.current.handle.db, project.id, { weighting: 'trust' });
    expect(page.equalWeights).toBe(true);
    expect(page.items.find((i) => i.externalId === 'x-0')).toMatchObject({ votes: [2, 1], choice: 0 });
  });

  it('weighs votes by the log-odds of smoothed gold accuracy and flips a 2-vs-1 majority', async () => {
    const { handle } = db.current;
    for (let i = 0; i < 5; i++) await markGold(handle.db, { projectId: project.id, comparisonId: await comparisonId(handle, project, `g-${i}`), choice: 0 });

    const weights = new Map((await annotatorTrustWeights(handle.db, project.id)).map((w) => [w.annotatorId, w]));
    expect(weights.get(good.id)).toMatchObject({ answered: 5, correct: 5 });
    expect(weights.get(good.id)!.weight).toBeCloseTo(Math.log(6), 9);
    expect(weights.get(poor1.id)!.weight).toBeCloseTo(Math.log(4 / 3), 9);
    // Worse than chance: floored at zero, no say.
    expect(weights.get(chance.id)!.weight).toBe(0);

    const majority = await consensusForProject(handle.db, project.id, { weighting: 'majority' });
    expect(majority.items.find((i) => i.externalId === 'x-0')).toMatchObject({ votes: [2, 1], choice: 0, strength: 'better', status: 'majority' });

    const trust = await consensusForProject(handle.db, project.id, { weighting: 'trust' });
    expect(trust.equalWeights).toBe(false);
    const x = trust.items.find((i) => i.externalId === 'x-0')!;
    expect(x).toMatchObject({ votes: [2, 1], choice: 1, strength: 'slightly_better', status: 'majority' });
    expect(x.weights[0]).toBeCloseTo(2 * Math.log(4 / 3), 6);
    expect(x.weights[1]).toBeCloseTo(Math.log(6), 6);
    expect(x.agreement).toBeCloseTo(Math.log(6) / (Math.log(6) + 2 * Math.log(4 / 3)), 6);

    // g-4: poor1 and poor2 against good and chance, 2-2 by votes; chance has no say.
    const g4 = trust.items.find((i) => i.externalId === 'g-4')!;
    expect(g4).toMatchObject({ votes: [2, 2], choice: 0, goldChoice: 0 });
    // Gold items are never conflicts, even on a tie.
    expect(majority.items.find((i) => i.externalId === 'g-4')).toMatchObject({ status: 'tie' });
    expect((await listConflicts(handle.db, project.id)).total).toBe(0);
  });

  it('annotators without a say on either side make a tie', async () => {
    const { handle } = db.current;
    await importLines(handle, project, comparisonLines(1, 'y'));
    await castVote(handle, project, chance, 'y-0', 0, 'better');
    const trust = await consensusForProject(handle.db, project.id, { weighting: 'trust' });
    expect(trust.items.find((i) => i.externalId === 'y-0')).toMatchObject({ votes: [1, 0], weights: [0, 0], choice: null, strength: null, agreement: null, status: 'tie' });
  });
});
