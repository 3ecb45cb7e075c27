/**
 * The annotation cycle without the web app: the statements of leaseComparisons and
 * submitJudgment (server/annotation/lease.ts, submit-judgment.ts), in the same order and the
 * same transactions, sent through a plain postgres.js pool. What the web app adds on top of
 * this (HTTP, Next.js, next-auth, tRPC, zod, drizzle, the membership check) is what the load
 * bench's ratio measures, so any change to those services' SQL must be mirrored here.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type postgres from 'postgres';

type TSql = postgres.Sql | postgres.TransactionSql;

const idArray = (ids: readonly number[]) => `{${ids.map((id) => Math.trunc(Number(id))).join(',')}}`;

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function openComparisons(sql: TSql, projectId: number, annotatorId: number) {
  return sql`
    select c.id from comparisons c
    where c.project_id = ${projectId}
      and c.judgment_count < c.judgments_required
      and c.gold_choice is null
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

async function hasOpenWork(sql: TSql, projectId: number, annotatorId: number): Promise<boolean> {
  const [row] = await sql`select exists (${openComparisons(sql, projectId, annotatorId)}) as open`;
  return Boolean(row?.open);
}

export interface TRawLease {
  projectId: number;
  annotatorId: number;
  leaseSeconds: number;
  want: number;
  goldRate: number;
}

export interface TRawItem {
  assignmentId: number;
  shown: number[];
}

export async function rawLease(sql: postgres.Sql, input: TRawLease): Promise<TRawItem[]> {
  for (let attempt = 0; ; attempt++) {
    const items = await rawLeaseOnce(sql, input);
    if (items.length >= input.want || attempt >= 4 || !(await hasOpenWork(sql, input.projectId, input.annotatorId))) return items;
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 40 * (attempt + 1)));
  }
}

async function rawLeaseOnce(sql: postgres.Sql, input: TRawLease): Promise<TRawItem[]> {
  return sql.begin(async (tx) => {
    const held = await tx`
      select a.id from assignments a join comparisons c on c.id = a.comparison_id
      where a.annotator_id = ${input.annotatorId} and c.project_id = ${input.projectId}
        and a.status = 'active' and a.expires_at > now()
      order by a.leased_at, md5(a.id::text)`;
    const assignmentIds = held.map((r) => Number(r.id));
    let goldId: number | null = null;
    if (assignmentIds.length < input.want && Math.random() < input.goldRate && (assignmentIds.length > 0 || (await hasOpenWork(tx, input.projectId, input.annotatorId)))) {
      const [gold] = await tx`
        select c.id, (select array_agg(response_id order by position) from comparison_responses where comparison_id = c.id) as ids
        from comparisons c
        where c.project_id = ${input.projectId} and c.gold_choice is not null
          and not exists (select 1 from assignments mine where mine.comparison_id = c.id and mine.annotator_id = ${input.annotatorId})
        order by random()
        limit 1`;
      if (gold) {
        const [leased] = await tx`
          insert into assignments (comparison_id, annotator_id, shown_response_ids, expires_at)
          values (${Number(gold.id)}, ${input.annotatorId}, ${idArray(shuffled((gold.ids as number[]).map(Number)))}::bigint[], now() + make_interval(secs => ${input.leaseSeconds}))
          on conflict (comparison_id, annotator_id) do nothing
          returning id`;
        goldId = leased ? Number(leased.id) : null;
      }
    }
    const gold = goldId === null ? 0 : 1;

    const full: number[] = [];
    for (let attempts = 0; assignmentIds.length < input.want - gold && attempts < 5; attempts++) {
      const need = input.want - gold - assignmentIds.length;
      const candidates = await tx`
        ${openComparisons(tx, input.projectId, input.annotatorId)}
          and not (c.id = any(${idArray(full)}::bigint[]))
        order by c.id
        limit ${need}
        for update of c skip locked`;
      if (candidates.length === 0) break;
      const open = await tx`
        select c.id from comparisons c
        where c.id = any(${idArray(candidates.map((r) => Number(r.id)))}::bigint[])
          and c.judgment_count + (
            select count(*) from assignments o
            where o.comparison_id = c.id and o.status = 'active' and o.expires_at > now()
              and o.annotator_id <> ${input.annotatorId}) < c.judgments_required
        order by c.id`;
      const openIds = new Set(open.map((r) => Number(r.id)));
      full.push(...candidates.map((r) => Number(r.id)).filter((id) => !openIds.has(id)));
      if (open.length === 0) continue;
      const responseIds = await tx`
        select comparison_id, array_agg(response_id order by position) as ids from comparison_responses
        where comparison_id = any(${idArray(open.map((r) => Number(r.id)))}::bigint[])
        group by comparison_id
        order by comparison_id`;
      for (const row of responseIds) {
        const shown = shuffled((row.ids as number[]).map(Number));
        const [leased] = await tx`
          insert into assignments (comparison_id, annotator_id, shown_response_ids, expires_at)
          values (${Number(row.comparison_id)}, ${input.annotatorId}, ${idArray(shown)}::bigint[],
                  now() + make_interval(secs => ${input.leaseSeconds}))
          on conflict (comparison_id, annotator_id) do update
            set shown_response_ids = excluded.shown_response_ids, leased_at = now(), expires_at = excluded.expires_at
            where assignments.status = 'active'
          returning id`;
        if (leased) assignmentIds.push(Number(leased.id));
      }
    }
    if (goldId !== null) assignmentIds.push(goldId);
    const ordered = await tx`
      select a.id from assignments a where a.id = any(${idArray(assignmentIds)}::bigint[]) order by a.leased_at, md5(a.id::text)`;
    const orderedIds = ordered.map((r) => Number(r.id));
    if (orderedIds.length === 0) return [];
    // What the annotate page is sent: prompt and responses in the shown order.
    const rows = await tx`
      select a.id as assignment_id, a.comparison_id, a.expires_at, a.shown_response_ids, p.messages as prompt,
        (select json_agg(r.messages order by s.ord) from unnest(a.shown_response_ids) with ordinality as s(response_id, ord)
          join responses r on r.id = s.response_id) as responses
      from assignments a
      join comparisons c on c.id = a.comparison_id
      join prompts p on p.id = c.prompt_id
      where a.id = any(${idArray(orderedIds)}::bigint[])`;
    const byId = new Map(rows.map((r) => [Number(r.assignment_id), r]));
    return orderedIds.flatMap((id) => {
      const r = byId.get(id);
      return r ? [{ assignmentId: id, shown: (r.shown_response_ids as number[]).map(Number) }] : [];
    });
  });
}

/** A pair verdict as the page sends it (no edit, no rationale, no flags). Returns the client submission id. */
export async function rawSubmit(
  sql: postgres.Sql,
  input: { annotatorId: number; assignmentId: number; chosenPosition: number; strength: string; timeSpentMs: number },
): Promise<string> {
  const clientSubmissionId = randomUUID();
  await sql.begin(async (tx) => {
    const [assignment] = await tx`select comparison_id from assignments where id = ${input.assignmentId} and annotator_id = ${input.annotatorId}`;
    if (!assignment) throw new Error('no such assignment for this annotator');
    const [comparison] = await tx`
      select project_id, prompt_id, judgment_count, judgments_required, gold_choice is not null as gold
      from comparisons where id = ${assignment.comparison_id} for update`;
    if (!comparison) throw new Error('the comparison no longer exists');
    const [previous] = await tx`
      select id, assignment_id from judgments where annotator_id = ${input.annotatorId} and client_submission_id = ${clientSubmissionId}`;
    if (previous) return;
    const [lease] = await tx`select status, expires_at <= now() as expired, shown_response_ids from assignments where id = ${input.assignmentId}`;
    if (!lease || lease.status !== 'active') throw new Error(`assignment ${input.assignmentId} is ${lease?.status ?? 'gone'}`);
    if (lease.expired && !comparison.gold) {
      const [others] = await tx`
        select count(*)::int as n from assignments
        where comparison_id = ${assignment.comparison_id} and annotator_id <> ${input.annotatorId}
          and status = 'active' and expires_at > now()`;
      if (comparison.judgment_count + (others?.n ?? 0) >= comparison.judgments_required) throw new Error('the lease expired and went to another annotator');
    }
    const [project] = await tx`
      select edit_mode as "editMode", allow_ties as "allowTies", ranking_strength as "rankingStrength",
        (select max(version) from project_guidelines g where g.project_id = p.id) as guidelines_version
      from projects p where p.id = ${comparison.project_id}`;
    const shown = (lease.shown_response_ids as number[]).map(Number);
    const chosen = shown[input.chosenPosition]!;
    const rejected = shown[1 - input.chosenPosition]!;
    // The edit step reads the chosen response whenever the project allows edits, edit or not.
    if (project!.editMode !== 'off') await tx`select messages from responses where id = ${chosen}`;
    const [judgment] = await tx`
      insert into judgments (project_id, comparison_id, assignment_id, annotator_id, chosen_response_id, rejected_response_id,
        chosen_position, strength, rank_strengths, edited_response_id, flags, guidelines_version, rationale, time_spent_ms, client_submission_id)
      values (${comparison.project_id}, ${assignment.comparison_id}, ${input.assignmentId}, ${input.annotatorId},
        ${chosen}, ${rejected}, ${input.chosenPosition}, ${input.strength}, ${null}::preference_strength[], ${null},
        ${'{}'}::text[], ${project!.guidelines_version}, ${null}, ${input.timeSpentMs}, ${clientSubmissionId})
      returning id`;
    await tx`
      insert into judgment_ranks (judgment_id, response_id, rank)
      select ${Number(judgment!.id)}, r.response_id, r.rank from unnest(${idArray([chosen, rejected])}::bigint[], ${'{1,2}'}::int[]) as r(response_id, rank)`;
    await tx`update assignments set status = 'submitted' where id = ${input.assignmentId}`;
    await tx`update comparisons set judgment_count = judgment_count + 1 where id = ${assignment.comparison_id}`;
  });
  return clientSubmissionId;
}
