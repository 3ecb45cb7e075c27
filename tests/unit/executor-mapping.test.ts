import { spawnSync } from 'node:child_process';
import type { V1Job, V1JobStatus } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseExecutorConfig, referencedEnv } from '@/server/executors/executors';
import { isPairwiseSetting } from '@/server/secret-names';
import { assertValidJob, jobName, resolveSecretEnv, shellQuote, tailText } from '@/workers/executors/common';
import { kubernetesJobBody, kubernetesServiceBody, kubernetesStatus } from '@/workers/executors/kubernetes';
import { rayEntrypoint, rayStatus } from '@/workers/executors/ray';

describe('shellQuote', () => {
  it('gives every argument back exactly through sh -c', () => {
    const args = ['plain', "it's", 'two words', '', '$HOME', '`id`', '"double"', 'a\nb', '*', '--flag=x;y', 'é ü 中'];
    const result = spawnSync('/bin/sh', ['-c', `printf '%s\\0' ${shellQuote(args)}`], { encoding: 'utf8' });
    expect(result.stdout.split('\0').slice(0, -1)).toEqual(args);
  });

  it('leaves safe words bare', () => {
    expect(shellQuote(['trl', 'dpo', '--config', '/data/runs/7/config.yaml'])).toBe('trl dpo --config /data/runs/7/config.yaml');
  });
});

describe('tailText', () => {
  it('cuts by bytes without splitting a UTF-8 character', () => {
    expect(tailText('abcdef', 3)).toBe('def');
    expect(tailText('abc', 10)).toBe('abc');
    expect(tailText('abc', undefined)).toBe('abc');
    expect(tailText('xé', 1)).toBe('');
    expect(tailText('xé', 2)).toBe('é');
    expect(tailText('abc', 0)).toBe('');
  });
});

describe('jobs and secrets', () => {
  const job = { runId: 7, attempt: 2, command: ['trl', 'dpo'], env: { A: '1' }, gpus: 1, artifactPrefix: 'runs/7/' };

  it('names jobs after the run and attempt', () => {
    expect(jobName(job)).toBe('pairwise-run-7-2');
  });

  it('refuses jobs no executor could run', () => {
    expect(() => assertValidJob(job)).not.toThrow();
    expect(() => assertValidJob({ ...job, command: [] })).toThrow(/command/);
    expect(() => assertValidJob({ ...job, gpus: 1.5 })).toThrow(/gpus/);
    expect(() => assertValidJob({ ...job, env: { 'NOT-A-NAME': 'x' } })).toThrow(/env/);
    expect(() => assertValidJob({ ...job, artifactPrefix: 'runs/7' })).toThrow(/artifactPrefix/);
    expect(() => assertValidJob({ ...job, nodes: 4 })).not.toThrow();
    for (const nodes of [0, -1, 1.5, Number.NaN]) expect(() => assertValidJob({ ...job, nodes })).toThrow('nodes: must be an integer >= 1');
  });

  it('reads secrets from the named variables and names a missing one', () => {
    expect(resolveSecretEnv({ HF_TOKEN: 'MY_HF' }, { MY_HF: 'abc' })).toEqual({ HF_TOKEN: 'abc' });
    expect(() => resolveSecretEnv({ HF_TOKEN: 'MY_HF' }, {})).toThrow('secretEnv.HF_TOKEN: $MY_HF is not set on the worker');
  });
});

describe('Ray job status', () => {
  it('maps every Ray status and converts millisecond times', () => {
    expect(rayStatus({ status: 'PENDING', start_time: 1_700_000_000_000, end_time: null })).toEqual({ state: 'pending', startedAt: new Date(1_700_000_000_000) });
    expect(rayStatus({ status: 'RUNNING', start_time: 1_700_000_000_000 }).state).toBe('running');
    expect(rayStatus({ status: 'SUCCEEDED', start_time: 1_700_000_000_000, end_time: 1_700_000_060_000, message: 'Job finished successfully.' })).toEqual({
      state: 'succeeded',
      message: 'Job finished successfully.',
      startedAt: new Date(1_700_000_000_000),
      finishedAt: new Date(1_700_000_060_000),
    });
    expect(rayStatus({ status: 'FAILED', error_type: 'JOB_ENTRYPOINT_COMMAND_ERROR', message: 'exit code 1' }).message).toBe('JOB_ENTRYPOINT_COMMAND_ERROR: exit code 1');
    expect(rayStatus({ status: 'STOPPED' }).state).toBe('cancelled');
  });
});

describe('Kubernetes Job status', () => {
  const at = '2026-01-01T00:00:00Z';
  it('reads conditions first, then counts', () => {
    expect(kubernetesStatus({ status: {} }).state).toBe('pending');
    expect(kubernetesStatus({ status: { active: 1, ready: 0, startTime: new Date(at) } })).toMatchObject({ state: 'pending', startedAt: new Date(at) });
    expect(kubernetesStatus({ status: { active: 1, ready: 1 } }).state).toBe('running');
    expect(kubernetesStatus({ status: { active: 1 } }).state).toBe('running');
    expect(kubernetesStatus({ status: { succeeded: 1, completionTime: new Date(at), conditions: [{ type: 'Complete', status: 'True' }] } })).toMatchObject({ state: 'succeeded', finishedAt: new Date(at) });
    expect(
      kubernetesStatus({ status: { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: new Date(at) }] } }),
    ).toEqual({ state: 'failed', message: 'DeadlineExceeded: Job was active longer than specified deadline', startedAt: undefined, finishedAt: new Date(at) });
    expect(kubernetesStatus({ status: { active: 1, conditions: [{ type: 'Failed', status: 'False' }] } }).state).toBe('running');
  });

  it('aggregates an Indexed Job over its pods: running once every node runs, succeeded once every index has, failed at the first failure', () => {
    const indexed = (status: V1JobStatus): V1Job => ({ spec: { completionMode: 'Indexed', completions: 3, parallelism: 3, template: {} }, status });
    expect(kubernetesStatus(indexed({ active: 3, ready: 0 }))).toMatchObject({ state: 'pending', message: '0 of 3 pods running; the others are starting (scheduling, pulling the image)' });
    expect(kubernetesStatus(indexed({ active: 3, ready: 2 }))).toMatchObject({ state: 'pending', message: '2 of 3 pods running; the others are starting (scheduling, pulling the image)' });
    expect(kubernetesStatus(indexed({ active: 3, ready: 3 })).state).toBe('running');
    // A rank that finished first still counts; the job has not succeeded until all have.
    expect(kubernetesStatus(indexed({ active: 1, ready: 1, succeeded: 2, completedIndexes: '1-2' })).state).toBe('running');
    expect(kubernetesStatus(indexed({ active: 0, succeeded: 3 })).state).toBe('succeeded');
    expect(kubernetesStatus(indexed({ active: 2, ready: 2, failed: 1 }))).toMatchObject({ state: 'failed', message: 'a pod failed' });
    expect(kubernetesStatus(indexed({ succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] })).state).toBe('succeeded');
  });

  it('turns a job over several nodes into an Indexed Job naming its headless Service, with the rank and rank 0’s address the executor’s', () => {
    const config = parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'trl:1', env: { PAIRWISE_MASTER_ADDR: 'not-ours' } });
    if (config.kind !== 'kubernetes') throw new Error('kind');
    const job = { runId: 3, attempt: 1, command: ['bash', '-c', 'accelerate launch'], env: { PAIRWISE_NODE_RANK: '9' }, gpus: 8, nodes: 4, artifactPrefix: 'runs/3/' };
    const body = kubernetesJobBody(config.config, job);
    expect(body.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4, backoffLimit: 0 });
    expect(body.spec!.template.spec!.subdomain).toBe('pairwise-run-3-1');
    expect(body.spec!.template.spec!.containers[0]!.env).toEqual([
      { name: 'PAIRWISE_NODE_RANK', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
      { name: 'PAIRWISE_MASTER_ADDR', value: 'pairwise-run-3-1-0.pairwise-run-3-1' },
    ]);
    expect(kubernetesServiceBody(config.config, job)!.spec).toMatchObject({ clusterIP: 'None', selector: { 'pairwise.dev/run': '3', 'pairwise.dev/attempt': '1' }, ports: [{ port: 29500 }] });
    // One node: the Job as it always was, and no Service.
    const single = kubernetesJobBody(config.config, { ...job, nodes: 1 });
    expect(single.spec).not.toHaveProperty('completionMode');
    expect(single.spec!.template.spec).not.toHaveProperty('subdomain');
    expect(kubernetesServiceBody(config.config, { ...job, nodes: 1 })).toBeNull();
    expect(kubernetesServiceBody(config.config, { ...job, nodes: undefined })).toBeNull();
  });

  it('puts the store’s variables first, so the config’s and the job’s win, and never over a secretKeyRef', () => {
    const config = parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'trl:1', env: { AWS_REGION: 'cluster-region' }, secretName: 's', secretKeys: { AWS_ENDPOINT_URL: 'endpoint' } });
    if (config.kind !== 'kubernetes') throw new Error('kind');
    const body = kubernetesJobBody(config.config, { runId: 3, attempt: 0, command: ['trl'], env: { AWS_DEFAULT_REGION: 'job-region' }, gpus: 0, artifactPrefix: 'runs/3/' }, {
      AWS_ENDPOINT_URL: 'http://minio:9000',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
    });
    expect(body.spec!.template.spec!.containers[0]!.env).toEqual([
      { name: 'AWS_REGION', value: 'cluster-region' },
      { name: 'AWS_DEFAULT_REGION', value: 'job-region' },
      { name: 'AWS_ENDPOINT_URL', valueFrom: { secretKeyRef: { name: 's', key: 'endpoint' } } },
    ]);
  });

  it('builds a Job without GPUs limits when none are asked, and envFrom for a whole Secret', () => {
    const config = parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'trl:1', secretName: 'hf' });
    if (config.kind !== 'kubernetes') throw new Error('kind');
    const body = kubernetesJobBody(config.config, { runId: 3, attempt: 0, command: ['trl', 'sft'], env: {}, gpus: 0, artifactPrefix: 'runs/3/' });
    const container = body.spec!.template.spec!.containers[0]!;
    expect(container.resources).toEqual({});
    expect(container.envFrom).toEqual([{ secretRef: { name: 'hf' } }]);
    expect(body.spec!.ttlSecondsAfterFinished).toBe(7 * 24 * 3600);
  });
});

describe('executor configs', () => {
  it('accept references to variables, never values, and name the bad field', () => {
    const ray = parseExecutorConfig('ray', { address: 'http://ray:8265', headers: { Authorization: 'RAY_AUTH' }, secretEnv: { HF_TOKEN: 'HF_TOKEN' } });
    // Ray's secretEnv names the Ray node's variables, which the worker never reads.
    expect(referencedEnv(ray)).toEqual(['RAY_AUTH']);
    expect(referencedEnv(parseExecutorConfig('local', { secretEnv: { HF_TOKEN: 'HF_TOKEN' } }))).toEqual(['HF_TOKEN']);
    expect(() => parseExecutorConfig('ray', { address: 'http://ray:8265', headers: { Authorization: 'Bearer abc' } })).toThrow(/config\.headers\.Authorization/);
    expect(() => parseExecutorConfig('ray', { address: 'ftp://ray' })).toThrow(/config\.address/);
    expect(() => parseExecutorConfig('local', { gpus: ['0', '0'] })).toThrow(/listed twice/);
    expect(() => parseExecutorConfig('local', { gpus: ['0,1'] })).toThrow(/config\.gpus\[0\]/);
    expect(() => parseExecutorConfig('local', { workdir: 'relative/dir' })).toThrow(/absolute/);
    expect(() => parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'x', secretKeys: { A: 'a' } })).toThrow(/secretKeys needs secretName/);
    expect(parseExecutorConfig('local', undefined)).toEqual({ kind: 'local', config: {} });
  });

  it('never let an executor read Pairwise’s own secrets and settings', () => {
    for (const name of ['DATABASE_URL', 'AUTH_SECRET', 'AUTH_GITHUB_SECRET', 'NEXTAUTH_SECRET', 'PAIRWISE_S3_BUCKET', 'pairwise_hf_token', 'database_url']) expect(isPairwiseSetting(name)).toBe(true);
    for (const name of ['HF_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'RAY_AUTH', 'MY_DATABASE_URL', 'OAUTH_TOKEN']) expect(isPairwiseSetting(name)).toBe(false);
    expect(() => parseExecutorConfig('local', { secretEnv: { HF_TOKEN: 'DATABASE_URL' } })).toThrow(/^config\.secretEnv\.HF_TOKEN: names one of Pairwise’s own settings/);
    expect(() => parseExecutorConfig('ray', { address: 'http://ray:8265', headers: { Authorization: 'AUTH_SECRET' } })).toThrow(/^config\.headers\.Authorization: /);
    expect(() => parseExecutorConfig('ray', { address: 'http://ray:8265', secretEnv: { X: 'NEXTAUTH_URL' } })).toThrow(/^config\.secretEnv\.X: /);
  });

  it('take a Kubernetes quantity for /dev/shm and keep its volume name for Pairwise', () => {
    expect(parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'x', shmSizeLimit: '16Gi' }).config).toMatchObject({ shmSizeLimit: '16Gi' });
    expect(parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'x', shmSizeLimit: '1.5e9' }).config).toMatchObject({ shmSizeLimit: '1.5e9' });
    expect(() => parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'x', shmSizeLimit: '16GB' })).toThrow(/^config\.shmSizeLimit: must be a Kubernetes quantity/);
    expect(() => parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'x', shmSizeLimit: '0Gi' })).toThrow(/^config\.shmSizeLimit: must be more than 0/);
    expect(() => parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'x', volumes: [{ name: 'pairwise-shm', emptyDir: {} }] })).toThrow(/^config\.volumes: /);
  });
});

describe('Ray entrypoint', () => {
  it('exports secrets from the node’s variables by name, and fails naming a missing one', () => {
    const entrypoint = rayEntrypoint(['node', '-e', 'console.log(process.env.HF_TOKEN)'], { HF_TOKEN: 'NODE_HF_TOKEN' });
    expect(entrypoint).toBe(`export HF_TOKEN="\${NODE_HF_TOKEN:?is not set on the Ray node (secretEnv.HF_TOKEN)}" && node -e 'console.log(process.env.HF_TOKEN)'`);
    const onNode = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }) as unknown as NodeJS.ProcessEnv;
    const ran = spawnSync('/bin/sh', ['-c', entrypoint], { encoding: 'utf8', env: onNode({ NODE_HF_TOKEN: 'from-node' }) });
    expect(ran.stdout).toBe('from-node\n');
    for (const value of [undefined, '']) {
      const missing = spawnSync('/bin/sh', ['-c', entrypoint], { encoding: 'utf8', env: onNode(value === undefined ? {} : { NODE_HF_TOKEN: value }) });
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toContain('NODE_HF_TOKEN: is not set on the Ray node (secretEnv.HF_TOKEN)');
    }
    expect(rayEntrypoint(['trl', 'dpo'], undefined)).toBe('trl dpo');
  });
});
