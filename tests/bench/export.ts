/**
 * Export throughput against PostgreSQL's own floor. Builds a project of 1,000,000 pair
 * judgments (BENCH_JUDGMENTS to change), then in the same run:
 *   - ours: the TRL export (`streamExportLines`, what the worker and the CLI write), drained;
 *   - baseline: `COPY (SELECT json_build_object(...) ...) TO STDOUT` of the same pairs with the
 *     same columns, drained: the server serialising JSON with no client work at all.
 * Prints pairs/s for both, their ratio (goal >= 0.5), and the peak RSS of this process during
 * our export (goal < 300 MB: the export streams through a cursor).
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createProject } from '@/server/projects/projects';
import { streamExport } from '@/server/exports/export-lines';
import { benchDatabase, round } from './bench-database';
import { buildJudgedProject } from './judged-project';

const JUDGMENTS = Number(process.env.BENCH_JUDGMENTS ?? 1_000_000);

/** A sink that counts bytes and lines. */
function counter() {
  const seen = { bytes: 0, lines: 0 };
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      seen.bytes += buffer.length;
      for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) seen.lines += 1;
      done();
    },
  });
  return { sink, seen };
}

/** Peak resident set size while `fn` runs, sampled every 20 ms. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, peakMb: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

export async function run(): Promise<void> {
  const bench = await benchDatabase();
  const { db, sql } = bench.handle;
  try {
    const project = await createProject(db, { slug: 'export-bench', name: 'Export bench', judgmentsRequired: 3 });
    let t = performance.now();
    const n = await buildJudgedProject(db, project.id, { judgments: JUDGMENTS });
    console.log(`built ${n.toLocaleString('en')} judgments in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // Baseline first, so that both runs find the same warm cache.
    const baseline = counter();
    t = performance.now();
    // COPY takes no bind parameters: the project id (a number we created) is inlined.
    const copy = await sql.unsafe(`copy (
      select json_build_object(
        'prompt', p.messages, 'chosen', cr.messages, 'rejected', rr.messages,
        'metadata', json_build_object('judgment_id', j.id, 'comparison_id', j.comparison_id, 'comparison_external_id', c.external_id,
          'annotator_id', j.annotator_id, 'strength', j.strength, 'relation', 'chosen>rejected', 'flags', j.flags,
          'chosen_model', cr.model, 'rejected_model', rr.model, 'chosen_origin', cr.origin, 'rejected_origin', rr.origin,
          'guidelines_version', j.guidelines_version, 'review', null))
      from judgments j
      join comparisons c on c.id = j.comparison_id
      join prompts p on p.id = c.prompt_id
      join judgment_ranks hi on hi.judgment_id = j.id
      join judgment_ranks lo on lo.judgment_id = j.id and lo.rank > hi.rank
      join responses cr on cr.id = hi.response_id
      join responses rr on rr.id = lo.response_id
      where j.project_id = ${Math.trunc(project.id)}
      order by j.id) to stdout`).readable();
    await pipeline(copy, baseline.sink);
    const copySeconds = (performance.now() - t) / 1000;
    const copyRate = baseline.seen.lines / copySeconds;
    console.log(`baseline COPY (json_build_object) TO STDOUT: ${baseline.seen.lines.toLocaleString('en')} pairs, ${(baseline.seen.bytes / 2 ** 20).toFixed(0)} MB in ${copySeconds.toFixed(1)} s: ${Math.round(copyRate).toLocaleString('en')} pairs/s`);

    const before = process.memoryUsage.rss() / 2 ** 20;
    const ours = counter();
    t = performance.now();
    const { peakMb } = await withPeakRss(() => pipeline(streamExport(sql, project.id, 'trl'), ours.sink));
    const oursSeconds = (performance.now() - t) / 1000;
    const oursRate = ours.seen.lines / oursSeconds;
    console.log(`ours, TRL export through a cursor: ${ours.seen.lines.toLocaleString('en')} pairs, ${(ours.seen.bytes / 2 ** 20).toFixed(0)} MB in ${oursSeconds.toFixed(1)} s: ${Math.round(oursRate).toLocaleString('en')} pairs/s`);
    const ratio = oursRate / copyRate;
    console.log(`ratio to COPY: ${ratio.toFixed(2)} (goal >= 0.5); peak RSS during the export: ${peakMb.toFixed(0)} MB (goal < 300 MB; ${before.toFixed(0)} MB before it started)`);
    if (ours.seen.lines !== baseline.seen.lines) console.log(`warning: ${ours.seen.lines} pairs exported, ${baseline.seen.lines} by COPY`);
    console.log(JSON.stringify({ bench: 'export', pairs_per_s: Math.round(oursRate), ratio_to_copy: round(ratio, 2), peak_rss_mb: Math.round(peakMb) }));
  } finally {
    await bench.close();
  }
}
