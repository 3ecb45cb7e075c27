import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localArtifactStore } from '@/server/artifacts/store';
import { checkSlurmCluster } from '@/server/executors/slurm-cluster';
import type { TSlurmExecutorConfig } from '@/server/executors/schemas';
import { executorFor } from '@/workers/executors';
import { slurmExecutor } from '@/workers/executors/slurm';
import type { TExecutorJob } from '@/workers/executors/types';
import { hostVenv } from '../helpers/host-python';
import { contractScratch, executorContract, takeRunId, terminal, trainerJob, waitForLogs, waitForStatus } from '../helpers/executor-contract';
import { accountingUnavailable, slurmUnavailable, startSlurmCluster, until, type TSlurmCluster } from './cluster';
import { sshdUnavailable, startSshServer, type TSshServer } from './sshd';

/**
 * The Slurm executor against a real cluster on this machine (tests/slurm/cluster.ts): two nodes,
 * two gres GPUs each, accounting through slurmdbd (sacct, GPUs accounted, accounts enforced),
 * finished jobs forgotten after 10 s so the tests also meet a job that has left Slurm's memory
 * (and, on a second cluster without accounting, one that only its recorded exit can tell). The same contract as every executor, directly and through a real sshd;
 * then what only Slurm has: its states and reasons, refusals, two nodes, GPU-seconds, the
 * connection test.
 */

const unavailable = slurmUnavailable() ?? sshdUnavailable() ?? accountingUnavailable();
if (unavailable && process.env.CI) throw new Error(`the Slurm tests cannot run under CI: ${unavailable}`);
if (unavailable) console.warn(`skipping the Slurm tests: ${unavailable}`);
const describeSlurm = unavailable ? describe.skip : describe;

process.env.TEST_HF_TOKEN = 'hf-secret-from-worker-env';
process.env.PAIRWISE_TEST_NOT_FOR_JOBS = 'worker-only';
process.env.TEST_SLURM_KEY = '';

let cluster: TSlurmCluster;
let sshd: TSshServer;
const store = localArtifactStore(path.join(contractScratch, 'artifacts'));

beforeAll(async () => {
  if (unavailable) return;
  cluster = await startSlurmCluster({ minJobAgeSeconds: 10, accounting: true });
  sshd = await startSshServer(path.join(contractScratch, 'sshd'));
  process.env.TEST_SLURM_KEY = sshd.clientKey;
});

afterAll(async () => {
  await sshd?.stop();
  await cluster?.stop();
  fs.rmSync(contractScratch, { recursive: true, force: true });
});

function directConfig(extra: Partial<TSlurmExecutorConfig> = {}): TSlurmExecutorConfig {
  return {
    slurmConf: cluster.conf,
    partition: 'debug',
    account: 'post-training',
    jobDir: path.join(contractScratch, 'slurm-jobs'),
    env: { HF_HUB_OFFLINE: '1' },
    secretEnv: { HF_TOKEN: 'TEST_HF_TOKEN' },
    timeLimit: '10:00',
    ...extra,
  };
}

function sshConfig(extra: Partial<TSlurmExecutorConfig> = {}): TSlurmExecutorConfig {
  const { secretEnv: _worker, ...rest } = directConfig();
  return {
    ...rest,
    // Through SSH, secrets are variables of the login node's environment: sshd's own PATH and HOME are there, not a token.
    ssh: { host: '127.0.0.1', port: sshd.port, user: sshd.user, identityFileEnv: 'TEST_SLURM_KEY', knownHostsFile: sshd.knownHosts },
    jobDir: path.join(contractScratch, 'slurm-jobs-ssh'),
    setup: ['export HF_TOKEN=hf-secret-from-login-node'],
    ...extra,
  };
}

describeSlurm('Slurm, for real', () => {
  executorContract('slurm (worker host is a submit host)', async () => ({
    executor: () => executorFor({ id: 1, kind: 'slurm', config: directConfig() }, { store }),
    expectedToken: 'hf-secret-from-worker-env',
  }));

  executorContract('slurm (through SSH to a login node)', async () => ({
    executor: () => executorFor({ id: 2, kind: 'slurm', config: sshConfig() }, { store }),
    expectedToken: 'hf-secret-from-login-node',
  }));

  describe('what only Slurm has', () => {
    const executor = () => slurmExecutor(directConfig());

    it('the batch script asks Slurm for what the config and the job say, and holds no secret value', async () => {
      const job = trainerJob({ gpus: 2 });
      const { externalId } = await executor().submit(job);
      const [jobId, name] = externalId.split('/');
      expect(name).toBe(`pairwise-run-${job.runId}-0`);
      const scontrol = cluster.command('scontrol', ['-o', 'show', 'job', jobId!]);
      expect(scontrol).toContain(`JobName=${name}`);
      expect(scontrol).toContain('Partition=debug');
      expect(scontrol).toContain('TimeLimit=00:10:00');
      expect(scontrol).toMatch(/TresPerNode=gres[:/]gpu:2/);
      expect(scontrol).toContain(`Comment=pairwise-run=${job.runId},attempt=0`);
      const folder = path.join(contractScratch, 'slurm-jobs', name!);
      const script = fs.readFileSync(path.join(folder, 'job.sh'), 'utf8');
      expect(script).toContain('#SBATCH --gpus-per-node=2');
      expect(script).toContain('#SBATCH --no-requeue');
      expect(script).not.toContain('hf-secret-from-worker-env');
      expect(script).toContain('export HF_TOKEN="${TEST_HF_TOKEN:?');
      const done = await waitForStatus(executor(), externalId, terminal, 30_000);
      expect(done.state).toBe('succeeded');
      // Slurm's own accounting of the GPUs: 2 allocated for the job's run time.
      expect(done.gpuSeconds).toBeGreaterThanOrEqual(0);
      expect(done.gpuSeconds! % 2).toBe(0);
      expect(fs.readFileSync(path.join(folder, 'exit-code'), 'utf8').trim()).toBe('0');
    });

    /** Submits a job that succeeds and one that fails, and waits until Slurm's controller has forgotten both (MinJobAge=10). */
    async function forgottenJobs(on: ReturnType<typeof slurmExecutor>, where: TSlurmCluster) {
      const ok = await on.submit(trainerJob({ steps: 1, gpus: 2 }));
      const bad = await on.submit(trainerJob({ fail: true }));
      for (const id of [ok.externalId, bad.externalId]) await waitForStatus(on, id, terminal, 30_000);
      await until('Slurm to forget the jobs', async () => {
        try {
          where.command('scontrol', ['-o', 'show', 'job', bad.externalId.split('/')[0]!]);
          return null;
        } catch {
          return true;
        }
      }, 60_000, 1000);
      return { ok: ok.externalId, bad: bad.externalId };
    }

    it('a job that has left the controller’s memory is read from accounting (sacct), GPUs and all', async () => {
      const { ok, bad } = await forgottenJobs(executor(), cluster);
      const okStatus = await executor().status(ok);
      expect(okStatus).toMatchObject({ state: 'succeeded', startedAt: expect.any(Date), finishedAt: expect.any(Date) });
      // AllocTRES gres/gpu=2 times ElapsedRaw: Slurm's own GPU accounting.
      const elapsed = (okStatus.finishedAt!.getTime() - okStatus.startedAt!.getTime()) / 1000;
      expect(okStatus.gpuSeconds).toBe(2 * elapsed);
      expect(cluster.command('sacct', ['-n', '-P', '-X', '-j', ok.split('/')[0]!, '-o', 'AllocTRES'])).toContain('gres/gpu=2');
      expect(await executor().status(bad)).toMatchObject({ state: 'failed', message: 'FAILED (exit code 1)' });
      expect(await executor().logs(bad)).toContain('CUDA out of memory');
    });

    it('without accounting, a job Slurm has forgotten is read from the exit status its script recorded', async () => {
      const plain = await startSlurmCluster({ minJobAgeSeconds: 10 });
      try {
        const on = slurmExecutor(directConfig({ slurmConf: plain.conf, account: undefined, jobDir: path.join(contractScratch, 'slurm-jobs-plain') }));
        const { ok, bad } = await forgottenJobs(on, plain);
        expect(plain.command('bash', ['-c', 'sacct -n -X 2>&1 || true'])).toMatch(/accounting storage is disabled/i);
        const okStatus = await on.status(ok);
        expect(okStatus.state).toBe('succeeded');
        expect(okStatus.finishedAt).toBeInstanceOf(Date);
        expect(await on.status(bad)).toMatchObject({ state: 'failed', message: 'exit code 1' });
        expect(await on.logs(bad)).toContain('CUDA out of memory');
      } finally {
        await plain.stop();
      }
    });

    it('waiting jobs say why, in Slurm’s words; a job that cannot run is refused at submit with sbatch’s reason', async () => {
      const later = slurmExecutor(directConfig({ sbatchOptions: ['--begin=now+3600'] }));
      const { externalId } = await later.submit(trainerJob());
      const waiting = await later.status(externalId);
      expect(waiting.state).toBe('pending');
      expect(waiting.message).toBe('waiting in partition debug: BeginTime');
      expect(await later.logs(externalId)).toBe('');
      await later.cancel(externalId);
      expect((await waitForStatus(later, externalId, terminal)).state).toBe('cancelled');

      await expect(slurmExecutor(directConfig({ partition: 'gpu-h100' })).submit(trainerJob())).rejects.toThrow(/sbatch on this host .* refused run \d+ attempt 0: .*invalid partition specified: gpu-h100/);
      await expect(executor().submit(trainerJob({ gpus: 3 }))).rejects.toThrow(/refused run \d+ attempt 0: .*(Requested node configuration is not available|Invalid generic resource)/);
      await expect(slurmExecutor(directConfig({ secretEnv: { HF_TOKEN: 'TEST_UNSET_VARIABLE' } })).submit(trainerJob())).rejects.toThrow(/secretEnv.HF_TOKEN: \$TEST_UNSET_VARIABLE is not set on the worker/);
    });

    it('a job over two nodes runs the command once per node, with its rank and the first node’s address, and rendezvous works', async () => {
      const runId = takeRunId();
      const venv = hostVenv();
      // With the trainer venv: a real torch.distributed rendezvous (gloo) of the two ranks at the address the script gives.
      // The barrier and the orderly teardown keep a rank from exiting while its peer still reads from it (gloo aborts then).
      const rendezvous = venv
        ? `${venv.python} -c "import os, torch, torch.distributed as d; d.init_process_group('gloo', init_method='tcp://'+os.environ['PAIRWISE_MASTER_ADDR']+':29500', rank=int(os.environ['PAIRWISE_NODE_RANK']), world_size=2); t=torch.tensor([int(os.environ['PAIRWISE_NODE_RANK'])+1]); d.all_reduce(t); print('allreduce', int(t), flush=True); d.barrier(); d.destroy_process_group()"`
        : 'echo "allreduce 3 (no venv: rendezvous not tried)"';
      const job: TExecutorJob = {
        runId,
        attempt: 0,
        command: ['bash', '-c', `echo "rank=$PAIRWISE_NODE_RANK master=$PAIRWISE_MASTER_ADDR node=$SLURMD_NODENAME token=$HF_TOKEN" && ${rendezvous}`],
        env: {},
        gpus: 1,
        nodes: 2,
        artifactPrefix: `runs/${runId}/`,
      };
      const { externalId } = await executor().submit(job);
      const done = await waitForStatus(executor(), externalId, terminal, 120_000);
      const logs = await executor().logs(externalId);
      expect(done.state, logs).toBe('succeeded');
      expect(logs).toContain('[pairwise] 2 nodes; rank 0 on pw0 (127.0.0.1)');
      expect(logs).toContain('0: rank=0 master=127.0.0.1 node=pw0 token=hf-secret-from-worker-env');
      expect(logs).toContain('1: rank=1 master=127.0.0.1 node=pw1 token=hf-secret-from-worker-env');
      expect(logs).toContain('0: allreduce 3');
      expect(logs).toContain('1: allreduce 3');
      // 2 nodes x 1 GPU for the job's run time, as Slurm counts them.
      expect(done.gpuSeconds! % 2).toBe(0);
    });

    it('one node failing fails the whole job, and the other node’s process is stopped', async () => {
      const runId = takeRunId();
      const job: TExecutorJob = {
        runId,
        attempt: 0,
        command: ['bash', '-c', 'if [ "$PAIRWISE_NODE_RANK" = 1 ]; then echo "rank 1 fails"; exit 3; fi; echo "rank 0 waits"; sleep 120'],
        env: {},
        gpus: 0,
        nodes: 2,
        artifactPrefix: `runs/${runId}/`,
      };
      const started = Date.now();
      const { externalId } = await executor().submit(job);
      const done = await waitForStatus(executor(), externalId, terminal, 90_000);
      expect(done.state).toBe('failed');
      expect(done.message).toMatch(/exit code 3|FAILED/);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(await waitForLogs(executor(), externalId, 'rank 1 fails')).toContain('rank 0 waits');
    });

    it('the connection test reaches the cluster, lists its partitions with nodes and GPUs, and tries the config’s options', async () => {
      const direct = await checkSlurmCluster(directConfig());
      expect(direct.checks.every((c) => c.ok), JSON.stringify(direct.checks)).toBe(true);
      expect(direct.checks.find((c) => c.check === 'Slurm')?.detail).toMatch(/^slurm(-wlm)? \d+\.\d+/);
      expect(direct.checks.find((c) => c.check === 'trial job (sbatch --test-only)')?.detail).toMatch(/to start at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ using 1 processors on nodes pw\d in partition debug/);
      expect(direct.checks.find((c) => c.check === 'partitions')?.detail).toBe('2 partition(s), 2 node(s)');
      expect(direct.queues!.map((q) => q.name)).toEqual(['debug', 'long']);
      const debug = direct.queues!.find((q) => q.name === 'debug')!;
      expect(debug).toMatchObject({ isDefault: true, state: 'up', nodes: 2, gpus: 4, cpus: 2, timeLimit: 'infinite' });
      expect(direct.queues!.find((q) => q.name === 'long')).toMatchObject({ isDefault: false, timeLimit: '2-00:00:00', nodes: 2 });

      const viaSsh = await checkSlurmCluster(sshConfig({ account: undefined }));
      expect(viaSsh.checks.every((c) => c.ok), JSON.stringify(viaSsh.checks)).toBe(true);
      expect(viaSsh.checks.find((c) => c.check === 'Slurm')?.detail).toContain(`on ${sshd.user}@127.0.0.1:${sshd.port}`);

      const badAccount = await checkSlurmCluster(directConfig({ account: 'someone-elses' }));
      expect(badAccount.checks.filter((c) => !c.ok)).toEqual([{ check: 'trial job (sbatch --test-only)', ok: false, detail: expect.stringContaining('Invalid account or account/partition combination specified') }]);

      const badPartition = await checkSlurmCluster(directConfig({ partition: 'gpu-h100' }));
      expect(badPartition.checks.filter((c) => !c.ok).map((c) => c.check)).toEqual(['partition', 'trial job (sbatch --test-only)']);
      expect(badPartition.checks.find((c) => c.check === 'partition')?.detail).toBe('no partition gpu-h100 (this cluster has debug, long)');
    });

    it('SSH failures say what failed: an unknown host key, a missing key variable, nobody listening', async () => {
      const changedKey = slurmExecutor(sshConfig({ ssh: { host: '127.0.0.1', port: sshd.port, user: sshd.user, identityFileEnv: 'TEST_SLURM_KEY', knownHostsFile: sshd.wrongKnownHosts } }));
      await expect(changedKey.submit(trainerJob())).rejects.toThrow(/ssh root@127\.0\.0\.1:\d+ failed: .*(REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed)/);
      const noKey = slurmExecutor(sshConfig({ ssh: { host: '127.0.0.1', port: sshd.port, user: sshd.user, identityFileEnv: 'TEST_UNSET_VARIABLE' } }));
      await expect(noKey.submit(trainerJob())).rejects.toThrow('config.ssh.identityFileEnv: $TEST_UNSET_VARIABLE is not set on the worker');
      const nobody = await checkSlurmCluster(sshConfig({ ssh: { host: '127.0.0.1', port: 1, user: sshd.user, identityFileEnv: 'TEST_SLURM_KEY', knownHostsFile: sshd.knownHosts } }));
      expect(nobody.checks).toEqual([{ check: 'submit host', ok: false, detail: expect.stringMatching(/ssh root@127\.0\.0\.1:1 failed: .*Connection refused/) }]);
    });
  });
});
