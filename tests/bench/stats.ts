/**
 * Project statistics at scale: builds a project of 1,000,000 judgments (333,334 comparisons
 * judged three times each by 50 annotators, responses from 50 models whose true ratings are
 * spread over 400 points, choices drawn from the Bradley-Terry model) with set-based SQL, then
 * times the project statistics (counts, per-day, strengths, gold, agreement with bootstrap
 * intervals) and the leaderboard (1,000 bootstrap rounds over 50 models).
 * Goals: statistics under 5 s, leaderboard under 10 s.
 */
import { createProject } from '@/server/projects/projects';
import { getProjectStats, projectLeaderboard } from '@/server/quality/project-stats';
import { benchDatabase, round } from './bench-database';
import { buildJudgedProject } from './judged-project';

const JUDGMENTS = Number(process.env.BENCH_JUDGMENTS ?? 1_000_000);
const PER_COMPARISON = 3;
const ANNOTATORS = 50;
const MODELS = 50;

export async function run(): Promise<void> {
  const bench = await benchDatabase();
  const { db } = bench.handle;
  try {
    const project = await createProject(db, { slug: 'stats-bench', name: 'Stats bench', judgmentsRequired: PER_COMPARISON });
    const p = project.id;
    let t = performance.now();
    const n = await buildJudgedProject(db, p, { judgments: JUDGMENTS, perComparison: PER_COMPARISON, annotators: ANNOTATORS, models: MODELS });
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
