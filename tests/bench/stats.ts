/**
 * Project statistics at scale: builds a project of 1,000,000 judgments (333,334 comparisons
 * judged three times each by 50 annotators, responses from 50 models whose true ratings are
 * spread over 400 points, choices drawn from the Bradley-Terry model) with set-based SQL, then
 * times the project statistics (counts, per-day, strengths, gold, agreement with bootstrap
 * intervals) and the leaderboard (1,000 bootstrap rounds over 50 models).
 * Goals: statistics under 5 s, leaderboard under 10 s.
 */
import { sql } from 'drizzle-orm';
import { createProject } from '@/server/projects/projects';
import { getProjectStats, projectLeaderboard } from '@/server/quality/project-stats';
import { benchDatabase, round } from './bench-database';

const JUDGMENTS = Number(process.env.BENCH_JUDGMENTS ?? 1_000_000);
const PER_COMPARISON = 3;
const ANNOTATORS = 50;
const MODELS = 50;

export async function run(): Promise<void> {
  const bench = await benchDatabase();
  const { db } = bench.handle;
  try {
    const project = await createProject(db, { slug: 'stats-bench', name: 'Stats bench', judgmentsRequired: PER_COMPARISON });
    const comparisons = Math.ceil(JUDGMENTS / PER_COMPARISON);
    const p = project.id;
    let t = performance.now();
    const steps: [string, ReturnType<typeof sql>][] = [
      ['annotators', sql`insert into users (id, email, password_hash, role) overriding system value
        select 1000 + a, 'bench' || a || '@bench.local', 'x', 'annotator' from generate_series(0, ${ANNOTATORS - 1}) a`],
      ['prompts', sql`insert into prompts (id, project_id, messages, content_hash) overriding system value
        select i, ${p}, jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'Question ' || i)), md5(i::text)
        from generate_series(1, ${comparisons}) i`],
      // Two different models per comparison: a, and b = a + 1 + (i mod 49) (mod 50).
      ['responses', sql`insert into responses (id, prompt_id, messages, model, origin) overriding system value
        select 2 * i + s, i, jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', 'Answer ' || s || ' to ' || i)),
          'model-' || lpad(((case when s = 0 then (i * 7) % ${MODELS} else ((i * 7) % ${MODELS} + 1 + i % ${MODELS - 1}) % ${MODELS} end))::text, 2, '0'), 'model'
        from generate_series(1, ${comparisons}) i, generate_series(0, 1) s`],
      ['comparisons', sql`insert into comparisons (id, project_id, prompt_id, content_hash, judgments_required, judgment_count, created_at) overriding system value
        select i, ${p}, i, md5('c' || i), ${PER_COMPARISON}, ${PER_COMPARISON}, now() - (i % 60) * interval '1 day' from generate_series(1, ${comparisons}) i`],
      ['comparison_responses', sql`insert into comparison_responses (comparison_id, position, response_id)
        select i, s, 2 * i + s from generate_series(1, ${comparisons}) i, generate_series(0, 1) s`],
      ['assignments', sql`insert into assignments (id, comparison_id, annotator_id, shown_response_ids, status, expires_at) overriding system value
        select ${PER_COMPARISON} * i + k, i, 1000 + (i * ${PER_COMPARISON} + k) % ${ANNOTATORS},
          case when (i + k) % 2 = 0 then array[2 * i, 2 * i + 1] else array[2 * i + 1, 2 * i] end, 'submitted', now()
        from generate_series(1, ${comparisons}) i, generate_series(0, ${PER_COMPARISON - 1}) k`],
      // True rating of model m: 800 + 8m. The first response wins with the Bradley-Terry probability.
      ['judgments', sql`insert into judgments (id, project_id, comparison_id, assignment_id, annotator_id, chosen_response_id, rejected_response_id,
          chosen_position, strength, time_spent_ms, client_submission_id, created_at) overriding system value
        select x.id, ${p}, x.i, x.id, 1000 + (x.i * ${PER_COMPARISON} + x.k) % ${ANNOTATORS},
          case when x.first_wins then 2 * x.i else 2 * x.i + 1 end, case when x.first_wins then 2 * x.i + 1 else 2 * x.i end,
          case when x.first_wins = ((x.i + x.k) % 2 = 0) then 0 else 1 end,
          (enum_range(null::preference_strength))[1 + (x.i + x.k) % 4], 2000 + (x.i * 37 + x.k * 11) % 30000, 'b' || x.id,
          now() - (x.i % 60) * interval '1 day'
        from (select i, k, ${PER_COMPARISON} * i + k as id,
                random() < 1 / (1 + power(10, ((substr(rb.model, 7)::int - substr(ra.model, 7)::int) * 8) / 400.0)) as first_wins
              from generate_series(1, ${comparisons}) i cross join generate_series(0, ${PER_COMPARISON - 1}) k
              join responses ra on ra.id = 2 * i join responses rb on rb.id = 2 * i + 1
              where ${PER_COMPARISON} * (i - 1) + k < ${JUDGMENTS}) x`],
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
    console.log(`built ${n.toLocaleString('en')} judgments in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    const stats = await getProjectStats(bench.handle, p, { leaderboard: false });
    const statsSeconds = (performance.now() - t) / 1000;
    console.log(`project statistics: ${statsSeconds.toFixed(2)} s (goal < 5 s)  ${JSON.stringify(stats.timings)}`);
    console.log(`  agreement over ${stats.agreement.units.toLocaleString('en')} comparisons: raw ${stats.agreement.raw?.estimate.toFixed(3)} [${stats.agreement.raw?.low.toFixed(3)}, ${stats.agreement.raw?.high.toFixed(3)}], alpha ${stats.agreement.krippendorffAlpha?.estimate.toFixed(3)}`);

    t = performance.now();
    const board = await projectLeaderboard(bench.handle, p, { leaderboardRounds: 1000 });
    const leaderboardSeconds = (performance.now() - t) / 1000;
    const top = board.models.slice(0, 3).map((m) => `${m.name} ${m.rating.toFixed(0)} [${m.low.toFixed(0)}, ${m.high.toFixed(0)}]`);
    console.log(`leaderboard: ${board.models.length} models, 1,000 bootstrap rounds, ${leaderboardSeconds.toFixed(2)} s (goal < 10 s); top: ${top.join('; ')}`);

    console.log(JSON.stringify({ bench: 'stats', judgments: n, stats_s: round(statsSeconds, 2), leaderboard_s: round(leaderboardSeconds, 2) }));
  } finally {
    await bench.close();
  }
}
