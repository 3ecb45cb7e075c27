import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseComparisons, type TLeasedComparison } from '@/server/annotation/lease';
import type { TSubmitJudgment } from '@/server/annotation/schemas';
import { skipAssignment } from '@/server/annotation/skip';
import { strengths, type TStrength } from '@/server/annotation/strengths';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import { binomialTest } from '@/server/ml/binomial';
import type { TProject } from '@/server/projects/projects';
import { annotatorStats, type TAnnotatorStats } from '@/server/quality/annotator-stats';
import { markGold } from '@/server/quality/gold';
import type { TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';
import { trpcRefusal as refusal } from '../helpers/refusal';

const db = setupTestDatabase();
afterAll(() => stopSharedQueue());

type TVerdict = Omit<TSubmitJudgment, 'assignmentId' | 'clientSubmissionId'>;

/** What an annotator does with a comparison: `texts` are the responses' final texts in the shown order. */
type TDecide = (texts: string[], gold: boolean) => TVerdict;

/**
 * Leases (two at a time, as the page does) and judges until nothing is left for `user`.
 * Returns the verdicts given, with the texts they were given on.
 */
async function judgeAll(project: TProject, user: TSessionUser, decide: TDecide, options: { goldRate?: number; goldIds?: Set<number> } = {}) {
  const given: { texts: string[]; verdict: TVerdict; gold: boolean }[] = [];
  for (;;) {
    // Once every gold item is answered, a gold rate would only leave the gold slot empty.
    const goldLeft = given.filter((g) => g.gold).length < (options.goldIds?.size ?? 0);
    const items: TLeasedComparison[] = await leaseComparisons(db.current.handle.db, {
      projectId: project.id,
      annotatorId: user.id,
      leaseSeconds: 900,
      want: 2,
      goldRate: goldLeft ? (options.goldRate ?? 0) : 0,
    });
    if (items.length === 0) return given;
    for (const item of items) {
      const texts = item.responses.map((r) => r.messages.at(-1)!.content);
      const gold = options.goldIds?.has(item.comparisonId) ?? false;
      const verdict = decide(texts, gold);
      await submitJudgment(db.current.handle.db, { annotatorId: user.id, assignmentId: item.assignmentId, clientSubmissionId: crypto.randomUUID(), ...verdict });
      given.push({ texts, verdict, gold });
    }
  }
}

/** A decider with a counter: `pairVerdict(i, texts)` for the i-th pair judged, rankings always best-first in shown order. */
function decider(timeMs: (n: number) => number, pairVerdict: (i: number, texts: string[], gold: boolean) => Omit<TVerdict, 'timeSpentMs'>): TDecide {
  let n = 0;
  let pairs = 0;
  return (texts, gold) => {
    const timeSpentMs = timeMs(n++);
    if (texts.length > 2) return { ranking: texts.map((_, i) => [i]), timeSpentMs };
    return { ...pairVerdict(pairs++, texts, gold), timeSpentMs };
  };
}

/** The shown position of the first response as imported ("... from m1"). */
const m1At = (texts: string[]) => texts.findIndex((t) => t.endsWith('from m1'));
const cycle = (i: number): TStrength => strengths[i % 4]!;

let project: TProject;
const users = {} as Record<'careful' | 'fast' | 'lefty' | 'mono' | 'skipper' | 'idle' | 'reviewer' | 'admin' | 'outsider' | 'platformAdmin', TSessionUser>;
/** How many regular comparisons `lefty` (always the left response) happened to give to the first response. */
let leftyOnM1 = 0;
/** `careful`'s pair judgments that chose the left response. */
let carefulLeft = 0;
let fastLeft = 0;
let monoLeft = 0;
let stats: Map<number, TAnnotatorStats>;

beforeAll(async () => {
  const { handle } = db.current;
  for (const key of ['careful', 'fast', 'lefty', 'mono', 'skipper', 'idle', 'reviewer', 'admin', 'outsider'] as const) users[key] = await makeUser(handle);
  users.platformAdmin = await makeUser(handle, 'admin');
  project = await makeProject(handle, {
    judgmentsRequired: 4,
    members: [
      ...(['careful', 'fast', 'lefty', 'mono', 'skipper', 'idle'] as const).map((k) => ({ user: users[k], role: 'annotator' as const })),
      { user: users.reviewer, role: 'reviewer' },
      { user: users.admin, role: 'admin' },
    ],
  });
  const ranking = JSON.stringify({ id: 'rank-0', prompt: 'rank these', responses: ['x', 'y', 'z'].map((t, i) => ({ content: `${t} from r${i}`, model: `r${i}` })) });
  await importLines(handle, project, [...comparisonLines(25, 'reg'), ranking, ...comparisonLines(5, 'gold')]);
  const goldRows = await handle.db.execute<{ id: string }>(sql`select id from comparisons where project_id = ${project.id} and external_id like 'gold-%'`);
  const goldIds = new Set(goldRows.map((r) => Number(r.id)));
  for (const id of goldIds) await markGold(handle.db, { projectId: project.id, comparisonId: id, choice: 0 });

  // The skipper goes first and skips two comparisons; they return to the pool for the others.
  const held = await leaseComparisons(handle.db, { projectId: project.id, annotatorId: users.skipper.id, leaseSeconds: 900, want: 2 });
  expect(held).toHaveLength(2);
  for (const item of held) await skipAssignment(handle.db, { annotatorId: users.skipper.id, assignmentId: item.assignmentId, reason: 'not my language' });

  // careful: slow, picks the first response (also right on gold), strengths in turn.
  const careful = await judgeAll(
    project,
    users.careful,
    decider(
      (n) => 10_000 + 100 * n,
      (i, texts) => ({ chosenPosition: m1At(texts), strength: cycle(i) }),
    ),
    { goldRate: 1, goldIds },
  );
  // fast: 1.5 s each, picks the first response on regular items but the second on gold.
  const fast = await judgeAll(
    project,
    users.fast,
    decider(
      () => 1_500,
      (i, texts, gold) => ({ chosenPosition: gold ? 1 - m1At(texts) : m1At(texts), strength: cycle(i) }),
    ),
    { goldRate: 1, goldIds },
  );
  // lefty: always the left response.
  const lefty = await judgeAll(
    project,
    users.lefty,
    decider(
      () => 8_000,
      (i) => ({ chosenPosition: 0, strength: cycle(i) }),
    ),
  );
  // mono: always "slightly better", edits the first five.
  const mono = await judgeAll(
    project,
    users.mono,
    decider(
      () => 6_000,
      (i, texts) => ({ chosenPosition: m1At(texts), strength: 'slightly_better', ...(i < 5 ? { edit: `an improved answer ${i}` } : {}) }),
    ),
  );
  expect([careful.length, fast.length, lefty.length, mono.length]).toEqual([31, 31, 26, 26]);
  const leftOf = (given: typeof careful) => given.filter((g) => g.verdict.chosenPosition === 0).length;
  leftyOnM1 = lefty.filter((g) => g.texts.length === 2 && m1At(g.texts) === 0).length;
  carefulLeft = leftOf(careful);
  fastLeft = leftOf(fast);
  monoLeft = leftOf(mono);

  // Per-day figures: move six of careful's judgments into the past.
  const move = (n: number, when: ReturnType<typeof sql>) =>
    handle.db.execute(sql`
      update judgments set created_at = ${when}
      where id in (select id from judgments where annotator_id = ${users.careful.id} and project_id = ${project.id} and created_at > now() - interval '1 hour' order by id limit ${n})`);
  await move(3, sql`date_trunc('day', now()) - interval '1 day' + interval '12 hours'`);
  await move(2, sql`date_trunc('day', now()) - interval '5 days' + interval '12 hours'`);
  await move(1, sql`date_trunc('day', now()) - interval '40 days' + interval '12 hours'`);

  // Another project's judgments by careful do not count here.
  const other = await makeProject(handle, { members: [{ user: users.careful, role: 'annotator' }] });
  await importLines(handle, other, comparisonLines(2, 'other'));
  await judgeAll(
    other,
    users.careful,
    decider(
      () => 1,
      () => ({ chosenPosition: 0, strength: 'marginally_better' }),
    ),
  );

  stats = new Map((await annotatorStats(handle, project.id)).map((s) => [s.annotatorId, s]));
});

describe('annotatorStats', () => {
  it('lists the annotators who judged or skipped and the annotator members, not reviewers or admins who did neither', () => {
    const ids = [...stats.keys()].sort((a, b) => a - b);
    expect(ids).toEqual([users.careful, users.fast, users.lefty, users.mono, users.skipper, users.idle].map((u) => u.id).sort((a, b) => a - b));
    expect(stats.get(users.careful.id)!.email).toBe(users.careful.email);
  });

  it('counts judgments, today, and the last 30 days from a per-day aggregate', async () => {
    const careful = stats.get(users.careful.id)!;
    expect(careful.judgments).toBe(31);
    expect(careful.today).toBe(25);
    expect(careful.perDay).toHaveLength(30);
    const [labels] = await db.current.handle.db.execute<{ today: string; yesterday: string; five: string; forty: string }>(sql`
      select to_char(now(), 'YYYY-MM-DD') as today,
        to_char(date_trunc('day', now()) - interval '1 day', 'YYYY-MM-DD') as yesterday,
        to_char(date_trunc('day', now()) - interval '5 days', 'YYYY-MM-DD') as five,
        to_char(date_trunc('day', now()) - interval '40 days', 'YYYY-MM-DD') as forty`);
    const byDay = Object.fromEntries(careful.perDay.map((d) => [d.day, d.judgments]));
    expect(careful.perDay.at(-1)).toEqual({ day: labels!.today, judgments: 25 });
    expect(byDay[labels!.yesterday]).toBe(3);
    expect(byDay[labels!.five]).toBe(2);
    expect(byDay[labels!.forty]).toBeUndefined();
    expect(careful.perDay.reduce((s, d) => s + d.judgments, 0)).toBe(30);
    // Consecutive days, oldest first.
    const days = careful.perDay.map((d) => Date.parse(`${d.day}T00:00:00Z`));
    for (let i = 1; i < days.length; i++) expect(days[i]! - days[i - 1]!).toBe(86_400_000);
    expect(careful.firstAt! < careful.lastAt!).toBe(true);
    expect(stats.get(users.fast.id)!.today).toBe(31);
  });

  it('gives the median time per judgment (percentile_cont, interpolated)', () => {
    // careful: 10,000 + 100 n ms for n = 0..30: the median is n = 15.
    expect(stats.get(users.careful.id)!.medianTimeMs).toBe(11_500);
    expect(stats.get(users.fast.id)!.medianTimeMs).toBe(1_500);
    expect(stats.get(users.idle.id)!.medianTimeMs).toBeNull();
  });

  it('measures position bias over pair judgments with the exact binomial test', () => {
    const lefty = stats.get(users.lefty.id)!;
    expect(lefty.position).toEqual({ pairs: 25, left: 25, leftRate: 1, pValue: binomialTest(25, 25) });
    expect(lefty.position.pValue).toBeCloseTo(2 / 2 ** 25, 15);
    const careful = stats.get(users.careful.id)!;
    // 25 regular and 5 gold pairs; the ranking is not a pair.
    expect(careful.position).toEqual({ pairs: 30, left: carefulLeft, leftRate: carefulLeft / 30, pValue: binomialTest(carefulLeft, 30) });
  });

  it('counts the strength levels of pair judgments', () => {
    expect(stats.get(users.careful.id)!.strengths).toEqual({ significantly_better: 8, better: 8, slightly_better: 7, marginally_better: 7 });
    expect(stats.get(users.mono.id)!.strengths).toEqual({ significantly_better: 0, better: 0, slightly_better: 25, marginally_better: 0 });
    expect(stats.get(users.idle.id)!.strengths).toEqual({ significantly_better: 0, better: 0, slightly_better: 0, marginally_better: 0 });
  });

  it('gives the edit rate and the skips', () => {
    const mono = stats.get(users.mono.id)!;
    expect(mono.edits).toBe(5);
    expect(mono.editRate).toBeCloseTo(5 / 26, 12);
    expect(stats.get(users.careful.id)!.editRate).toBe(0);
    const skipper = stats.get(users.skipper.id)!;
    expect(skipper).toMatchObject({ judgments: 0, skips: 2, editRate: null, medianTimeMs: null, firstAt: null });
    expect(stats.get(users.careful.id)!.skips).toBe(0);
  });

  it('gives gold accuracy once gold items are answered', () => {
    expect(stats.get(users.careful.id)!.gold).toEqual({ answered: 5, correct: 5, accuracy: 1, flagged: false });
    expect(stats.get(users.fast.id)!.gold).toEqual({ answered: 5, correct: 0, accuracy: 0, flagged: true });
    expect(stats.get(users.lefty.id)!.gold).toBeNull();
  });

  it("gives each annotator's agreement with the others on the choice", () => {
    // Regular pairs: careful, fast and mono pick the first response; lefty does on `leftyOnM1` of 25.
    // Gold pairs: only careful and fast, who disagree.
    const L = leftyOnM1;
    expect(stats.get(users.careful.id)!.agreement.pairs).toBe(80);
    expect(stats.get(users.careful.id)!.agreement.rate).toBeCloseTo((50 + L) / 80, 12);
    expect(stats.get(users.fast.id)!.agreement.rate).toBeCloseTo((50 + L) / 80, 12);
    expect(stats.get(users.mono.id)!.agreement).toEqual({ rate: expect.closeTo((50 + L) / 75, 12), pairs: 75 });
    expect(stats.get(users.lefty.id)!.agreement).toEqual({ rate: expect.closeTo((3 * L) / 75, 12), pairs: 75 });
    expect(stats.get(users.idle.id)!.agreement).toEqual({ rate: null, pairs: 0 });
  });

  it('flags too fast, always the same side, always the same strength and low gold accuracy', () => {
    const unbiased = (left: number, pairs: number) => !((left / pairs < 0.2 || left / pairs > 0.8) && binomialTest(left, pairs) < 0.001);
    // Which side the first response was shown on is random; these guard against a freak draw.
    expect(unbiased(carefulLeft, 30) && unbiased(fastLeft, 30) && unbiased(monoLeft, 25)).toBe(true);
    expect(stats.get(users.careful.id)!.flags).toEqual([]);
    expect(stats.get(users.fast.id)!.flags).toEqual(['too_fast', 'low_gold']);
    expect(stats.get(users.lefty.id)!.flags).toEqual(['same_side']);
    expect(stats.get(users.mono.id)!.flags).toEqual(['same_strength']);
    expect(stats.get(users.skipper.id)!.flags).toEqual([]);
    expect(stats.get(users.idle.id)!.flags).toEqual([]);
  });

  it('gives one annotator alone the same figures, and a row of zeros to a member without work', async () => {
    const [lefty, ...rest] = await annotatorStats(db.current.handle, project.id, { annotatorId: users.lefty.id });
    expect(rest).toEqual([]);
    expect(lefty).toEqual(stats.get(users.lefty.id));
    const [reviewer] = await annotatorStats(db.current.handle, project.id, { annotatorId: users.reviewer.id });
    expect(reviewer).toMatchObject({ annotatorId: users.reviewer.id, judgments: 0, skips: 0, today: 0, gold: null, flags: [] });
    expect(reviewer!.perDay).toHaveLength(30);
  });
});

describe('the annotators router', () => {
  const caller = (user: TSessionUser) => callerFor(db.current.handle, db.current.url, user);

  it("mine: a member's own figures only, without anyone's email", async () => {
    const mine = await caller(users.lefty).annotators.mine({ project: project.slug });
    expect(mine.stats.annotatorId).toBe(users.lefty.id);
    expect(mine.stats).not.toHaveProperty('email');
    const { email: _e, name: _n, gold: _g, agreement: _a, ...expected } = stats.get(users.lefty.id)!;
    expect(mine.stats).toEqual(expected);
    expect(mine.thresholds.tooFast.medianMsBelow).toBe(4000);
    // Nothing in the answer mentions another annotator.
    const text = JSON.stringify(mine);
    for (const other of [users.careful, users.fast, users.mono, users.skipper]) expect(text).not.toContain(other.email);
    expect((await caller(users.reviewer).annotators.mine({ project: project.slug })).stats).toMatchObject({ annotatorId: users.reviewer.id, judgments: 0 });
  });

  it('mine: no gold accuracy, agreement or low_gold flag, which would tell which item was gold', async () => {
    const { stats: fast } = await caller(users.fast).annotators.mine({ project: project.slug });
    expect(stats.get(users.fast.id)!.flags).toContain('low_gold');
    expect(fast).not.toHaveProperty('gold');
    expect(fast).not.toHaveProperty('agreement');
    expect(fast.flags).toEqual(['too_fast']);
  });

  it('all: every annotator with emails for project and platform admins; FORBIDDEN to annotators, NOT_FOUND to outsiders', async () => {
    const all = await caller(users.admin).annotators.all({ project: project.slug });
    expect(all.annotators.map((a) => a.email).sort()).toEqual([users.careful, users.fast, users.lefty, users.mono, users.skipper, users.idle].map((u) => u.email).sort());
    expect((await caller(users.platformAdmin).annotators.all({ project: project.slug })).annotators).toHaveLength(6);
    expect(await refusal(caller(users.lefty).annotators.all({ project: project.slug }))).toBe('FORBIDDEN');
    expect(await refusal(caller(users.reviewer).annotators.all({ project: project.slug }))).toBe('FORBIDDEN');
    expect(await refusal(caller(users.outsider).annotators.all({ project: project.slug }))).toBe('NOT_FOUND');
    expect(await refusal(caller(users.outsider).annotators.mine({ project: project.slug }))).toBe('NOT_FOUND');
    expect(await refusal(callerFor(db.current.handle, db.current.url, null).annotators.mine({ project: project.slug }))).toBe('UNAUTHORIZED');
  });
});
