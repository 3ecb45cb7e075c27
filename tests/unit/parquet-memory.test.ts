import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

// Runs in its own process, with a small heap, so the figures are the writer's and not the test runner's.
const script = `
import { writePreferencePairsParquet } from ${JSON.stringify(path.resolve('server/formats/parquet.ts'))};
const total = Number(process.argv[1]);
const text = (i, n) => ('answer ' + i + ' ').padEnd(n, 'lorem ipsum dolor sit amet ');
async function* source() {
  for (let i = 0; i < total; i += 500) {
    yield Array.from({ length: Math.min(500, total - i) }, (_, k) => {
      const j = i + k;
      return {
        prompt: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: text(j, 300) }],
        chosen: [{ role: 'assistant', content: text(j, 800) }],
        rejected: [
          { role: 'assistant', content: '', tool_calls: [{ id: 'c' + j, type: 'function', function: { name: 'f', arguments: '{"i":' + j + '}' } }] },
          { role: 'tool', content: text(j, 100), tool_call_id: 'c' + j },
          { role: 'assistant', content: text(j, 600) },
        ],
        metadata: { judgment_id: j, comparison_id: j, comparison_external_id: 'c-' + j, annotator_id: j % 17, strength: 'better', relation: 'chosen>rejected',
          flags: j % 5 ? [] : ['unsafe'], chosen_model: 'a', rejected_model: 'b', chosen_origin: 'model', rejected_origin: 'model', guidelines_version: 3, review: null },
      };
    });
  }
}
const peak = () => process.resourceUsage().maxRSS * 1024;
let rows = 0, bytes = 0, early = 0;
for await (const chunk of writePreferencePairsParquet(source(), { onRows: (n) => { rows += n; if (!early && rows >= total / 5) early = peak(); } })) bytes += chunk.length;
console.log(JSON.stringify({ rows, bytes, earlyPeak: early, finalPeak: peak() }));
`;

it('writes 200,000 pairs in bounded memory: the peak RSS does not grow with the row count', () => {
  const rows = 200_000;
  const run = spawnSync(process.execPath, ['--max-old-space-size=160', '--import', 'tsx', '--input-type=module', '-e', script, String(rows)], { encoding: 'utf8', timeout: 110_000 });
  expect(run.status, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { rows: number; bytes: number; earlyPeak: number; finalPeak: number };
  const mib = (n: number) => Math.round(n / 1024 / 1024);
  console.log(`parquet: ${result.rows} rows, ${mib(result.bytes)} MiB file; peak RSS ${mib(result.earlyPeak)} MiB after ${rows / 5} rows, ${mib(result.finalPeak)} MiB after ${rows}`);
  expect(result.rows).toBe(rows);
  // About 480 MiB of text went through; a writer that kept it would need far more than this.
  expect(result.finalPeak).toBeLessThan(320 * 1024 * 1024);
  expect(result.finalPeak - result.earlyPeak).toBeLessThan(64 * 1024 * 1024);
}, 120_000);
