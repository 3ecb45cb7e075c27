import { AppError } from '@/server/errors';
import type { TSlurmExecutorConfig } from '@/server/executors/schemas';
import { clusterPath, lastLines, preamble, slurmShell, type TSlurmShell } from '@/server/executors/slurm-shell';
import { assertValidJob, jobName, resolveSecretEnv, tailText } from './common';
import { jobFiles, jobFolder, slurmBatchScript, submitScript } from './slurm-script';
import { sacctFields, statusFromRecord, statusFromSacct, statusFromScontrol } from './slurm-status';
import type { TExecutor } from './types';

/**
 * A Slurm cluster through its commands: sbatch to submit, scontrol (and sacct, where accounting is
 * on) for status, the job's output file for logs, scancel to cancel. They run on a submit host:
 * the worker's own, or a login node through SSH (server/executors/slurm-shell.ts). A run attempt
 * is one Slurm job named `pairwise-run-<run>-<attempt>`, with a folder of its own on the cluster.
 *
 * The external id is `<job id>/<job name>`: the id is what Slurm's commands take, the name finds
 * the job's folder (its output and recorded exit status) after Slurm has forgotten the job.
 */

export interface TSlurmExecutorDeps {
  /** Where the worker's variables are read (the SSH key's path, secrets for a direct submit). */
  env?: Record<string, string | undefined>;
  /** Variables every job gets first (the artifact store's S3 settings); the config's and the job's own win. */
  storeEnv?: Record<string, string>;
  /** A ready transport (tests). */
  shell?: TSlurmShell;
}

const jobIdPattern = /^\d+(_\d+)?$/;

export function parseExternalId(externalId: string): { jobId: string; name: string } {
  const [jobId, name, ...rest] = externalId.split('/');
  if (!jobId || !jobIdPattern.test(jobId) || !name || !/^pairwise-run-\d+-\d+$/.test(name) || rest.length) {
    throw new AppError('BAD_REQUEST', `not a Slurm run of Pairwise: ${externalId} (expected <job id>/pairwise-run-<run>-<attempt>)`);
  }
  return { jobId, name };
}

export function slurmExecutor(config: TSlurmExecutorConfig, deps: TSlurmExecutorDeps = {}): TExecutor {
  const shell = deps.shell ?? slurmShell(config, { env: deps.env });
  const source = deps.env ?? process.env;
  const head = preamble(config);
  const folderOf = (name: string) => clusterPath(jobFolder(config, name));

  async function run(what: string, script: string, stdin?: string) {
    const result = await shell.run(`${head}\n${script}`, { stdin });
    return { ...result, fail: (): never => {
      throw new Error(`Slurm ${what} on ${shell.where} failed (exit ${result.code}): ${lastLines(result.stderr) || lastLines(result.stdout) || 'no message'}`);
    } };
  }

  return {
    async submit(job) {
      assertValidJob(job);
      // A direct submit passes the secrets in sbatch's environment: missing ones fail here, before anything is sent.
      if (!config.ssh) resolveSecretEnv(config.secretEnv, source);
      const script = slurmBatchScript(config, job, deps.storeEnv);
      const result = await run(`submit of ${jobName(job)}`, submitScript(config, job), script);
      const match = /^(?:submitted|found) (\d+(?:_\d+)?)$/m.exec(result.stdout);
      if (result.code !== 0 || !match) {
        // sbatch's refusals name the problem ("invalid partition specified", "Invalid account"): keep its words.
        const why = lastLines(result.stderr) || lastLines(result.stdout) || `exit ${result.code}`;
        throw new AppError('BAD_REQUEST', `sbatch on ${shell.where} refused run ${job.runId} attempt ${job.attempt}: ${why}`);
      }
      return { externalId: `${match[1]}/${jobName(job)}` };
    },

    async status(externalId) {
      const { jobId, name } = parseExternalId(externalId);
      const d = folderOf(name);
      // One round trip: scontrol while Slurm remembers the job, else sacct, else the exit status the script recorded.
      const result = await run(
        `status of job ${jobId}`,
        [
          `if out=$(scontrol -o show job ${jobId} 2>&1); then echo "scontrol $out"; exit 0; fi`,
          `if acct=$(sacct -n -P -X -j ${jobId} -o ${sacctFields} 2>/dev/null) && [ -n "$acct" ]; then echo "sacct $acct" | head -n 1; exit 0; fi`,
          `f=${d}/${jobFiles.exitCode}`,
          'if [ -f "$f" ]; then echo "record $(cat "$f") $(date -r "$f" +%s 2>/dev/null)"; else echo "record"; fi',
        ].join('\n'),
      );
      if (result.code !== 0) result.fail();
      const line = result.stdout.split('\n').find((l) => /^(scontrol|sacct|record)( |$)/.test(l)) ?? '';
      const [kind] = line.split(' ', 1);
      const rest = line.slice(kind!.length + 1);
      if (kind === 'scontrol') return statusFromScontrol(rest);
      if (kind === 'sacct') return statusFromSacct(rest);
      return statusFromRecord(jobId, rest);
    },

    async logs(externalId, options) {
      const { jobId, name } = parseExternalId(externalId);
      const file = `${folderOf(name)}/${jobFiles.output(jobId)}`;
      const read = options?.tailBytes !== undefined ? `tail -c ${Math.max(0, Math.floor(options.tailBytes))} ${file}` : `cat ${file}`;
      // No file yet: the job has not started.
      const result = await run(`logs of job ${jobId}`, `if [ -f ${file} ]; then ${read}; fi`);
      if (result.code !== 0) result.fail();
      return tailText(result.stdout, options?.tailBytes);
    },

    async cancel(externalId) {
      const { jobId } = parseExternalId(externalId);
      const result = await run(`scancel of job ${jobId}`, `scancel ${jobId}`);
      // A job that has ended (or that Slurm has forgotten) needs no cancel.
      if (result.code !== 0 && !/already completing or completed|Invalid job id/i.test(result.stderr)) result.fail();
    },
  };
}
