import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseExecutorConfig, referencedEnv } from '@/server/executors/executors';
import { assertValidJob, jobName, resolveSecretEnv, shellQuote, tailText } from '@/workers/executors/common';
import { kubernetesJobBody, kubernetesStatus } from '@/workers/executors/kubernetes';
import { rayStatus } from '@/workers/executors/ray';

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
    expect(referencedEnv(ray)).toEqual(['HF_TOKEN', 'RAY_AUTH']);
    expect(() => parseExecutorConfig('ray', { address: 'http://ray:8265', headers: { Authorization: 'Bearer abc' } })).toThrow(/config\.headers\.Authorization/);
    expect(() => parseExecutorConfig('ray', { address: 'ftp://ray' })).toThrow(/config\.address/);
    expect(() => parseExecutorConfig('local', { gpus: ['0', '0'] })).toThrow(/listed twice/);
    expect(() => parseExecutorConfig('local', { gpus: ['0,1'] })).toThrow(/config\.gpus\[0\]/);
    expect(() => parseExecutorConfig('local', { workdir: 'relative/dir' })).toThrow(/absolute/);
    expect(() => parseExecutorConfig('kubernetes', { namespace: 'ml', image: 'x', secretKeys: { A: 'a' } })).toThrow(/secretKeys needs secretName/);
    expect(parseExecutorConfig('local', undefined)).toEqual({ kind: 'local', config: {} });
  });
});
