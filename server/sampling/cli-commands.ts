import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { eq } from 'drizzle-orm';
import { runs } from '@/db/schema';
import { progressBar, withDatabase } from '../cli-support';
import { AppError } from '../errors';
import { inTransaction, jobs, withAdminQueue } from '../jobs/queue';
import { resolveModelIds } from '../models/models';
import { requireProjectBySlug } from '../projects/projects';
import { parseInput } from '../validation';
import { runGeneration } from './generation';
import { ZGenerationSpec } from './schemas';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

interface TGenerateOptions {
  policy: string[];
  project: string;
  promptsProject?: string;
  promptsVersion?: number;
  pairing: 'all-pairs' | 'random-pair';
  concurrency: number;
}

const terminal = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * `npm run cli -- generate`: the next round's annotation. Registered policies answer a prompt
 * set and their answers, paired across models, become comparisons in the target project. The
 * run is recorded and queued like the worker's (so a running worker may take it over), then
 * run here with a progress bar; interrupted, it resumes where it stopped.
 */
export function registerGenerateCommand(program: Command): void {
  program
    .command('generate')
    .description('answer a prompt set with two or more registered policies and pair their answers into comparisons of a project')
    .requiredOption('--policy <name>', 'a registered policy model (repeat: two or more)', collect)
    .requiredOption('--project <slug>', 'the project the comparisons go to')
    .option('--prompts-project <slug>', 'the prompts of this project (e.g. imported with --format openai-chat)')
    .option('--prompts-version <id>', 'the prompts of this dataset version', positive)
    .addOption(new Option('--pairing <mode>', 'one seeded pair of models per prompt, or every pair').choices(['random-pair', 'all-pairs']).default('random-pair'))
    .option('--concurrency <n>', 'requests in flight at once', positive, 8)
    .action(async (opts: TGenerateOptions) => {
      await withDatabase(async (handle, url) => {
        await requireProjectBySlug(handle.db, opts.project);
        const spec = parseInput(ZGenerationSpec, {
          policyModelIds: await resolveModelIds(handle.db, opts.policy),
          prompts: { projectSlug: opts.promptsProject, datasetVersionId: opts.promptsVersion },
          projectSlug: opts.project,
          pairing: opts.pairing,
          concurrency: opts.concurrency,
        });
        const runId = await withAdminQueue(url, (boss) =>
          handle.sql.begin(async (tx) => {
            const [row] = await tx<{ id: string }[]>`insert into runs (kind, status, spec) values ('generate', 'pending', ${JSON.stringify(spec)}::jsonb) returning id`;
            const id = Number(row!.id);
            await boss.send(jobs.generate.name, { runId: id }, { db: inTransaction(tx), singletonKey: `generate-${id}` });
            return id;
          }),
        );
        console.error(`generation run ${runId}: ${opts.policy.join(', ')} → ${opts.project}`);
        const bar = progressBar('generate', 'prompts');
        bar.start(1, 0);
        let done = false;
        const poll = (async () => {
          while (!done) {
            const [current] = await handle.db.select().from(runs).where(eq(runs.id, runId));
            if (current?.progressTotal) bar.setTotal(current.progressTotal);
            bar.update(current?.progressDone ?? 0);
            await sleep(300);
          }
        })();
        let run;
        try {
          run = await runGeneration(handle, runId);
          while (run && !terminal.has(run.status)) {
            await sleep(500);
            [run] = await handle.db.select().from(runs).where(eq(runs.id, runId));
          }
        } finally {
          done = true;
          await poll;
          bar.stop();
        }
        if (!run || run.status !== 'succeeded') throw new AppError('CONFLICT', `generation run ${runId} ${run?.status ?? 'vanished'}${run?.error ? `: ${run.error}` : ''}`);
        const comparisons = (run.metrics as { comparisons?: number }).comparisons ?? 0;
        console.log(`created ${comparisons} comparison(s) in ${opts.project} from ${run.progressDone} prompt(s) (run ${runId})`);
      });
    });
}
