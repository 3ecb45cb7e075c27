import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { hashPassword } from '@/server/auth/passwords';
import { createProject } from '@/server/projects/projects';

export const LOAD_PASSWORD = 'load-bench-password';
export const loadEmail = (i: number) => `load${i}@bench.local`;

/**
 * `count` annotators sharing one password. Hashed once: argon2 for each of 1,000 accounts would
 * take longer than the run it prepares, and sign-in verifies the same hash either way.
 */
export async function insertAnnotators(db: TDb, count: number): Promise<void> {
  const hash = await hashPassword(LOAD_PASSWORD);
  await db.execute(sql`insert into users (email, password_hash, role)
    select 'load' || i || '@bench.local', ${hash}, 'annotator' from generate_series(0, ${count - 1}) i`);
}

/**
 * A project of `comparisons` two-response pairs (about 1 KB per response, so a lease answer has
 * the weight of real text), all of the first `annotators` load accounts its members.
 * Set-based SQL: importing tens of thousands of lines through the importer is not what this measures.
 */
export async function buildLoadProject(
  db: TDb,
  { slug, comparisons, annotators, judgmentsRequired }: { slug: string; comparisons: number; annotators: number; judgmentsRequired: number },
): Promise<number> {
  const project = await createProject(db, { slug, name: `Load ${slug}`, judgmentsRequired, leaseSeconds: 900 });
  const p = project.id;
  const filler = 'The quick brown fox jumps over the lazy dog while the answer explains its reasoning step by step. '.repeat(10);
  await db.execute(sql`insert into project_members (project_id, user_id, role)
    select ${p}, id, 'annotator' from users where email = any(${`{${Array.from({ length: annotators }, (_, i) => loadEmail(i)).join(',')}}`}::text[])`);
  await db.execute(sql`insert into prompts (project_id, messages, content_hash)
    select ${p}, jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'Question ' || i || ': which answer is better?')), md5(${slug} || i)
    from generate_series(1, ${comparisons}) i`);
  await db.execute(sql`insert into responses (prompt_id, messages, model, origin)
    select pr.id, jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', 'Answer ' || s || ' to ' || pr.id || '. ' || ${filler})), 'model-' || s, 'model'
    from prompts pr, generate_series(0, 1) s where pr.project_id = ${p}`);
  await db.execute(sql`insert into comparisons (project_id, prompt_id, content_hash, judgments_required)
    select ${p}, pr.id, md5('c' || pr.id), ${judgmentsRequired} from prompts pr where pr.project_id = ${p}`);
  await db.execute(sql`insert into comparison_responses (comparison_id, position, response_id)
    select c.id, row_number() over (partition by c.id order by r.id) - 1, r.id
    from comparisons c join responses r on r.prompt_id = c.prompt_id where c.project_id = ${p}`);
  return p;
}

export interface TIntegrity {
  judgments: number;
  /** Acknowledged by a successful submit, not stored. */
  lost: number;
  /** Judgments beyond the first by one annotator on one comparison. */
  duplicated: number;
  /** Comparisons holding more judgments than they require. */
  overQuota: number;
  /** Comparisons whose kept-in-step counter disagrees with their judgments. */
  countDrift: number;
}

export async function checkIntegrity(db: TDb, projectId: number, acknowledged: string[]): Promise<TIntegrity> {
  const [row] = (await db.execute(sql`
    select
      (select count(*)::int from judgments where project_id = ${projectId}) as judgments,
      ${acknowledged.length}::int - (select count(*)::int from judgments
        where project_id = ${projectId} and client_submission_id = any(${`{${acknowledged.join(',')}}`}::text[])) as lost,
      (select coalesce(sum(n - 1), 0)::int from (select count(*) as n from judgments where project_id = ${projectId}
        group by annotator_id, comparison_id having count(*) > 1) d) as duplicated,
      (select count(*)::int from (select c.id from comparisons c join judgments j on j.comparison_id = c.id
        where c.project_id = ${projectId} group by c.id, c.judgments_required having count(*) > c.judgments_required) o) as over_quota,
      (select count(*)::int from comparisons c where c.project_id = ${projectId}
        and c.judgment_count <> (select count(*) from judgments j where j.comparison_id = c.id)) as count_drift`)) as unknown as {
    judgments: number;
    lost: number;
    duplicated: number;
    over_quota: number;
    count_drift: number;
  }[];
  return { judgments: row!.judgments, lost: row!.lost, duplicated: row!.duplicated, overQuota: row!.over_quota, countDrift: row!.count_drift };
}
