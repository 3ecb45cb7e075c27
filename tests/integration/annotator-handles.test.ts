import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { assignmentHandle, assignmentOfHandle } from '@/server/annotation/handles';
import type { TProject } from '@/server/projects/projects';
import type { TSessionUser } from '@/server/users/schemas';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, comparisonLines, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';
import { resolveHandle } from '../helpers/handles';
import { trpcRefusal } from '../helpers/refusal';

const db = setupTestDatabase();
afterAll(() => stopSharedQueue());

const caller = (user: TSessionUser) => callerFor(db.current.handle, db.current.url, user);
const verdict = { clientSubmissionId: '', chosenPosition: 0, strength: 'better' as const, timeSpentMs: 4321 };

async function projectFor(annotators: TSessionUser[], options: { judgmentsRequired?: number; lines: string[]; gold?: string[] }): Promise<TProject> {
  const { handle } = db.current;
  const project = await makeProject(handle, { judgmentsRequired: options.judgmentsRequired ?? 1, members: annotators.map((user) => ({ user, role: 'annotator' as const })) });
  await importLines(handle, project, options.lines);
  for (const prefix of options.gold ?? []) {
    await handle.db.execute(sql`update comparisons set gold_choice = 0 where project_id = ${project.id} and external_id like ${`${prefix}-%`}`);
  }
  return project;
}

async function setGoldRate(project: TProject, rate: number) {
  await db.current.handle.db.execute(sql`update projects set gold_rate = ${rate} where id = ${project.id}`);
}

async function isGold(itemHandle: string, annotatorId: number): Promise<boolean> {
  const { comparisonId } = await resolveHandle(db.current.handle, itemHandle, annotatorId);
  const [row] = await db.current.handle.db.execute<{ gold: boolean }>(sql`select gold_choice is not null as gold from comparisons where id = ${comparisonId}`);
  return row!.gold;
}

/** Every value an annotator could compare, with what necessarily differs between two items blanked. */
function shapeOf(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) => {
      if (['handle', 'expiresAt', 'createdAt', 'firstAt', 'lastAt', 'annotatorId', 'judgmentId', 'promptPreview', 'content'].includes(key)) return typeof v;
      return v;
    }),
  );
}

describe('annotator handles', () => {
  it('differ between annotators for the same comparison and carry no ids', async () => {
    const [a, b] = [await makeUser(db.current.handle), await makeUser(db.current.handle)];
    const project = await projectFor([a, b], { judgmentsRequired: 2, lines: comparisonLines(1, 'same') });
    const [itemA] = (await caller(a).annotation.lease({ project: project.slug, want: 1 })).items;
    const [itemB] = (await caller(b).annotation.lease({ project: project.slug, want: 1 })).items;
    expect(Object.keys(itemA!).sort()).toEqual(['expiresAt', 'handle', 'prompt', 'responses']);
    expect(itemA!.handle).not.toBe(itemB!.handle);
    const [ra, rb] = [await resolveHandle(db.current.handle, itemA!.handle, a.id), await resolveHandle(db.current.handle, itemB!.handle, b.id)];
    expect(ra.comparisonId).toBe(rb.comparisonId);
    expect(itemA!.handle).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(JSON.stringify(itemA)).not.toMatch(/"(comparisonId|assignmentId)"/);
    // A re-lease keeps the handle (the client keeps its queue by it).
    expect((await caller(a).annotation.lease({ project: project.slug, want: 1 })).items[0]!.handle).toBe(itemA!.handle);
  });

  it("refuses another annotator's handle, or a forged one, as NOT_FOUND for submit and skip", async () => {
    const [a, b] = [await makeUser(db.current.handle), await makeUser(db.current.handle)];
    const project = await projectFor([a, b], { judgmentsRequired: 2, lines: comparisonLines(1, 'mine') });
    const [item] = (await caller(a).annotation.lease({ project: project.slug, want: 1 })).items;
    const submit = (user: TSessionUser, handle: string) => caller(user).annotation.submit({ ...verdict, handle, clientSubmissionId: crypto.randomUUID() });
    expect(await trpcRefusal(submit(b, item!.handle))).toBe('NOT_FOUND');
    expect(await trpcRefusal(caller(b).annotation.skip({ handle: item!.handle, reason: 'not mine' }))).toBe('NOT_FOUND');
    // b's handle for a's assignment id is still not a's.
    const { assignmentId } = await resolveHandle(db.current.handle, item!.handle, a.id);
    expect(await trpcRefusal(submit(b, assignmentHandle(assignmentId, b.id)))).toBe('NOT_FOUND');
    expect(await trpcRefusal(submit(a, 'AAAAAAAAAAAAAAAAAAAAAA'))).toBe('NOT_FOUND');
    expect(await trpcRefusal(submit(a, String(assignmentId)))).toBe('NOT_FOUND');
    expect(assignmentOfHandle(item!.handle, b.id)).toBeNull();
    const [row] = await db.current.handle.sql<{ n: number }[]>`select count(*)::int as n from judgments where assignment_id = ${assignmentId}`;
    expect(row).toEqual({ n: 0 });
    await expect(submit(a, item!.handle)).resolves.toMatchObject({ duplicate: false });
  });

  it('puts the gold item at varying places in a batch', async () => {
    const annotators = await Promise.all(Array.from({ length: 12 }, () => makeUser(db.current.handle)));
    const project = await projectFor(annotators, { judgmentsRequired: 20, lines: [...comparisonLines(20, 'work'), ...comparisonLines(12, 'gold')], gold: ['gold'] });
    await setGoldRate(project, 1);
    const places = new Set<number>();
    for (const user of annotators) {
      const { items } = await caller(user).annotation.lease({ project: project.slug, want: 5 });
      expect(items).toHaveLength(5);
      const gold = await Promise.all(items.map((i) => isGold(i.handle, user.id)));
      expect(gold.filter(Boolean)).toHaveLength(1);
      places.add(gold.indexOf(true));
      // The order is stable on a re-lease, so the client's queue does not reshuffle.
      const again = await caller(user).annotation.lease({ project: project.slug, want: 5 });
      expect(again.items.map((i) => i.handle)).toEqual(items.map((i) => i.handle));
    }
    expect(places.size).toBeGreaterThan(1);
  });

  it('answers the same before and after a gold item as for an ordinary one', async () => {
    const [onGold, onPlain] = [await makeUser(db.current.handle), await makeUser(db.current.handle)];
    const project = await projectFor([onGold, onPlain], { judgmentsRequired: 2, lines: [...comparisonLines(3, 'work'), ...comparisonLines(1, 'gold')], gold: ['gold'] });
    // One gold answer is enough to judge, and the answer below is wrong: a flag would show at once.
    await db.current.handle.db.execute(sql`update projects set gold_min_items = 1, gold_threshold = 0.99 where id = ${project.id}`);

    const session = async (user: TSessionUser, goldRate: number) => {
      await setGoldRate(project, goldRate);
      const api = caller(user);
      const before = { mine: await api.annotators.mine({ project: project.slug }), progress: await api.annotation.progress({ project: project.slug }) };
      const lease = await api.annotation.lease({ project: project.slug, want: 1 });
      const [item] = lease.items;
      const gold = await isGold(item!.handle, user.id);
      if (gold) {
        // Expect the response shown second, so the verdict below (position 0) is wrong.
        const { assignmentId, comparisonId } = await resolveHandle(db.current.handle, item!.handle, user.id);
        await db.current.handle.db.execute(sql`
          update comparisons c set gold_choice = cr.position
          from assignments a, comparison_responses cr
          where a.id = ${assignmentId} and c.id = ${comparisonId} and cr.comparison_id = c.id and cr.response_id = a.shown_response_ids[2]`);
      }
      await setGoldRate(project, 0);
      const submitted = await api.annotation.submit({ ...verdict, handle: item!.handle, clientSubmissionId: crypto.randomUUID() });
      const after = {
        mine: await api.annotators.mine({ project: project.slug }),
        progress: await api.annotation.progress({ project: project.slug }),
        history: await api.annotation.history({ project: project.slug }),
        next: await api.annotation.lease({ project: project.slug, want: 1 }),
      };
      return { gold, outputs: shapeOf({ before, lease, submitted, after }) };
    };

    const gold = await session(onGold, 1);
    const plain = await session(onPlain, 0);
    expect([gold.gold, plain.gold]).toEqual([true, false]);
    // The server did score the gold answer as wrong; the annotator cannot tell.
    const [scored] = await db.current.handle.db.execute<{ correct: number }>(sql`
      select count(*) filter (where cr.position = c.gold_choice)::int as correct from judgments j
      join comparisons c on c.id = j.comparison_id join comparison_responses cr on cr.comparison_id = c.id and cr.response_id = j.chosen_response_id
      where j.annotator_id = ${onGold.id} and c.gold_choice is not null`);
    expect(scored).toEqual({ correct: 0 });
    expect(gold.outputs).toEqual(plain.outputs);
  });
});
