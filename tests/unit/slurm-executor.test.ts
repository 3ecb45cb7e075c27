import { describe, expect, it } from 'vitest';
import { localArtifactStore } from '@/server/artifacts/store';
import { ZSlurmExecutorConfig } from '@/server/executors/schemas';
import { slurmQueues, testOnlyOptions } from '@/server/executors/slurm-cluster';
import { clusterPath } from '@/server/executors/slurm-shell';
import { trlRunSpec } from '@/server/rounds/specs';
import { slurmBatchScript, submitScript } from '@/workers/executors/slurm-script';
import { parseScontrol, statusFromRecord, statusFromSacct, statusFromScontrol, tresGpus } from '@/workers/executors/slurm-status';

/**
 * What the Slurm executor writes and reads, without a cluster: the exact batch script of a DPO
 * stage over 4 nodes x 8 GPUs (a 70B run), and Slurm's job states as its commands print them.
 * tests/slurm runs the same code against a real cluster.
 */

const store = localArtifactStore('/shared/pairwise/artifacts');

describe('the batch script of a stage over several nodes', () => {
  const spec = trlRunSpec(store, {
    kind: 'dpo',
    runRef: 42,
    modelNameOrPath: 'file:///shared/pairwise/artifacts/runs/41/output',
    versionId: 7,
    versionKind: 'preference',
    gpus: 8,
    baseModel: 'meta-llama/Llama-3.1-70B-Instruct',
    distributed: { strategy: 'zero3', nodes: 4 },
  });
  const config = ZSlurmExecutorConfig.parse({
    partition: 'h100',
    account: 'post-training',
    qos: 'high',
    cpusPerNode: 96,
    memory: '1800G',
    timeLimit: '2-00:00:00',
    sbatchOptions: ['--exclusive'],
    jobDir: '/shared/pairwise/slurm',
    setup: ['source /shared/venvs/trl/bin/activate'],
    env: { HF_HOME: '/shared/hf-cache' },
    secretEnv: { HF_TOKEN: 'HF_TOKEN' },
  });
  const job = { runId: 42, attempt: 1, command: spec.command, env: { PYTHONUNBUFFERED: '1' }, gpus: spec.gpus, nodes: spec.nodes, artifactPrefix: 'runs/42/' };

  it('asks for 4 nodes x 8 GPUs, one task per node, and runs one accelerate launch per node with its rank and node 0 address', () => {
    expect(spec.nodes).toBe(4);
    const launch = 'set -euo pipefail\naccelerate launch --config_file /shared/pairwise/artifacts/runs/42/accelerate.yaml --machine_rank "$PAIRWISE_NODE_RANK" --main_process_ip "$PAIRWISE_MASTER_ADDR" --main_process_port 29500 /shared/pairwise/artifacts/runs/42/host/train.py dpo --config /shared/pairwise/artifacts/runs/42/config.yaml';
    expect(spec.command).toEqual(['bash', '-c', launch]);
    expect(slurmBatchScript(config, job, { AWS_REGION: 'us-east-1' })).toBe(
      [
        '#!/bin/bash',
        '#SBATCH --job-name=pairwise-run-42-1',
        '#SBATCH --comment=pairwise-run=42,attempt=1',
        '#SBATCH --nodes=4',
        '#SBATCH --ntasks-per-node=1',
        '#SBATCH --no-requeue',
        '#SBATCH --gpus-per-node=8',
        '#SBATCH --cpus-per-task=96',
        '#SBATCH --mem=1800G',
        '#SBATCH --time=2-00:00:00',
        '#SBATCH --partition=h100',
        '#SBATCH --account=post-training',
        '#SBATCH --qos=high',
        '#SBATCH --exclusive',
        '',
        '# Written by Pairwise: one attempt of a run. The folder is the job folder (sbatch --chdir).',
        'set -uo pipefail',
        'job_dir=$PWD',
        'echo "[pairwise] run 42 attempt 1: Slurm job $SLURM_JOB_ID on $SLURM_JOB_NODELIST"',
        'export AWS_REGION=us-east-1',
        'export HF_HOME=/shared/hf-cache',
        'export PYTHONUNBUFFERED=1',
        'export HF_TOKEN="${HF_TOKEN:?is not set in the environment of sbatch on the submit host (secretEnv.HF_TOKEN)}"',
        '',
        '# setup (executor config)',
        'source /shared/venvs/trl/bin/activate',
        '',
        'first_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        `master_addr=$(scontrol -o show node "$first_node" | tr ' ' '\\n' | sed -n 's/^NodeAddr=//p')`,
        'export PAIRWISE_MASTER_ADDR="${master_addr:-$first_node}"',
        'echo "[pairwise] 4 nodes; rank 0 on $first_node ($PAIRWISE_MASTER_ADDR)"',
        `srun --nodes=4 --ntasks-per-node=1 --kill-on-bad-exit=1 --label --gpus-per-node=8 --cpus-per-task=96 bash -c 'export PAIRWISE_NODE_RANK=$SLURM_NODEID; exec "$@"' pairwise-node bash -c '${launch}'`,
        'code=$?',
        `printf '%s\\n' "$code" > "$job_dir/exit-code.tmp" && mv "$job_dir/exit-code.tmp" "$job_dir/exit-code"`,
        'exit "$code"',
        '',
      ].join('\n'),
    );
  });

  it('a job variable cannot take the rank or the address the executor sets', () => {
    const script = slurmBatchScript(config, { ...job, env: { PAIRWISE_NODE_RANK: '5', PAIRWISE_MASTER_ADDR: 'evil' } });
    expect(script).not.toContain('PAIRWISE_NODE_RANK=5');
    expect(script).not.toContain('evil');
  });

  it('the submit script finds a job it already made before calling sbatch, under a lock', () => {
    const script = submitScript(config, job);
    const order = ['flock', 'job-id', 'squeue --noheader', 'sbatch --parsable'].map((word) => script.indexOf(word));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(script).toContain('d=/shared/pairwise/slurm/pairwise-run-42-1');
    expect(clusterPath('~/.pairwise/slurm/x')).toBe('"$HOME"/.pairwise/slurm/x');
    expect(clusterPath('relative dir')).toBe(`"$HOME"/'relative dir'`);
  });

  it('the connection test tries the config’s own options', () => {
    expect(testOnlyOptions(config)).toEqual(['--test-only', '--nodes=1', '--ntasks-per-node=1', '--job-name=pairwise-connection-test', '--partition=h100', '--account=post-training', '--qos=high', '--cpus-per-task=96', '--mem=1800G', '--time=2-00:00:00']);
  });

  it('configs that would put shell text into the script are refused, naming the field', () => {
    expect(ZSlurmExecutorConfig.safeParse({ partition: 'h100; rm -rf ~' }).error?.issues[0]?.path).toEqual(['partition']);
    expect(ZSlurmExecutorConfig.safeParse({ sbatchOptions: ['--wrap=$(id)'] }).error?.issues[0]?.path).toEqual(['sbatchOptions', 0]);
    expect(ZSlurmExecutorConfig.safeParse({ jobDir: '/shared/$(id)' }).error?.issues[0]?.path).toEqual(['jobDir']);
    expect(ZSlurmExecutorConfig.safeParse({ timeLimit: 'forever' }).error?.issues[0]?.path).toEqual(['timeLimit']);
    expect(ZSlurmExecutorConfig.safeParse({ secretEnv: { HF_TOKEN: 'DATABASE_URL' } }).success).toBe(false);
    expect(ZSlurmExecutorConfig.safeParse({ ssh: { host: 'login', user: 'me', identityFileEnv: 'PAIRWISE_KEY' } }).success).toBe(false);
  });
});

describe('Slurm job states as its commands print them', () => {
  const line = (fields: string) => `JobId=981 JobName=pairwise-run-3-0 UserId=alice(1000) Partition=h100 NumNodes=2 ${fields} Comment=pairwise-run=3,attempt=0 Command=/home/alice/my jobs/job.sh`;

  it('reads scontrol -o, values with spaces included', () => {
    const fields = parseScontrol(line('JobState=RUNNING Reason=None'));
    expect(fields).toMatchObject({ JobId: '981', JobState: 'RUNNING', Command: '/home/alice/my jobs/job.sh', Partition: 'h100' });
  });

  it.each([
    ['JobState=PENDING Reason=Resources StartTime=Unknown EndTime=Unknown', { state: 'pending', message: 'waiting in partition h100: Resources' }],
    ['JobState=PENDING Reason=QOSMaxGRESPerUser', { state: 'pending', message: 'waiting in partition h100: QOSMaxGRESPerUser' }],
    ['JobState=CONFIGURING Reason=None', { state: 'pending', message: 'waiting in partition h100; nodes are booting' }],
    ['JobState=COMPLETING Reason=None', { state: 'running', message: 'completing (its processes are ending)' }],
    ['JobState=COMPLETED ExitCode=0:0', { state: 'succeeded' }],
    ['JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0', { state: 'failed', message: 'FAILED (exit code 3)' }],
    ['JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15', { state: 'failed', message: 'reached its time limit (TIMEOUT); killed by signal 15' }],
    ['JobState=OUT_OF_MEMORY Reason=OutOfMemory ExitCode=0:125', { state: 'failed', message: 'ran out of memory (OUT_OF_MEMORY); killed by signal 125' }],
    ['JobState=NODE_FAIL Reason=NodeDown ExitCode=0:0', { state: 'failed', message: 'a node failed (NODE_FAIL)' }],
    ['JobState=PREEMPTED Reason=None ExitCode=0:15', { state: 'failed', message: 'preempted by a job of higher priority (PREEMPTED); killed by signal 15' }],
    ['JobState=CANCELLED Reason=None ExitCode=0:15', { state: 'cancelled', message: 'cancelled' }],
    ['JobState=BOOT_FAIL', { state: 'failed', message: 'its node failed to boot (BOOT_FAIL)' }],
    ['JobState=SOMETHING_NEW', { state: 'failed', message: 'Slurm reports a state Pairwise does not know: SOMETHING_NEW' }],
  ])('%s', (fields, expected) => {
    expect(statusFromScontrol(line(fields))).toMatchObject(expected);
  });

  it('times are epochs (SLURM_TIME_FORMAT=%s); GPU-seconds are allocated GPUs x run time', () => {
    const status = statusFromScontrol(line('JobState=COMPLETED ExitCode=0:0 RunTime=01:00:00 StartTime=1796200000 EndTime=1796203600 TRES=cpu=192,mem=3600G,node=2,billing=192 TresPerNode=gres:gpu:8'));
    expect(status).toMatchObject({ state: 'succeeded', startedAt: new Date(1796200000_000), finishedAt: new Date(1796203600_000), gpuSeconds: 16 * 3600 });
    expect(statusFromScontrol(line('JobState=RUNNING RunTime=1-00:00:10 AllocTRES=cpu=8,gres/gpu=4,gres/gpu:h100=4')).gpuSeconds).toBe(4 * 86410);
    expect(tresGpus('cpu=8,gres/gpu:a100=2,gres/gpu:h100=2')).toBe(4);
    expect(tresGpus('cpu=8,mem=1G')).toBeUndefined();
  });

  it('reads sacct -P lines, for jobs scontrol has forgotten', () => {
    expect(statusFromSacct('981|CANCELLED by 1000|0:15|1796200000|1796200600|600|billing=16,cpu=16,gres/gpu=8,mem=64G,node=1|None|h100')).toMatchObject({
      state: 'cancelled',
      message: 'cancelled; by 1000',
      gpuSeconds: 4800,
      finishedAt: new Date(1796200600_000),
    });
    expect(statusFromSacct('981|TIMEOUT|0:0|1796200000|1796207200|7200|cpu=16,node=1|TimeLimit|h100')).toMatchObject({ state: 'failed', message: 'reached its time limit (TIMEOUT)', gpuSeconds: 0 });
  });

  it('without Slurm or accounting, the recorded exit status decides', () => {
    expect(statusFromRecord('981', '0 1796203600')).toEqual({ state: 'succeeded', finishedAt: new Date(1796203600_000) });
    expect(statusFromRecord('981', '137 1796203600')).toMatchObject({ state: 'failed', message: 'exit code 137' });
    expect(statusFromRecord('981', '')).toMatchObject({ state: 'failed', message: expect.stringContaining('left the queue without recording an exit status') });
  });
});

describe('partitions from sinfo and squeue', () => {
  it('counts nodes, idle nodes, GPUs free on usable nodes, CPUs and jobs per partition', () => {
    const nodes = [
      'gpu001|h100*|gpu:h100:8(S:0-1)|gpu:h100:8(IDX:0-7)|allocated|96/0/0/96|up|2-00:00:00',
      'gpu002|h100*|gpu:h100:8(S:0-1)|gpu:h100:2(IDX:0-1)|mixed|24/72/0/96|up|2-00:00:00',
      'gpu003|h100*|gpu:h100:8(S:0-1)|gpu:h100:0(IDX:N/A)|idle|0/96/0/96|up|2-00:00:00',
      'gpu004|h100*|gpu:h100:8(S:0-1)|gpu:h100:0(IDX:N/A)|drained|0/0/96/96|up|2-00:00:00',
      'cpu001|cpu|(null)|gpu:0|idle|0/64/0/64|up|infinite',
    ];
    const queue = ['h100|RUNNING', 'h100|PENDING', 'h100,cpu|PENDING', 'cpu|RUNNING'];
    expect(slurmQueues(nodes, queue)).toEqual([
      // The default partition first.
      { name: 'h100', state: 'up', isDefault: true, nodes: 4, idleNodes: 1, gpus: 32, gpusFree: 14, cpus: 384, timeLimit: '2-00:00:00', running: 1, pending: 2 },
      { name: 'cpu', state: 'up', isDefault: false, nodes: 1, idleNodes: 1, gpus: undefined, gpusFree: undefined, cpus: 64, timeLimit: 'infinite', running: 1, pending: 1 },
    ]);
  });
});
