import { masterAddrEnv, nodeRankEnv } from '@/server/rounds/distributed';
import type { TSlurmExecutorConfig } from '@/server/executors/schemas';
import { clusterPath, quoteWord } from '@/server/executors/slurm-shell';
import { jobName, jobNodes } from './common';
import type { TExecutorJob } from './types';

/**
 * The batch script of a run attempt and the submit script around it. The batch script holds the
 * job's resources as #SBATCH lines, its plain variables, and the command; on several nodes the
 * command runs once per node through `srun` with the node's rank and the first node's address,
 * which every node's `accelerate launch` dials (server/rounds/distributed.ts).
 */

/** The folder of one run attempt on the cluster: its batch script, job id, output and exit status. */
export function jobFolder(config: Pick<TSlurmExecutorConfig, 'jobDir'>, name: string): string {
  const base = (config.jobDir ?? '~/.pairwise/slurm').replace(/\/+$/, '');
  return `${base}/${name}`;
}

/** Files in the job folder. */
export const jobFiles = {
  script: 'job.sh',
  jobId: 'job-id',
  exitCode: 'exit-code',
  output: (jobId: string) => `slurm-${jobId}.out`,
} as const;

function directives(config: TSlurmExecutorConfig, job: TExecutorJob): string[] {
  const nodes = jobNodes(job);
  const lines = [
    `--job-name=${jobName(job)}`,
    `--comment=pairwise-run=${job.runId},attempt=${job.attempt}`,
    `--nodes=${nodes}`,
    '--ntasks-per-node=1',
    // A requeued job would start again from the top under the same id; a retry is our own new attempt (which resumes from checkpoints).
    '--no-requeue',
  ];
  if (job.gpus > 0) lines.push(`--gpus-per-node=${job.gpus}`);
  if (config.cpusPerNode) lines.push(`--cpus-per-task=${config.cpusPerNode}`);
  if (config.memory) lines.push(`--mem=${config.memory}`);
  if (config.timeLimit) lines.push(`--time=${config.timeLimit}`);
  if (config.partition) lines.push(`--partition=${config.partition}`);
  if (config.account) lines.push(`--account=${config.account}`);
  if (config.qos) lines.push(`--qos=${config.qos}`);
  lines.push(...(config.sbatchOptions ?? []));
  return lines.map((d) => `#SBATCH ${d}`);
}

/**
 * The batch script. It runs in the job folder (sbatch --chdir), so it records the command's exit
 * status there: a job that has left the queue (and Slurm's memory, without accounting) still says
 * how it ended. Secret values are not in it: `secretEnv` names variables of sbatch's environment.
 */
export function slurmBatchScript(config: TSlurmExecutorConfig, job: TExecutorJob, storeEnv: Record<string, string> = {}): string {
  const nodes = jobNodes(job);
  const plain = { ...storeEnv, ...(config.env ?? {}), ...job.env };
  const lines = ['#!/bin/bash', ...directives(config, job), '', '# Written by Pairwise: one attempt of a run. The folder is the job folder (sbatch --chdir).', 'set -uo pipefail', 'job_dir=$PWD'];
  lines.push(`echo "[pairwise] run ${job.runId} attempt ${job.attempt}: Slurm job $SLURM_JOB_ID on $SLURM_JOB_NODELIST"`);
  const ours = new Set([nodeRankEnv, masterAddrEnv]);
  for (const [name, value] of Object.entries(plain)) if (!ours.has(name)) lines.push(`export ${name}=${quoteWord(value)}`);
  // No quote characters in the message: bash parses them inside ${...:?word}, even within double quotes.
  for (const [target, from] of Object.entries(config.secretEnv ?? {})) {
    lines.push(`export ${target}="\${${from}:?is not set in the environment of sbatch on the submit host (secretEnv.${target})}"`);
  }
  if (config.setup?.length) lines.push('', '# setup (executor config)', ...config.setup);
  lines.push('');
  const command = job.command.map(quoteWord).join(' ');
  if (nodes === 1) {
    lines.push(command);
  } else {
    // The rendezvous address is the first node's NodeAddr (what its slurmd listens on), its name when the node has none.
    lines.push(
      'first_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
      'master_addr=$(scontrol -o show node "$first_node" | tr \' \' \'\\n\' | sed -n \'s/^NodeAddr=//p\')',
      `export ${masterAddrEnv}="\${master_addr:-$first_node}"`,
      `echo "[pairwise] ${nodes} nodes; rank 0 on $first_node ($${masterAddrEnv})"`,
    );
    // srun (22.05+) does not take --cpus-per-task from sbatch, and GPUs are bound per step: both are given again.
    const step = [`--nodes=${nodes}`, '--ntasks-per-node=1', '--kill-on-bad-exit=1', '--label'];
    if (job.gpus > 0) step.push(`--gpus-per-node=${job.gpus}`);
    if (config.cpusPerNode) step.push(`--cpus-per-task=${config.cpusPerNode}`);
    lines.push(`srun ${step.join(' ')} bash -c 'export ${nodeRankEnv}=$SLURM_NODEID; exec "$@"' pairwise-node ${command}`);
  }
  lines.push('code=$?', `printf '%s\\n' "$code" > "$job_dir/${jobFiles.exitCode}.tmp" && mv "$job_dir/${jobFiles.exitCode}.tmp" "$job_dir/${jobFiles.exitCode}"`, 'exit "$code"', '');
  return lines.join('\n');
}

/**
 * The script that submits, run on the submit host with the batch script on its input. Idempotent:
 * a retried submit (its answer lost, the worker restarted) finds the job id it recorded, or the
 * job in the queue by name, instead of making a second job.
 */
export function submitScript(config: TSlurmExecutorConfig, job: TExecutorJob): string {
  const name = jobName(job);
  const dir = clusterPath(jobFolder(config, name));
  return [
    'set -e',
    `d=${dir}`,
    'mkdir -p "$d"',
    // Two submits of one attempt at once (a retry racing the first) must not both reach sbatch.
    'exec 9>"$d/.submit-lock"',
    'if command -v flock >/dev/null 2>&1; then flock -w 60 9; fi',
    `if [ -s "$d/${jobFiles.jobId}" ]; then echo "found $(cat "$d/${jobFiles.jobId}")"; exit 0; fi`,
    `found=$(squeue --noheader --user="$(id -un)" --name=${name} --format=%i | head -n 1)`,
    `if [ -n "$found" ]; then printf '%s\\n' "$found" > "$d/${jobFiles.jobId}"; echo "found $found"; exit 0; fi`,
    `cat > "$d/${jobFiles.script}"`,
    `rm -f "$d/${jobFiles.exitCode}"`,
    // --parsable prints "id" or "id;cluster".
    `id=$(sbatch --parsable --chdir="$d" --output="$d/slurm-%j.out" "$d/${jobFiles.script}")`,
    'id=${id%%;*}',
    `printf '%s\\n' "$id" > "$d/${jobFiles.jobId}"`,
    'echo "submitted $id"',
  ].join('\n');
}
