/**
 * The annotation hot path on a real PostgreSQL:
 *   import 20,000 comparisons (native JSONL through the streaming importer),
 *   8 annotators concurrently leasing (want 2, as the page does) and submitting 4,000 judgments,
 *   then a TRL export of them through the cursor.
 * Prints p50/p95 latencies of lease and submit, throughputs, and a JSON summary line.
 */
import { Readable } from 'node:stream';
import { leaseComparisons } from '@/server/annotation/lease';
import { submitJudgment } from '@/server/annotation/submit-judgment';
import { strengths } from '@/server/annotation/strengths';
import { streamTrlPreferenceLines } from '@/server/exports/trl';
import { importComparisons } from '@/server/imports/import-comparisons';
import { addMember, createProject } from '@/server/projects/projects';
import { createUser } from '@/server/users/users';
import { benchDatabase, percentile, round } from './bench-database';

const COMPARISONS = 20_000;
const ANNOTATORS = 8;
const JUDGMENTS = 4_000;

function* lines(n: number): Generator<string> {
  const filler = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(12);
  for (let i = 0; i < n; i++) {
    yield JSON.stringify({
      id: `b-${i}`,
      prompt: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: `Question ${i}: ${filler}` },
      ],
      responses: [
        { content: `Answer ${i} from model one. ${filler}`, model: 'one' },
        { content: `Answer ${i} from model two. ${filler}`, model: 'two' },
      ],
    }) + '\n';
  }
}

export async function run(): Promise<void> {
  const bench = await benchDatabase();
  const { db } = bench.handle;
  try {
    const project = await createProject(db, { slug: 'bench', name: 'Bench', judgmentsRequired: 2 });
    const annotators = [];
    for (let i = 0; i < ANNOTATORS; i++) {
      const user = await createUser(db, { email: `a${i}@bench.local`, password: 'bench-password', role: 'annotator' });
      await addMember(db, { projectId: project.id, userId: user.id, role: 'annotator' });
      annotators.push(user);
    }

    let t = performance.now();
    const imported = await importComparisons(db, { projectId: project.id, judgmentsRequired: 2, source: Readable.from(lines(COMPARISONS)) });
    const importSeconds = (performance.now() - t) / 1000;
    console.log(`import: ${imported.imported} comparisons in ${importSeconds.toFixed(2)} s (${Math.round(imported.imported / importSeconds)} lines/s)`);

    const leaseMs: number[] = [];
    const submitMs: number[] = [];
    let remaining = JUDGMENTS;
    t = performance.now();
    await Promise.all(
      annotators.map(async (annotator, k) => {
        while (remaining > 0) {
          remaining--;
          let s = performance.now();
          const [item] = await leaseComparisons(db, { projectId: project.id, annotatorId: annotator.id, leaseSeconds: 900, want: 2 });
          leaseMs.push(performance.now() - s);
          if (!item) return;
          s = performance.now();
          await submitJudgment(db, {
            annotatorId: annotator.id,
            assignmentId: item.assignmentId,
            clientSubmissionId: crypto.randomUUID(),
            chosenPosition: (k + remaining) % 2,
            strength: strengths[remaining % 4]!,
            timeSpentMs: 1000,
          });
          submitMs.push(performance.now() - s);
        }
      }),
    );
    const annotateSeconds = (performance.now() - t) / 1000;
    leaseMs.sort((a, b) => a - b);
    submitMs.sort((a, b) => a - b);
    console.log(`annotate: ${submitMs.length} judgments by ${ANNOTATORS} concurrent annotators in ${annotateSeconds.toFixed(2)} s (${Math.round(submitMs.length / annotateSeconds)}/s)`);
    console.log(`  lease  p50 ${percentile(leaseMs, 50).toFixed(1)} ms, p95 ${percentile(leaseMs, 95).toFixed(1)} ms`);
    console.log(`  submit p50 ${percentile(submitMs, 50).toFixed(1)} ms, p95 ${percentile(submitMs, 95).toFixed(1)} ms`);

    t = performance.now();
    let rows = 0;
    let bytes = 0;
    for await (const chunk of streamTrlPreferenceLines(bench.handle.sql, project.id, { onRows: (n) => (rows += n) })) bytes += chunk.length;
    const exportSeconds = (performance.now() - t) / 1000;
    console.log(`export: ${rows} TRL lines (${(bytes / 1e6).toFixed(1)} MB) in ${exportSeconds.toFixed(2)} s (${Math.round(rows / exportSeconds)} lines/s)`);

    console.log(
      JSON.stringify({
        bench: 'queue',
        import_lines_per_s: Math.round(imported.imported / importSeconds),
        lease_p50_ms: round(percentile(leaseMs, 50)),
        lease_p95_ms: round(percentile(leaseMs, 95)),
        submit_p50_ms: round(percentile(submitMs, 50)),
        submit_p95_ms: round(percentile(submitMs, 95)),
        judgments_per_s: Math.round(submitMs.length / annotateSeconds),
        export_lines_per_s: Math.round(rows / exportSeconds),
      }),
    );
  } finally {
    await bench.close();
  }
}
