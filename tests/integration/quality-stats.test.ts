import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { leaseComparisons } from '@/server/annotation/lease';
import { strengths, type TStrength } from '@/server/annotation/strengths';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import type { TProject } from '@/server/projects/projects';
import { loadModelBattles } from '@/server/quality/battles';
import { goldAccuracyByAnnotator, isPausedByGold, markGold } from '@/server/quality/gold';
import { loadPairLabels } from '@/server/quality/labels';
import { getProjectStats } from '@/server/quality/project-stats';
import type { TSessionUser } from '@/server/users/schemas';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';

const db = setupTestDatabase();
afterAll(() => stopSharedQueue());

const pair = (id: string, a: string, b: string, extra: object = {}) =>
  JSON.stringify({ id, prompt: `prompt ${id}`, responses: [{ content: `${id} first`, model: a }, { content: `${id} second`, model: b }], ...extra });

/** Leases the next comparison and judges it: `pick` chooses the canonical position from the responses' texts. */
async function judgeNext(project: TProject, user: TSessionUser, pick: (texts: string[]) => number, strength: TStrength = 'better') {
  const [item] = await leaseComparisons(db.current.handle.db, { projectId: project.id, annotatorId: user.id, leaseSeconds: 900, want: 1, goldRate: project.goldRate });
  if (!item) return null;
  const texts = item.responses.map((r) => r.messages[0]!.content);
  const canonical = pick(texts.map((t) => (t.endsWith('first') ? 'first' : 'second')));
  const shownPosition = texts.findIndex((t) => t.endsWith(canonical === 0 ? 'first' : 'second'));
  await submitJudgment(db.current.handle.db, { annotatorId: user.id, assignmentId: item.assignmentId, clientSubmissionId: crypto.randomUUID(), chosenPosition: shownPosition, strength, timeSpentMs: 1000 });
  return item;
}

describe('gold items', () => {
  it('are imported or marked, served to every annotator at the project rate, and scored', async () => {
    const { handle } = db.current;
    const [good, bad] = [await makeUser(handle), await makeUser(handle)];
    let project = await makeProject(handle, { judgmentsRequired: 1, members: [{ user: good, role: 'annotator' }, { user: bad, role: 'annotator' }] });
    await handle.db.execute(sql`update projects set gold_rate = 0.5, gold_min_items = 2, gold_threshold = 0.75 where id = ${project.id}`);
    project = { ...project, goldRate: 0.5 };
    const lines = [
      ...Array.from({ length: 40 }, (_, i) => pair(`n${i}`, 'm1', 'm2')),
      pair('g0', 'm1', 'm2', { gold: { choice: 0 } }),
      pair('g1', 'm1', 'm2', { gold: { choice: 1, min_strength: 'better' } }),
      pair('g2', 'm1', 'm2'),
    ];
    await importLines(handle, project, lines);
    const [g2] = await handle.db.execute<{ id: string }>(sql`select id from comparisons where external_id = 'g2' and project_id = ${project.id}`);
    await markGold(handle.db, { projectId: project.id, comparisonId: Number(g2!.id), choice: 0 });

    const seen = { good: [] as string[], bad: [] as string[] };
    // `good` answers gold as expected; `bad` always picks the second response weakly.
    for (let i = 0; i < 20; i++) {
      const item = await judgeNext(project, good, () => 0, 'significantly_better');
      if (item) seen.good.push(item.prompt[0]!.content);
    }
    for (let i = 0; i < 20; i++) {
      const item = await judgeNext(project, bad, () => 1, 'marginally_better');
      if (item) seen.bad.push(item.prompt[0]!.content);
    }
    // Gold items reach both annotators although each comparison needs only one judgment.
    const goldSeen = (list: string[]) => list.filter((p) => /prompt g\d/.test(p)).length;
    expect(goldSeen(seen.good)).toBeGreaterThan(0);
    expect(goldSeen(seen.bad)).toBeGreaterThan(0);

    const accuracy = await goldAccuracyByAnnotator(handle.db, project.id);
    const byUser = new Map(accuracy.map((a) => [a.annotatorId, a]));
    // good picks the first response significantly: right on g0 and g2, wrong on g1.
    const goodGold = byUser.get(good.id)!;
    expect(goodGold.answered).toBe(goldSeen(seen.good));
    const badGold = byUser.get(bad.id)!;
    // bad picks the second response marginally: right only on… nothing (g1 wants at least "better").
    expect(badGold.correct).toBe(0);
    expect(badGold.flagged).toBe(badGold.answered >= 2);

    await handle.db.execute(sql`update projects set pause_below_gold = true where id = ${project.id}`);
    expect(await isPausedByGold(handle.db, { projectId: project.id, annotatorId: bad.id })).toBe(badGold.flagged);
    const viaApi = await callerFor(handle, db.current.url, bad).annotation.lease({ project: project.slug, want: 2 });
    expect(viaApi.paused).toBe(badGold.flagged);
    if (badGold.flagged) expect(viaApi.items).toEqual([]);
  });

  it('rejects gold on a comparison that is not a pair', async () => {
    const { handle } = db.current;
    const project = await makeProject(handle);
    await expect(
      importLines(handle, project, [JSON.stringify({ prompt: 'p', responses: [{ content: 'a' }, { content: 'b' }, { content: 'c' }], gold: { choice: 0 } })]),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^line 1: gold/) });
  });
});

describe('labels, agreement and the leaderboard', () => {
  it('loads signed canonical labels, computes agreement with intervals, and ranks models', async () => {
    const { handle } = db.current;
    const annotators = [await makeUser(handle), await makeUser(handle), await makeUser(handle)];
    const project = await makeProject(handle, { judgmentsRequired: 3 });
    // Model "strong" answers first in every comparison; annotators mostly prefer it.
    await importLines(handle, project, Array.from({ length: 30 }, (_, i) => pair(`c${i}`, i % 2 ? 'strong' : 'medium', i % 2 ? 'weak' : 'weak')));
    for (const [k, user] of annotators.entries()) {
      for (let i = 0; i < 30; i++) {
        // Annotator 2 disagrees on every fifth comparison.
        await judgeNext(project, user, () => (k === 2 && i % 5 === 0 ? 1 : 0), strengths[(i + k) % 4]);
      }
    }
    const labels = await loadPairLabels(handle.sql, project.id);
    expect(labels.values.length).toBe(90);
    expect(labels.coderIds.sort()).toEqual(annotators.map((a) => a.id).sort());
    expect(labels.unitIds).toHaveLength(30);
    expect([...labels.values].every((v) => v !== 0 && Math.abs(v) <= 4)).toBe(true);

    const stats = await getProjectStats(handle, project.id, { agreementRounds: 100, leaderboardRounds: 100 });
    expect(stats.counts.judgments).toBe(90);
    expect(stats.agreement.units).toBe(30);
    const raw = stats.agreement.raw!;
    expect(raw.estimate).toBeGreaterThan(0.7);
    expect(raw.low).toBeLessThanOrEqual(raw.estimate);
    expect(raw.high).toBeGreaterThanOrEqual(raw.estimate);
    expect(stats.agreement.krippendorffAlpha).not.toBeNull();
    expect(stats.agreement.cohensKappa).toBeNull(); // three annotators
    expect(Object.values(stats.strengths).reduce((a, b) => a + b, 0)).toBe(90);
    expect(stats.perDay.reduce((a, d) => a + d.judgments, 0)).toBe(90);
    expect(stats.agreementByWeek[0]!.pairs).toBe(90);

    const battles = await loadModelBattles(handle.sql, project.id);
    expect(battles.models).toEqual(['medium', 'strong', 'weak']);
    expect(battles.a.length).toBe(90);
    const names = stats.leaderboard.models.map((m) => m.name);
    expect(names.at(-1)).toBe('weak');
    for (const m of stats.leaderboard.models) expect(m.low).toBeLessThanOrEqual(m.high);
  });

  it('prints the figures as JSON from the command line', async () => {
    const { handle, url } = db.current;
    const project = await makeProject(handle);
    await importLines(handle, project, [pair('x', 'a', 'b')]);
    const result = await runCli(['stats', '--project', project.slug, '--json', '--rounds', '50'], { env: { ...process.env, DATABASE_URL: url } });
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout);
    expect(parsed).toMatchObject({ project: project.slug, counts: { comparisons: 1, judgments: 0 }, agreement: { units: 0, raw: null }, leaderboard: { models: [] } });
    const text = await runCli(['stats', '--project', project.slug], { env: { ...process.env, DATABASE_URL: url } });
    expect(text.stdout).toContain('no battles between different models yet');
  });
});
