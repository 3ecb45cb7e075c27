import { InvalidArgumentError, Option, type Command } from 'commander';
import { withDatabase } from '../cli-support';
import { AppError } from '../errors';
import { createExecutor, listExecutors, requireExecutorByName, testExecutorConnection, updateExecutor } from './executors';
import { executorKinds, type TCreateExecutor, type TExecutorKind } from './schemas';

function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('must be a JSON object, e.g. \'{"address": "http://ray-head:8265"}\'');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  return parsed as Record<string, unknown>;
}

function warnMissing(missing: string[]): void {
  if (missing.length) console.warn(`warning: ${missing.map((n) => `$${n}`).join(', ')} not set in this environment; set them where the worker runs`);
}

/** `executor add|list|set|test`: where GPU work runs (see docs/executors.md). */
export function registerExecutorCommands(program: Command): void {
  const executor = program.command('executor').description('places that run GPU work: a local process, a Ray cluster, a Kubernetes cluster');
  executor
    .command('add')
    .description('add an executor; secrets are never stored: the config names the environment variables that hold them')
    .requiredOption('--name <name>', 'executor name, e.g. gpu-box or ray-prod')
    .addOption(new Option('--kind <kind>', 'kind of executor').choices([...executorKinds]).makeOptionMandatory())
    .option('--config <json>', 'kind-specific settings as a JSON object (see docs/executors.md)', jsonObject, {})
    .option('--disabled', 'add it disabled', false)
    .action(async (opts: { name: string; kind: TExecutorKind; config: Record<string, unknown>; disabled: boolean }) => {
      await withDatabase(async ({ db }) => {
        const created = await createExecutor(db, { name: opts.name, kind: opts.kind, config: opts.config, enabled: !opts.disabled } as TCreateExecutor);
        console.log(`added ${created.kind} executor ${created.name} (id ${created.id})${created.enabled ? '' : ', disabled'}`);
        warnMissing(created.missingEnv);
      });
    });
  executor
    .command('list')
    .description('list executors with their settings')
    .option('--json', 'print one JSON array (for scripts)', false)
    .action(async (opts: { json: boolean }) => {
      await withDatabase(async ({ db }) => {
        const all = await listExecutors(db);
        if (opts.json) {
          console.log(JSON.stringify(all));
          return;
        }
        if (all.length === 0) console.log('no executors');
        for (const e of all) {
          const missing = e.missingEnv.length ? ` (not set here: ${e.missingEnv.map((n) => `$${n}`).join(', ')})` : '';
          console.log(`${e.id}\t${e.name}\t${e.kind}\t${e.enabled ? 'enabled' : 'disabled'}\t${JSON.stringify(e.config)}${missing}`);
        }
      });
    });
  executor
    .command('set')
    .description('replace an executor’s config, or enable/disable it')
    .requiredOption('--name <name>', 'executor name')
    .option('--config <json>', 'the new settings (replaces the old ones)', jsonObject)
    .option('--enable', 'enable it')
    .option('--disable', 'disable it: new runs cannot use it')
    .action(async (opts: { name: string; config?: Record<string, unknown>; enable?: boolean; disable?: boolean }) => {
      if (opts.enable && opts.disable) throw new AppError('BAD_REQUEST', 'choose --enable or --disable, not both');
      await withDatabase(async ({ db }) => {
        const current = await requireExecutorByName(db, opts.name);
        const enabled = opts.enable ? true : opts.disable ? false : undefined;
        const updated = await updateExecutor(db, { id: current.id, config: opts.config, enabled });
        console.log(`${updated.name}: ${updated.enabled ? 'enabled' : 'disabled'} ${JSON.stringify(updated.config)}`);
        warnMissing(updated.missingEnv);
      });
    });
  executor
    .command('test')
    .description('check an executor from this machine: secret variables, folders, the Ray job server, the Kubernetes API server and permissions, the Slurm submit host and partitions')
    .requiredOption('--name <name>', 'executor name')
    .action(async (opts: { name: string }) => {
      await withDatabase(async ({ db }) => {
        const current = await requireExecutorByName(db, opts.name);
        const result = await testExecutorConnection(db, current.id);
        for (const c of result.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}`);
        if (result.queues?.length) {
          console.log('queue\tstate\tnodes idle/total\tGPUs free/total\ttime limit\trunning\tpending');
          for (const q of result.queues) {
            const gpus = q.gpus === undefined ? '-' : `${q.gpusFree ?? '?'}/${q.gpus}`;
            const idle = q.idleNodes === undefined ? `${q.nodes}` : `${q.idleNodes}/${q.nodes}`;
            console.log(`${q.name}${q.isDefault ? ' (default)' : ''}\t${q.state}\t${idle}\t${gpus}\t${q.timeLimit ?? '-'}\t${q.running ?? '-'}\t${q.pending ?? '-'}`);
          }
        }
        if (!result.ok) process.exitCode = 1;
      });
    });
}
