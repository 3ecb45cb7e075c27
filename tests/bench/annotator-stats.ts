/**
 * Annotator analytics on a large project: `node --import tsx tests/bench/annotator-stats.ts [judgments]`
 * (default 1,000,000). Data is generated in SQL (the services would take hours to write a
 * million judgments); then `annotatorStats` runs for everyone and for one annotator.
 */
import { sql } from 'drizzle-orm';
import type { TDbHandle } from '@/db/client';
import { annotatorStats } from '@/server/quality/annotator-stats';
import { benchDatabase, round } from './bench-database';

/** A project of `total` judgments: four per comparison by 50 annotators, one comparison in 500 gold. Returns its id. */
export async function generateProject(handle: TDbHandle, total: number): Promise<number> {
  const { db } = handle;
  const perComparison = 4;
  const annotators = 50;
  const comparisons = Math.ceil(total / perComparison);
  const started = performance.now();
  await db.execute(sql`insert into users (email, password_hash) select 'a' || i || '@bench.local', 'x' from generate_series(1, ${annotators}) i`);
  const [project] = await db.execute<{ id: string }>(sql`insert into projects (slug, name, judgments_required) values ('bench', 'Bench', ${perComparison}) returning id`);
  const projectId = Number(project!.id);
  await db.execute(sql`insert into project_members (project_id, user_id, role) select ${projectId}, id, 'annotator' from users`);
  await db.execute(sql`insert into prompts (project_id, messages, content_hash)
    select ${projectId}, jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'p' || i)), md5(i::text) from generate_series(1, ${comparisons}) i`);
  await db.execute(sql`insert into responses (prompt_id, messages, model)
    select p.id, jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', 'r' || s)), 'm' || s from prompts p, generate_series(0, 1) s`);
  await db.execute(sql`insert into comparisons (project_id, prompt_id, content_hash, judgments_required, judgment_count, gold_choice)
    select ${projectId}, p.id, p.content_hash, ${perComparison}, ${perComparison}, case when p.id % 500 = 0 then 0 end from prompts p`);
  await db.execute(sql`insert into comparison_responses (comparison_id, position, response_id)
    select c.id, (r.model = 'm1')::int, r.id from comparisons c join responses r on r.prompt_id = c.prompt_id`);
  // Four annotators per comparison, shifted so everyone meets everyone; sides, strengths and times vary.
  await db.execute(sql`insert into assignments (comparison_id, annotator_id, shown_response_ids, status, expires_at)
    select c.id, 1 + (c.id + k * 13) % ${annotators}, array[0, 0]::bigint[], 'submitted', now()
    from comparisons c, generate_series(0, ${perComparison - 1}) k`);
  await db.execute(sql`insert into judgments (project_id, comparison_id, assignment_id, annotator_id, chosen_response_id, rejected_response_id,
      chosen_position, strength, edited_response_id, time_spent_ms, client_submission_id, created_at)
    select ${projectId}, a.comparison_id, a.id, a.annotator_id,
      (select response_id from comparison_responses where comparison_id = a.comparison_id and position = (h % 2)),
      (select response_id from comparison_responses where comparison_id = a.comparison_id and position = 1 - (h % 2)),
      (h / 2) % 2, (enum_range(null::preference_strength))[1 + (h / 4) % 4], null, 1000 + h % 20000, a.id::text,
      now() - make_interval(secs => (h % (60 * 86400)))
    from (select a.*, abs(hashtext(a.id::text)) as h from assignments a) a`);
  await db.execute(sql`analyze`);
  console.log(`generated ${total.toLocaleString()} judgments in ${round((performance.now() - started) / 1000)} s`);
  return projectId;
}

export async function run(total = Number(process.argv[2] ?? 1_000_000)): Promise<void> {
  const bench = await benchDatabase();
  try {
    const projectId = await generateProject(bench.handle, total);

    const times: Record<string, number> = {};
    for (const [name, options] of [
      ['all (cold)', {}],
      ['all', {}],
      ['one annotator', { annotatorId: 1 }],
    ] as const) {
      const t = performance.now();
      const rows = await annotatorStats(bench.handle, projectId, options);
      times[name] = round(performance.now() - t, 0);
      console.log(`${name}: ${rows.length} annotator(s) in ${times[name]} ms; first: ${rows[0]?.judgments} judgments, agreement ${rows[0]?.agreement.rate?.toFixed(3)}`);
    }
    console.log(JSON.stringify({ bench: 'annotator-stats', judgments: total, ms: times }));
  } finally {
    await bench.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
