import { randomInt } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import type { TMessage } from '@/db/schema';

export interface TLeasedComparison {
  assignmentId: number;
  comparisonId: number;
  expiresAt: string;
  prompt: TMessage[];
  /** Responses in the shown order, left to right. Model names are withheld from annotators. */
  responses: { messages: TMessage[] }[];
}

/** A bigint[] parameter: one bound value however many ids. */
export function bigintArray(ids: readonly number[]) {
  return sql`${`{${ids.map((id) => Math.trunc(Number(id))).join(',')}}`}::bigint[]`;
}

/**
 * The order an annotator's leases are served in: older leases first (the item on screen stays
 * first), then by a hash of the assignment id, which annotators never see (they hold handles).
 * Within one lease call that is a fixed pseudo-random order, the same on every re-lease, so the
 * gold item's place in a batch is random yet stable; ordering by id would put it where it was
 * inserted.
 */
const leaseOrder = sql`a.leased_at, md5(a.id::text)`;

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The annotator's current leases in a project, topped up to `want` with new ones.
 *
 * Capacity rule: a comparison is open while its submitted judgments plus unexpired leases
 * are fewer than it requires. Candidates are locked FOR UPDATE SKIP LOCKED (concurrent
 * annotators pass over each other's rows instead of waiting), then re-counted in a later
 * statement: under READ COMMITTED that statement sees every lease committed before our
 * lock was granted, which the candidate query's older snapshot may have missed.
 * Every writer of leases and judgments holds the comparison's row lock.
 */
export async function leaseComparisons(
  db: TDb,
  input: { projectId: number; annotatorId: number; leaseSeconds: number; want: number; goldRate?: number },
): Promise<TLeasedComparison[]> {
  // SKIP LOCKED can come back short while other annotators' transactions hold the rows we
  // would get: when open work remains, try again shortly rather than report "all done".
  for (let attempt = 0; ; attempt++) {
    const items = await leaseOnce(db, input);
    if (items.length >= input.want || attempt >= 4 || !(await hasOpenWork(db, input))) return items;
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 40 * (attempt + 1)));
  }
}

/** Is anything in the project still open for this annotator (ignoring their current leases)? */
async function hasOpenWork(db: TDb, input: { projectId: number; annotatorId: number }): Promise<boolean> {
  const [row] = await db.execute<{ open: boolean }>(sql`
    select exists (${openComparisons(input.projectId, input.annotatorId)}) as open`);
  return row?.open ?? false;
}

/** Comparisons that, as far as this statement's snapshot can tell, have room for this annotator. */
function openComparisons(projectId: number, annotatorId: number) {
  return sql`
    select c.id from comparisons c
    where c.project_id = ${projectId}
      and c.judgment_count < c.judgments_required
      and c.gold_choice is null
      -- A live turn's comparison belongs to the annotator who wrote the prompt.
      and not exists (select 1 from live_turns t where t.comparison_id = c.id)
      and not exists (
        select 1 from assignments mine
        where mine.comparison_id = c.id and mine.annotator_id = ${annotatorId}
          and (mine.status <> 'active' or mine.expires_at > now()))
      and c.judgment_count + (
        select count(*) from assignments o
        where o.comparison_id = c.id and o.status = 'active' and o.expires_at > now()
          and o.annotator_id <> ${annotatorId}) < c.judgments_required`;
}

async function leaseOnce(
  db: TDb,
  input: { projectId: number; annotatorId: number; leaseSeconds: number; want: number; goldRate?: number },
): Promise<TLeasedComparison[]> {
  return db.transaction(async (tx) => {
    const held = await tx.execute<{ id: number }>(sql`
      select a.id from assignments a join comparisons c on c.id = a.comparison_id
      where a.annotator_id = ${input.annotatorId} and c.project_id = ${input.projectId}
        and a.status = 'active' and a.expires_at > now()
      order by ${leaseOrder}`);
    const assignmentIds = held.map((r) => Number(r.id));
    // Gold items take the place of a new comparison at the project's rate, only among real work;
    // when this annotator has seen every gold item, the slot goes to a real comparison.
    let goldId: number | null = null;
    if (assignmentIds.length < input.want && Math.random() < (input.goldRate ?? 0) && (assignmentIds.length > 0 || (await hasOpenWork(tx, input)))) {
      goldId = await leaseGoldItem(tx, input);
    }
    const gold = goldId === null ? 0 : 1;

    const full: number[] = [];
    for (let attempts = 0; assignmentIds.length < input.want - gold && attempts < 5; attempts++) {
      const need = input.want - gold - assignmentIds.length;
      // Lock only as many rows as we need: every row we lock is one other annotators skip.
      const candidates = await tx.execute<{ id: number }>(sql`
        ${openComparisons(input.projectId, input.annotatorId)}
          and not (c.id = any(${bigintArray(full)}))
        order by c.id
        limit ${need}
        for update of c skip locked`);
      if (candidates.length === 0) break;

      // Re-count under the lock, in a new statement that sees every lease committed before it.
      const open = await tx.execute<{ id: number }>(sql`
        select c.id from comparisons c
        where c.id = any(${bigintArray(candidates.map((r) => r.id))})
          and c.judgment_count + (
            select count(*) from assignments o
            where o.comparison_id = c.id and o.status = 'active' and o.expires_at > now()
              and o.annotator_id <> ${input.annotatorId}) < c.judgments_required
        order by c.id`);
      const openIds = new Set(open.map((r) => Number(r.id)));
      full.push(...candidates.map((r) => Number(r.id)).filter((id) => !openIds.has(id)));
      if (open.length === 0) continue;

      const responseIds = await tx.execute<{ comparison_id: number; ids: number[] }>(sql`
        select comparison_id, array_agg(response_id order by position) as ids from comparison_responses
        where comparison_id = any(${bigintArray(open.map((r) => r.id))})
        group by comparison_id
        order by comparison_id`);
      for (const row of responseIds) {
        const shown = shuffled(row.ids.map(Number));
        // An annotator's own expired lease is renewed in place: still one row per (comparison, annotator).
        const [leased] = await tx.execute<{ id: number }>(sql`
          insert into assignments (comparison_id, annotator_id, shown_response_ids, expires_at)
          values (${Number(row.comparison_id)}, ${input.annotatorId}, ${`{${shown.join(',')}}`}::bigint[],
                  now() + make_interval(secs => ${input.leaseSeconds}))
          on conflict (comparison_id, annotator_id) do update
            set shown_response_ids = excluded.shown_response_ids, leased_at = now(), expires_at = excluded.expires_at
            where assignments.status = 'active'
          returning id`);
        if (leased) assignmentIds.push(Number(leased.id));
      }
    }
    if (goldId !== null) assignmentIds.push(goldId);
    // The gold row was inserted apart from the others: return the batch in an order that owes
    // nothing to insertion (see leaseOrder), so gold's place in it varies.
    const ordered = await tx.execute<{ id: number }>(sql`
      select a.id from assignments a where a.id = any(${bigintArray(assignmentIds)}) order by ${leaseOrder}`);
    return loadLeasedComparisons(tx, ordered.map((r) => Number(r.id)));
  });
}

/**
 * One gold item this annotator has not seen, in random order (so annotators do not meet gold
 * in the same sequence). Gold is judged by everyone: no capacity, so no row lock is needed.
 */
async function leaseGoldItem(tx: TDb, input: { projectId: number; annotatorId: number; leaseSeconds: number }): Promise<number | null> {
  const [row] = await tx.execute<{ id: number; ids: number[] }>(sql`
    select c.id, (select array_agg(response_id order by position) from comparison_responses where comparison_id = c.id) as ids
    from comparisons c
    where c.project_id = ${input.projectId} and c.gold_choice is not null
      and not exists (select 1 from assignments mine where mine.comparison_id = c.id and mine.annotator_id = ${input.annotatorId})
    order by random()
    limit 1`);
  if (!row) return null;
  const shown = shuffled(row.ids.map(Number));
  const [leased] = await tx.execute<{ id: number }>(sql`
    insert into assignments (comparison_id, annotator_id, shown_response_ids, expires_at)
    values (${Number(row.id)}, ${input.annotatorId}, ${`{${shown.join(',')}}`}::bigint[], now() + make_interval(secs => ${input.leaseSeconds}))
    on conflict (comparison_id, annotator_id) do nothing
    returning id`);
  return leased ? Number(leased.id) : null;
}

/** Assignments as the judging UI shows them, in the order of `assignmentIds`. Also used by live generation. */
export async function loadLeasedComparisons(tx: TDb, assignmentIds: number[]): Promise<TLeasedComparison[]> {
  if (assignmentIds.length === 0) return [];
  const rows = await tx.execute<{ assignment_id: number; comparison_id: number; expires_at: Date; prompt: TMessage[]; responses: TMessage[][] }>(sql`
    select a.id as assignment_id, a.comparison_id, a.expires_at, p.messages as prompt,
      (select json_agg(r.messages order by s.ord) from unnest(a.shown_response_ids) with ordinality as s(response_id, ord)
        join responses r on r.id = s.response_id) as responses
    from assignments a
    join comparisons c on c.id = a.comparison_id
    join prompts p on p.id = c.prompt_id
    where a.id = any(${bigintArray(assignmentIds)})`);
  const byId = new Map(rows.map((r) => [Number(r.assignment_id), r]));
  return assignmentIds.flatMap((id) => {
    const r = byId.get(id);
    if (!r) return [];
    return [
      {
        assignmentId: id,
        comparisonId: Number(r.comparison_id),
        expiresAt: new Date(r.expires_at).toISOString(),
        prompt: r.prompt,
        responses: r.responses.map((messages) => ({ messages })),
      },
    ];
  });
}
