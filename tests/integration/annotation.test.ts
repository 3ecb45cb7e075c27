import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { leaseComparisons } from '@/server/annotation/lease';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import { streamTrlPreferenceLines } from '@/server/exports/trl';
import { setupTestDatabase } from '../helpers/db';
import { comparisonLines, importLines, makeProject, makeUser } from '../helpers/factories';

const db = setupTestDatabase();

function lease(projectId: number, annotatorId: number, want = 2, leaseSeconds = 900) {
  return leaseComparisons(db.current.handle.db, { projectId, annotatorId, leaseSeconds, want });
}

function submit(annotatorId: number, assignmentId: number, extra: Partial<{ chosenPosition: number; clientSubmissionId: string }> = {}) {
  return submitJudgment(db.current.handle.db, {
    annotatorId,
    assignmentId,
    clientSubmissionId: extra.clientSubmissionId ?? crypto.randomUUID(),
    chosenPosition: extra.chosenPosition ?? 0,
    strength: 'better',
    timeSpentMs: 1234,
  });
}

describe('leasing and judging', () => {
  it('stores one judgment for a repeated submit with the same submission id, even concurrently', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(3, 'dbl'));
    const [item] = await lease(project.id, annotator.id, 1);
    const submissionId = crypto.randomUUID();

    const results = await Promise.all([1, 2, 3, 4].map(() => submit(annotator.id, item!.assignmentId, { clientSubmissionId: submissionId })));
    expect(new Set(results.map((r) => r.judgmentId)).size).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    const again = await submit(annotator.id, item!.assignmentId, { clientSubmissionId: submissionId });
    expect(again).toEqual({ judgmentId: results[0]!.judgmentId, duplicate: true });

    const [{ n, count }] = (await handle.db.execute(sql`
      select (select count(*)::int from judgments where comparison_id = ${item!.comparisonId}) as n,
             (select judgment_count from comparisons where id = ${item!.comparisonId}) as count`)) as unknown as [{ n: number; count: number }];
    expect(n).toBe(1);
    expect(count).toBe(1);
  });

  it('refuses a second judgment of the same assignment under a new submission id', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(1, 'second'));
    const [item] = await lease(project.id, annotator.id, 1);
    await submit(annotator.id, item!.assignmentId);
    await expect(submit(annotator.id, item!.assignmentId)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('returns an expired lease to the pool for another annotator', async () => {
    const { handle } = db.current;
    const [first, second] = [await makeUser(handle), await makeUser(handle)];
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(1, 'exp'));

    const [held] = await lease(project.id, first.id, 1);
    expect(held).toBeDefined();
    expect(await lease(project.id, second.id, 1)).toEqual([]);

    await handle.db.execute(sql`update assignments set expires_at = now() - interval '1 second' where id = ${held!.assignmentId}`);
    const [taken] = await lease(project.id, second.id, 1);
    expect(taken?.comparisonId).toBe(held!.comparisonId);

    // The first annotator's late submit must not push the comparison past its limit.
    await expect(submit(first.id, held!.assignmentId)).rejects.toMatchObject({ code: 'CONFLICT' });
    await submit(second.id, taken!.assignmentId);
  });

  it('accepts a late submit while nobody else took the freed slot', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(1, 'late'));
    const [held] = await lease(project.id, annotator.id, 1);
    await handle.db.execute(sql`update assignments set expires_at = now() - interval '1 second' where id = ${held!.assignmentId}`);
    await expect(submit(annotator.id, held!.assignmentId)).resolves.toMatchObject({ duplicate: false });
  });

  it('never gives a comparison to more annotators than it requires, under concurrency', async () => {
    const { handle } = db.current;
    const annotators = await Promise.all(Array.from({ length: 8 }, () => makeUser(handle)));
    const project = await makeProject(handle, { judgmentsRequired: 2 });
    await importLines(handle, project, comparisonLines(10, 'conc'));

    // Eight annotators grab three comparisons each at the same moment: 24 wanted, 20 slots exist.
    const leased = await Promise.all(annotators.map((a) => lease(project.id, a.id, 3)));
    const perComparison = new Map<number, number>();
    for (const items of leased) for (const item of items) perComparison.set(item.comparisonId, (perComparison.get(item.comparisonId) ?? 0) + 1);
    expect(Math.max(...perComparison.values())).toBeLessThanOrEqual(2);
    expect([...perComparison.values()].reduce((a, b) => a + b, 0)).toBe(20);

    // And all of them submitting concurrently stores exactly two judgments per comparison.
    await Promise.all(leased.flatMap((items, i) => items.map((item) => submit(annotators[i]!.id, item.assignmentId))));
    const rows = (await handle.db.execute(sql`
      select comparison_id, count(*)::int as n from judgments where project_id = ${project.id} group by comparison_id`)) as unknown as { n: number }[];
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.n === 2)).toBe(true);
  });

  it('never gives the same comparison to one annotator twice', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProject(handle, { judgmentsRequired: 3 });
    await importLines(handle, project, comparisonLines(4, 'twice'));
    const seen: number[] = [];
    for (;;) {
      const items = await lease(project.id, annotator.id, 2);
      if (items.length === 0) break;
      const [item] = items;
      seen.push(item!.comparisonId);
      await submit(annotator.id, item!.assignmentId);
    }
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
  });

  it('keeps the leases an annotator holds, in order, and tops them up', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(5, 'held'));
    const first = await lease(project.id, annotator.id, 2);
    const again = await lease(project.id, annotator.id, 2);
    expect(again.map((i) => i.assignmentId)).toEqual(first.map((i) => i.assignmentId));
    await submit(annotator.id, first[0]!.assignmentId);
    const next = await lease(project.id, annotator.id, 2);
    expect(next[0]!.assignmentId).toBe(first[1]!.assignmentId);
    expect(next).toHaveLength(2);
  });

  it('maps the shown order back to chosen and rejected in the export', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(12, 'map'));
    const expected: { chosen: string; rejected: string }[] = [];
    const orders = new Set<string>();
    for (let i = 0; ; i++) {
      const [item] = await lease(project.id, annotator.id, 1);
      if (!item) break;
      const position = i % 2;
      const shownTexts = item.responses.map((r) => r.messages[0]!.content);
      orders.add(shownTexts.map((t) => t.slice(-2)).join(','));
      expected.push({ chosen: shownTexts[position]!, rejected: shownTexts[1 - position]! });
      await submit(annotator.id, item.assignmentId, { chosenPosition: position });
    }
    // Twelve random orders of two responses: both orders appear unless the shuffle is broken (p = 2^-11).
    expect(orders.size).toBe(2);

    let text = '';
    for await (const chunk of streamTrlPreferenceLines(handle.sql, project.id)) text += chunk;
    const rows = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(12);
    rows.forEach((row, i) => {
      expect(row.prompt).toEqual([{ role: 'user', content: expect.stringMatching(/^prompt map \d+$/) }]);
      expect(row.chosen).toEqual([{ role: 'assistant', content: expected[i]!.chosen }]);
      expect(row.rejected).toEqual([{ role: 'assistant', content: expected[i]!.rejected }]);
    });
  });

  it('stores the verdict as given: strength, rationale, time spent, shown position', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(1, 'verdict'));
    const [item] = await lease(project.id, annotator.id, 1);
    await submitJudgment(handle.db, {
      annotatorId: annotator.id,
      assignmentId: item!.assignmentId,
      clientSubmissionId: crypto.randomUUID(),
      chosenPosition: 1,
      strength: 'marginally_better',
      rationale: '  both fine; B is tidier  ',
      timeSpentMs: 4321,
    });
    const [row] = (await handle.db.execute(sql`
      select j.strength, j.rationale, j.time_spent_ms, j.chosen_position, j.chosen_response_id = a.shown_response_ids[2] as chose_shown_right
      from judgments j join assignments a on a.id = j.assignment_id where j.assignment_id = ${item!.assignmentId}`)) as unknown as [Record<string, unknown>];
    expect(row).toEqual({ strength: 'marginally_better', rationale: 'both fine; B is tidier', time_spent_ms: 4321, chosen_position: 1, chose_shown_right: true });
  });

  it('has nothing to lease when everything is done', async () => {
    const { handle } = db.current;
    const annotator = await makeUser(handle);
    const project = await makeProject(handle);
    await importLines(handle, project, comparisonLines(1, 'done'));
    const [item] = await lease(project.id, annotator.id, 2);
    await submit(annotator.id, item!.assignmentId);
    expect(await lease(project.id, annotator.id, 2)).toEqual([]);
  });
});
