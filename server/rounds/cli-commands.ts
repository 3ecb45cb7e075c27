import fs from 'node:fs/promises';
import { type Command } from 'commander';
import { artifactStore } from '../artifacts/store';
import { withDatabase } from '../cli-support';
import { AppError } from '../errors';
import { requireExecutorByName } from '../executors/executors';
import { withAdminQueue } from '../jobs/queue';
import { resolveModelIds } from '../models/models';
import { requireProjectBySlug } from '../projects/projects';
import type { TRoundPlanInput } from './plan';
import { cancelRound, getRound, launchRound, listRounds, previewRound, retryStage, type TLaunchRound } from './rounds';

const roundId = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new AppError('BAD_REQUEST', `${value} is not a round id`, { field: 'round' });
  return n;
};

interface TLaunchOptions {
  name: string;
  policy: string;
  version: string;
  executor: string;
  plan: string;
  project?: string;
}

async function launchInput(db: Parameters<typeof resolveModelIds>[0], opts: TLaunchOptions): Promise<TLaunchRound> {
  let plan: TRoundPlanInput;
  try {
    plan = JSON.parse(await fs.readFile(opts.plan, 'utf8')) as TRoundPlanInput;
  } catch (error) {
    throw new AppError('BAD_REQUEST', `cannot read the plan ${opts.plan}: ${(error as Error).message}`, { field: 'plan' });
  }
  const [policyModelId] = await resolveModelIds(db, [opts.policy]);
  const executor = await requireExecutorByName(db, opts.executor);
  const project = opts.project ? await requireProjectBySlug(db, opts.project) : null;
  return { name: opts.name, policyModelId: policyModelId!, datasetVersionId: roundId(opts.version), executorId: executor.id, projectId: project?.id ?? null, plan };
}

/** `round preview|launch|list|show|cancel|retry` (see docs/rounds.md). */
export function registerRoundCommands(program: Command): void {
  const round = program.command('round').description('training rounds: reward model, rejection sampling, SFT, DPO, merge, evaluation, registration');
  const launchOptions = (command: Command) =>
    command
      .requiredOption('--name <name>', 'round name')
      .requiredOption('--policy <model>', 'registry name of the policy the round starts from')
      .requiredOption('--version <id>', 'the preference dataset version')
      .requiredOption('--executor <name>', 'where the training runs go')
      .requiredOption('--plan <file.json>', 'the plan (JSON; see docs/rounds.md): Llama 3 defaults fill what it leaves out')
      .option('--project <slug>', 'the project the round belongs to');

  launchOptions(round.command('preview').description('print each stage’s exact config and command, without launching')).action(async (opts: TLaunchOptions) => {
    await withDatabase(async ({ db }) => {
      const preview = await previewRound(db, artifactStore(), await launchInput(db, opts));
      for (const stage of preview.stages) {
        console.log(`# ${stage.index + 1}. ${stage.kind}`);
        if (stage.spec.runner === 'executor') {
          console.log(`$ ${stage.spec.command.join(' ')}  (${stage.spec.gpus} GPU(s))`);
          console.log(stage.spec.configYaml);
        } else console.log(JSON.stringify(stage.spec.settings, null, 2));
      }
    });
  });

  launchOptions(round.command('launch').description('launch a round: its first stage starts on the next worker poll')).action(async (opts: TLaunchOptions) => {
    await withDatabase(async (handle, url) => {
      const input = await launchInput(handle.db, opts);
      const created = await withAdminQueue(url, (boss) => launchRound(handle, boss, artifactStore(), input));
      console.log(`launched round ${created.id} (${created.name})`);
    });
  });

  round
    .command('list')
    .description('rounds, newest first')
    .action(async () => {
      await withDatabase(async ({ db }) => {
        const all = await listRounds(db);
        if (all.length === 0) console.log('no rounds');
        for (const r of all) console.log(`${r.id}\t${r.name}\t${r.status}\tstage ${r.currentStage + 1}/${r.stages.length} ${r.stages[r.currentStage] ?? ''}\t${r.gpuHours.toFixed(2)} GPU-hours`);
      });
    });

  round
    .command('show')
    .description('a round’s stages: status, GPU-hours, last metrics, errors')
    .argument('<id>', 'round id', roundId)
    .action(async (id: number) => {
      await withDatabase(async ({ db }) => {
        const r = await getRound(db, artifactStore(), id, { logTailBytes: 0 });
        console.log(`round ${r.id} ${r.name}: ${r.status}, ${r.gpuHours.toFixed(2)} GPU-hours${r.error ? `, ${r.error}` : ''}`);
        for (const run of r.runs) {
          const last = run.training ? Object.entries(run.training.last).map(([k, v]) => `${k}=${v.toPrecision(4)}`).join(' ') : '';
          console.log(`  ${(run.stage ?? 0) + 1}. ${run.kind}\trun ${run.id} attempt ${run.attempt}\t${run.status}\t${run.gpuHours.toFixed(3)} GPU-h\t${last}${run.error ? `\t${run.error}` : ''}`);
        }
      });
    });

  round
    .command('cancel')
    .description('cancel a running round: its active run is stopped on its executor')
    .argument('<id>', 'round id', roundId)
    .action(async (id: number) => {
      await withDatabase(async (handle, url) => {
        const r = await withAdminQueue(url, (boss) => cancelRound(handle, boss, id));
        console.log(`round ${r.id} ${r.status}`);
      });
    });

  round
    .command('retry')
    .description('run a failed or cancelled round’s current stage again (next attempt of the same run)')
    .argument('<id>', 'round id', roundId)
    .option('--override-gate <reason>', 'register the new policy although evaluation did not pass the gate; the reason is recorded')
    .action(async (id: number, opts: { overrideGate?: string }) => {
      await withDatabase(async (handle, url) => {
        const r = await withAdminQueue(url, (boss) => retryStage(handle, boss, id, { gateOverrideReason: opts.overrideGate }));
        console.log(`round ${r.id} ${r.status}, stage ${r.currentStage + 1}`);
      });
    });
}
