import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';

/**
 * Fills project `p` of an empty bench database with `judgments` pair judgments, in set-based
 * SQL: ceil(judgments / perComparison) comparisons of two responses from different models
 * (true rating of model m: 800 + 8m; the first response wins with the Bradley-Terry
 * probability), each judged perComparison times by `annotators` annotators, strengths cycling
 * through the four levels, dates over 60 days. Returns the judgment count.
 */
export async function buildJudgedProject(
  db: TDb,
  p: number,
  { judgments, perComparison = 3, annotators = 50, models = 50 }: { judgments: number; perComparison?: number; annotators?: number; models?: number },
): Promise<number> {
  const comparisons = Math.ceil(judgments / perComparison);
  const steps: [string, ReturnType<typeof sql>][] = [
    ['annotators', sql`insert into users (id, email, password_hash, role) overriding system value
      select 1000 + a, 'bench' || a || '@bench.local', 'x', 'annotator' from generate_series(0, ${annotators - 1}) a`],
    ['prompts', sql`insert into prompts (id, project_id, messages, content_hash) overriding system value
      select i, ${p}, jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'Question ' || i)), md5(i::text)
      from generate_series(1, ${comparisons}) i`],
    // Two different models per comparison: a, and b = a + 1 + (i mod 49) (mod 50).
    ['responses', sql`insert into responses (id, prompt_id, messages, model, origin) overriding system value
      select 2 * i + s, i, jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', 'Answer ' || s || ' to ' || i)),
        'model-' || lpad(((case when s = 0 then (i * 7) % ${models} else ((i * 7) % ${models} + 1 + i % ${models - 1}) % ${models} end))::text, 2, '0'), 'model'
      from generate_series(1, ${comparisons}) i, generate_series(0, 1) s`],
    ['comparisons', sql`insert into comparisons (id, project_id, prompt_id, content_hash, judgments_required, judgment_count, created_at) overriding system value
      select i, ${p}, i, md5('c' || i), ${perComparison}, ${perComparison}, now() - (i % 60) * interval '1 day' from generate_series(1, ${comparisons}) i`],
    ['comparison_responses', sql`insert into comparison_responses (comparison_id, position, response_id)
      select i, s, 2 * i + s from generate_series(1, ${comparisons}) i, generate_series(0, 1) s`],
    ['assignments', sql`insert into assignments (id, comparison_id, annotator_id, shown_response_ids, status, expires_at) overriding system value
      select ${perComparison} * i + k, i, 1000 + (i * ${perComparison} + k) % ${annotators},
        case when (i + k) % 2 = 0 then array[2 * i, 2 * i + 1] else array[2 * i + 1, 2 * i] end, 'submitted', now()
      from generate_series(1, ${comparisons}) i, generate_series(0, ${perComparison - 1}) k`],
    // True rating of model m: 800 + 8m. The first response wins with the Bradley-Terry probability.
    ['judgments', sql`insert into judgments (id, project_id, comparison_id, assignment_id, annotator_id, chosen_response_id, rejected_response_id,
        chosen_position, strength, time_spent_ms, client_submission_id, created_at) overriding system value
      select x.id, ${p}, x.i, x.id, 1000 + (x.i * ${perComparison} + x.k) % ${annotators},
        case when x.first_wins then 2 * x.i else 2 * x.i + 1 end, case when x.first_wins then 2 * x.i + 1 else 2 * x.i end,
        case when x.first_wins = ((x.i + x.k) % 2 = 0) then 0 else 1 end,
        (enum_range(null::preference_strength))[1 + (x.i + x.k) % 4], 2000 + (x.i * 37 + x.k * 11) % 30000, 'b' || x.id,
        now() - (x.i % 60) * interval '1 day'
      from (select i, k, ${perComparison} * i + k as id,
              random() < 1 / (1 + power(10, ((substr(rb.model, 7)::int - substr(ra.model, 7)::int) * 8) / 400.0)) as first_wins
            from generate_series(1, ${comparisons}) i cross join generate_series(0, ${perComparison - 1}) k
            join responses ra on ra.id = 2 * i join responses rb on rb.id = 2 * i + 1
            where ${perComparison} * (i - 1) + k < ${judgments}) x`],
    ['judgment_ranks', sql`insert into judgment_ranks (judgment_id, response_id, rank)
      select id, chosen_response_id, 1 from judgments where project_id = ${p}
      union all select id, rejected_response_id, 2 from judgments where project_id = ${p}`],
    ['sequences', sql`select setval('users_id_seq', (select max(id) from users)), setval('prompts_id_seq', (select max(id) from prompts)),
      setval('responses_id_seq', (select max(id) from responses)), setval('comparisons_id_seq', (select max(id) from comparisons)),
      setval('assignments_id_seq', (select max(id) from assignments)), setval('judgments_id_seq', (select max(id) from judgments))`],
    ['analyze', sql`analyze`],
  ];
  for (const [name, statement] of steps) {
    const s = performance.now();
    await db.execute(statement);
    console.log(`  built ${name.padEnd(22)} ${((performance.now() - s) / 1000).toFixed(1)} s`);
  }
  const [{ n }] = (await db.execute(sql`select count(*)::int as n from judgments where project_id = ${p}`)) as unknown as [{ n: number }];
  return n;
}
