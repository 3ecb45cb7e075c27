import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { eq } from 'drizzle-orm';
import { TRPCError } from '@trpc/server';
import { afterAll, describe, expect, it } from 'vitest';
import { runs } from '@/db/schema';
import { s3ArtifactStore } from '@/server/artifacts/s3-store';
import { localArtifactStore, type TArtifactStore } from '@/server/artifacts/store';
import { executorFor } from '@/workers/executors';
import { shellQuote } from '@/workers/executors/common';
import type { TExecutor, TExecutorJob } from '@/workers/executors/types';
import { repoRoot } from '../helpers/app-process';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, makeUser } from '../helpers/factories';
import { startFakeKubernetes, type TFakeKubernetes } from '../helpers/fake-kubernetes';
import { rayDuplicateSubmissionText, startFakeRay, type TFakeRay } from '../helpers/fake-ray';
import { startFakeS3, type TFakeS3 } from '../helpers/fake-s3';
import { contractScratch, echoJob, executorContract, processAlive, takeRunId, terminal, trainerJob, waitForLogs, waitForStatus } from '../helpers/executor-contract';

const tmp = contractScratch;

// Secrets reach jobs only through references: to the worker's environment (local, Ray headers),
// to the Ray node's (Ray secretEnv), to a Kubernetes Secret. TEST_HF_TOKEN is set on the worker and
// on the fake Ray node with different values, so a Ray job that got the worker's would show it.
process.env.TEST_HF_TOKEN = 'hf-secret-from-worker-env';
process.env.TEST_RAY_AUTH = 'Bearer ray-secret';
process.env.PAIRWISE_TEST_NOT_FOR_JOBS = 'worker-only';
// The S3 store's SDK reads these; set before any client exists.
process.env.AWS_ACCESS_KEY_ID = 'AKIAFAKEFAKEFAKE';
process.env.AWS_SECRET_ACCESS_KEY = 'fake-secret-key-for-tests';
process.env.AWS_EC2_METADATA_DISABLED = 'true';

const artifactsRoot = path.join(tmp, 'artifacts');
const store: TArtifactStore = localArtifactStore(artifactsRoot);

const localConfig = {
  stateDir: path.join(tmp, 'local-state'),
  gpus: ['0', '1'],
  env: { HF_HUB_OFFLINE: '1' },
  secretEnv: { HF_TOKEN: 'TEST_HF_TOKEN' },
  killGraceSeconds: 2,
};

executorContract('local', async () => ({
  executor: () => executorFor({ id: 1, kind: 'local', config: localConfig }, { store }),
  expectedToken: 'hf-secret-from-worker-env',
}));

let ray: TFakeRay;
const rayConfig = () => ({
  address: ray.address,
  headers: { Authorization: 'TEST_RAY_AUTH' },
  runtimeEnv: { working_dir: tmp, env_vars: { HF_HUB_OFFLINE: '1' } },
  secretEnv: { HF_TOKEN: 'TEST_HF_TOKEN' },
  entrypointNumCpus: 4,
});

executorContract('ray', async () => {
  ray = await startFakeRay({ requiredHeaders: { authorization: 'Bearer ray-secret' }, nodeEnv: { TEST_HF_TOKEN: 'hf-secret-from-ray-node' } });
  return { executor: () => executorFor({ id: 2, kind: 'ray', config: rayConfig() }, { store }), expectedToken: 'hf-secret-from-ray-node' };
});

let kube: TFakeKubernetes;
const kubeConfig = () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: kube.server, skipTLSVerify: true }],
    users: [{ name: 'tester', token: 'test-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
    currentContext: 'fake',
  });
  return kc;
};
const kubernetesConfig = {
  namespace: 'training',
  image: 'registry.example/pairwise/trl:1',
  serviceAccount: 'trainer',
  nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' },
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' as const, effect: 'NoSchedule' as const }],
  secretName: 'hf',
  secretKeys: { HF_TOKEN: 'token' },
  env: { HF_HUB_OFFLINE: '1' },
  resources: { cpu: '8', memory: '64Gi' },
  ttlSecondsAfterFinished: 3600,
};

executorContract('kubernetes', async () => {
  kube = await startFakeKubernetes({ secrets: { 'training/hf': { token: 'hf-secret-from-kubernetes' } } });
  return { executor: () => executorFor({ id: 3, kind: 'kubernetes', config: kubernetesConfig }, { store, kubeConfig: kubeConfig() }), expectedToken: 'hf-secret-from-kubernetes' };
});

afterAll(async () => {
  await ray?.close();
  await kube?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Ray executor requests', () => {
  const ut = () => executorFor({ id: 2, kind: 'ray', config: rayConfig() }, { store });
  it('posts the documented submit payload, with auth from the worker and secrets only as references to the Ray node', async () => {
    const executor = executorFor({ id: 2, kind: 'ray', config: rayConfig() }, { store });
    const job = trainerJob({ gpus: 2 });
    const { externalId } = await executor.submit(job);
    await executor.submit(job);
    const posts = ray.requests.filter((r) => r.method === 'POST' && r.path === '/api/jobs/' && (r.body as { submission_id?: string }).submission_id === externalId);
    expect(posts).toHaveLength(2);
    expect(posts[0]!.body).toEqual({
      entrypoint: `export HF_TOKEN="\${TEST_HF_TOKEN:?is not set on the Ray node (secretEnv.HF_TOKEN)}" && ${shellQuote(job.command)}`,
      submission_id: `pairwise-run-${job.runId}-0`,
      runtime_env: { working_dir: tmp, env_vars: { HF_HUB_OFFLINE: '1', FAKE_TRAINER_STEP_MS: '50' } },
      entrypoint_num_gpus: 2,
      entrypoint_num_cpus: 4,
      metadata: { pairwise_run: String(job.runId), pairwise_attempt: '0' },
    });
    expect(ray.requests.every((r) => r.headers.authorization === 'Bearer ray-secret')).toBe(true);
    await waitForStatus(executor, externalId, terminal);
    expect(ray.starts(externalId)).toBe(1);
    expect(ray.requests.some((r) => r.method === 'GET' && r.path === `/api/jobs/${externalId}`)).toBe(true);
    await executor.logs(externalId);
    expect(ray.requests.some((r) => r.method === 'GET' && r.path === `/api/jobs/${externalId}/logs`)).toBe(true);
  });

  it('refuses to submit when a referenced variable is not set, before any request', async () => {
    const executor = executorFor({ id: 2, kind: 'ray', config: { ...rayConfig(), headers: { Authorization: 'TEST_UNSET_VARIABLE' } } }, { store });
    const before = ray.requests.length;
    await expect(executor.submit(trainerJob())).rejects.toThrow(/TEST_UNSET_VARIABLE is not set/);
    expect(ray.requests.length).toBe(before);
  });

  it('maps stop to POST /stop, and an unknown job to failed', async () => {
    const executor = executorFor({ id: 2, kind: 'ray', config: rayConfig() }, { store });
    await executor.cancel('pairwise-run-999999-0');
    expect(ray.requests.at(-1)).toMatchObject({ method: 'POST', path: '/api/jobs/pairwise-run-999999-0/stop' });
    expect(await executor.status('pairwise-run-999999-0')).toMatchObject({ state: 'failed' });
  });

  it('a repeated submission_id is an HTTP 500, as on a real Ray head, and a resubmit still returns the job, started once', async () => {
    const executor = executorFor({ id: 2, kind: 'ray', config: rayConfig() }, { store });
    const job = trainerJob();
    const { externalId } = await executor.submit(job);
    const again = await fetch(`${ray.address}/api/jobs/`, {
      method: 'POST',
      headers: { authorization: 'Bearer ray-secret', 'content-type': 'application/json' },
      body: JSON.stringify({ entrypoint: 'true', submission_id: externalId }),
    });
    expect(again.status).toBe(500);
    expect(await again.text()).toMatch(/RuntimeError: Request failed with status code 400[\s\S]*ValueError: Job with submission_id pairwise-run-\d+-0 already exists/);

    const before = ray.requests.length;
    expect(await ut().submit(job)).toEqual({ externalId });
    // The refused POST, then the look-up that found this attempt's job.
    expect(ray.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /api/jobs/', `GET /api/jobs/${externalId}`]);
    expect((await waitForStatus(executor, externalId, terminal)).state).toBe('succeeded');
    expect(ray.starts(externalId)).toBe(1);
  });

  it('a job under our submission id that another run or attempt submitted is a conflict', async () => {
    const job = trainerJob();
    const { externalId } = await ut().submit(job);
    const existing = ray.jobs.get(externalId)!;
    existing.metadata = { pairwise_run: String(job.runId), pairwise_attempt: '7' };
    await expect(ut().submit(job)).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('attempt 7') as string });
    existing.metadata = {};
    await expect(ut().submit(job)).rejects.toMatchObject({ code: 'CONFLICT' });
    await ut().cancel(externalId);
  });

  it('any other refusal still fails the submit with the head’s message', async () => {
    ray.submitFailure = 'No available agent to submit job, please try again later.';
    try {
      await expect(ut().submit(trainerJob())).rejects.toThrow('Ray POST /api/jobs/ answered HTTP 500: No available agent to submit job, please try again later.');
      // From a wrapped traceback, the error line (Ray ends the wrapped text with a line holding only ".").
      ray.submitFailure = rayDuplicateSubmissionText('pairwise-run-1-0');
      await expect(ut().submit(trainerJob())).rejects.toThrow(/HTTP 500: ValueError: Job with submission_id pairwise-run-1-0 already exists\. Please use a different submission_id\.$/);
    } finally {
      ray.submitFailure = undefined;
    }
  });

  it('an answer lost after the head accepted the job is not a failure: the job is found and not started twice', async () => {
    let dropped = 0;
    // The head gets the POST and creates the job; the worker only sees the connection break.
    const flaky: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === 'POST' && String(input).endsWith('/api/jobs/') && dropped++ === 0) throw new TypeError('fetch failed (socket hang up)');
      return response;
    };
    const executor = executorFor({ id: 2, kind: 'ray', config: rayConfig() }, { store, fetch: flaky });
    const job = trainerJob();
    const { externalId } = await executor.submit(job);
    expect(dropped).toBe(1);
    expect((await waitForStatus(executor, externalId, terminal)).state).toBe('succeeded');
    expect(ray.starts(externalId)).toBe(1);
    // Nothing there: the network error itself is reported.
    const down = executorFor({ id: 2, kind: 'ray', config: { ...rayConfig(), address: 'http://127.0.0.1:9' } }, { store });
    await expect(down.submit(trainerJob())).rejects.toThrow(/unreachable \(POST \/api\/jobs\/\)/);
  });

  it('no secret value is in any submission: the job reads it on the Ray node, and fails naming a variable the node lacks', async () => {
    const executor = ut();
    const { externalId } = await executor.submit(echoJob([], {}));
    expect((await waitForStatus(executor, externalId, terminal)).state).toBe('succeeded');
    expect(await executor.logs(externalId)).toContain('"token":"hf-secret-from-ray-node"');
    const sent = JSON.stringify(ray.requests.map((r) => r.body));
    expect(sent).not.toContain('hf-secret-from-worker-env');
    expect(sent).not.toContain('hf-secret-from-ray-node');
    expect(sent).not.toContain('ray-secret');
    // What GET /api/jobs/ shows anyone: the entrypoint and runtime_env, with the variable's name only.
    const shown = await (await fetch(`${ray.address}/api/jobs/${externalId}`, { headers: { authorization: 'Bearer ray-secret' } })).text();
    expect(shown).toContain('TEST_HF_TOKEN');
    expect(shown).not.toContain('hf-secret');

    const missing = executorFor({ id: 2, kind: 'ray', config: { ...rayConfig(), secretEnv: { HF_TOKEN: 'NOT_ON_THE_NODE' } } }, { store });
    const failing = await missing.submit(echoJob([], {}));
    const failed = await waitForStatus(missing, failing.externalId, terminal);
    expect(failed.state).toBe('failed');
    expect(failed.message).toContain('NOT_ON_THE_NODE: is not set on the Ray node (secretEnv.HF_TOKEN)');
  });
});

describe('Kubernetes executor requests', () => {
  it('creates the Job with GPUs as nvidia.com/gpu, labels, restartPolicy Never, backoffLimit 0 and secrets as secretKeyRef', async () => {
    const executor = executorFor({ id: 3, kind: 'kubernetes', config: kubernetesConfig }, { store, kubeConfig: kubeConfig() });
    const job = trainerJob({ gpus: 2 });
    const { externalId } = await executor.submit(job);
    await executor.submit(job);
    expect(kube.podsCreated('training', externalId)).toBe(1);
    const creates = kube.requests.filter((r) => r.method === 'POST' && r.path === '/apis/batch/v1/namespaces/training/jobs' && (r.body as { metadata: { name: string } }).metadata.name === externalId);
    expect(creates).toHaveLength(2);
    const body = creates[0]!.body as {
      metadata: { name: string; labels: Record<string, string> };
      spec: { backoffLimit: number; ttlSecondsAfterFinished: number; template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } };
    };
    expect(body.metadata.name).toBe(`pairwise-run-${job.runId}-0`);
    expect(body.metadata.labels['pairwise.dev/run']).toBe(String(job.runId));
    expect(body.spec.template.metadata.labels['pairwise.dev/run']).toBe(String(job.runId));
    expect(body.spec.backoffLimit).toBe(0);
    expect(body.spec.ttlSecondsAfterFinished).toBe(3600);
    const pod = body.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.serviceAccountName).toBe('trainer');
    expect(pod.nodeSelector).toEqual(kubernetesConfig.nodeSelector);
    expect(pod.tolerations).toEqual(kubernetesConfig.tolerations);
    const container = pod.containers[0]!;
    expect(container.image).toBe(kubernetesConfig.image);
    expect(container.command).toEqual(job.command);
    expect(container.resources).toEqual({ limits: { 'nvidia.com/gpu': '2' }, requests: { cpu: '8', memory: '64Gi' } });
    // A memory-backed /dev/shm, not the runtime's 64 MiB: NCCL and DataLoader workers need more.
    expect(pod.volumes).toEqual([{ name: 'pairwise-shm', emptyDir: { medium: 'Memory' } }]);
    expect(container.volumeMounts).toEqual([{ name: 'pairwise-shm', mountPath: '/dev/shm' }]);
    expect(container.env).toEqual([
      { name: 'HF_HUB_OFFLINE', value: '1' },
      { name: 'FAKE_TRAINER_STEP_MS', value: '50' },
      { name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } },
    ]);
    expect(JSON.stringify(creates[0]!.body)).not.toContain('hf-secret');
    expect(kube.requests.every((r) => r.headers.authorization === 'Bearer test-token')).toBe(true);

    await waitForStatus(executor, externalId, terminal);
    await executor.logs(externalId, { tailBytes: 100 });
    const podList = kube.requests.filter((r) => r.path === '/api/v1/namespaces/training/pods').at(-1)!;
    expect(podList.query.labelSelector).toBe(`job-name=${externalId}`);
    const logRequest = kube.requests.filter((r) => r.path.endsWith('/log')).at(-1)!;
    expect(logRequest.query.container).toBe('trainer');
    expect(Number(logRequest.query.tailLines)).toBeGreaterThan(0);
  });

  it('cancels by deleting the Job in the background; a failed pod says why', async () => {
    const executor = executorFor({ id: 3, kind: 'kubernetes', config: kubernetesConfig }, { store, kubeConfig: kubeConfig() });
    const { externalId } = await executor.submit(trainerJob({ steps: 100, stepMs: 100 }));
    await waitForStatus(executor, externalId, (s) => s.state === 'running');
    await executor.cancel(externalId);
    const deletion = kube.requests.filter((r) => r.method === 'DELETE').at(-1)!;
    expect(deletion.path).toBe(`/apis/batch/v1/namespaces/training/jobs/${externalId}`);
    expect(deletion.query.propagationPolicy).toBe('Background');
    expect((await executor.status(externalId)).state).toBe('cancelled');

    const failing = await executor.submit(trainerJob({ fail: true }));
    const failed = await waitForStatus(executor, failing.externalId, terminal);
    expect(failed.state).toBe('failed');
    expect(failed.message).toContain('BackoffLimitExceeded');
    expect(failed.message).toContain('exit code 1');
  });

  it('sizes /dev/shm with shmSizeLimit beside the configured volumes, and keeps an admin’s own /dev/shm', async () => {
    const cacheVolume = { name: 'hf-cache', persistentVolumeClaim: { claimName: 'hf-cache' } };
    const cacheMount = { name: 'hf-cache', mountPath: '/root/.cache/huggingface' };
    const sized = executorFor({ id: 3, kind: 'kubernetes', config: { ...kubernetesConfig, shmSizeLimit: '16Gi', volumes: [cacheVolume], volumeMounts: [cacheMount] } }, { store, kubeConfig: kubeConfig() });
    const first = await sized.submit(trainerJob({ gpus: 8 }));
    type TPodSpec = { volumes: unknown[]; containers: { volumeMounts: unknown[] }[] };
    const podOf = (name: string) => (kube.jobs.get(`training/${name}`)!.object.spec as { template: { spec: TPodSpec } }).template.spec;
    expect(podOf(first.externalId).volumes).toEqual([cacheVolume, { name: 'pairwise-shm', emptyDir: { medium: 'Memory', sizeLimit: '16Gi' } }]);
    expect(podOf(first.externalId).containers[0]!.volumeMounts).toEqual([cacheMount, { name: 'pairwise-shm', mountPath: '/dev/shm' }]);
    expect((await waitForStatus(sized, first.externalId, terminal)).state).toBe('succeeded');

    const ownShm = { name: 'big-shm', emptyDir: { medium: 'Memory', sizeLimit: '64Gi' } };
    const own = executorFor({ id: 3, kind: 'kubernetes', config: { ...kubernetesConfig, volumes: [ownShm], volumeMounts: [{ name: 'big-shm', mountPath: '/dev/shm' }] } }, { store, kubeConfig: kubeConfig() });
    const second = await own.submit(trainerJob());
    expect(podOf(second.externalId).volumes).toEqual([ownShm]);
    expect((await waitForStatus(own, second.externalId, terminal)).state).toBe('succeeded');
  });

  it('a Job name taken by another run is a conflict, not success', async () => {
    const executor = executorFor({ id: 3, kind: 'kubernetes', config: kubernetesConfig }, { store, kubeConfig: kubeConfig() });
    const job = trainerJob();
    const { externalId } = await executor.submit(job);
    const other = kube.jobs.get(`training/${externalId}`)!;
    other.object.metadata.labels = { 'pairwise.dev/run': '424242' };
    await expect(executor.submit(job)).rejects.toThrow(/not run \d+'s/);
    await executor.cancel(externalId);
  });
});

describe('jobs over several nodes', () => {
  const k8s = () => executorFor({ id: 3, kind: 'kubernetes', config: kubernetesConfig }, { store, kubeConfig: kubeConfig() });
  /** A job whose every node runs `script` with `sh -c`, as a multi-node launch command runs `bash -c`. */
  const nodesJob = (script: string, nodes = 2): TExecutorJob => {
    const runId = takeRunId();
    return { runId, attempt: 0, command: ['sh', '-c', script], env: { GREETING: 'hi', PAIRWISE_NODE_RANK: 'not-ours' }, gpus: 8, nodes, artifactPrefix: `runs/${runId}/` };
  };
  const podsOf = (name: string) => kube.jobs.get(`training/${name}`)?.pods ?? [];
  const processesGone = async (pids: number[]) => {
    const deadline = Date.now() + 5000;
    while (pids.some(processAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    return !pids.some(processAlive);
  };

  it('Kubernetes: a headless Service, then an Indexed Job with one pod per node, each told its rank and rank 0’s address; submit is idempotent', async () => {
    const executor = k8s();
    const job = nodesJob('echo "rank=$PAIRWISE_NODE_RANK master=$PAIRWISE_MASTER_ADDR index=$JOB_COMPLETION_INDEX host=$HOSTNAME greeting=$GREETING"; sleep 1');
    const name = `pairwise-run-${job.runId}-0`;
    const before = kube.requests.length;
    expect(await executor.submit(job)).toEqual({ externalId: name });
    const labels = { 'pairwise.dev/run': String(job.runId), 'pairwise.dev/attempt': '0', 'app.kubernetes.io/managed-by': 'pairwise' };
    const sent = kube.requests.slice(before);
    expect(sent.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/v1/namespaces/training/services',
      'POST /apis/batch/v1/namespaces/training/jobs',
      `PATCH /api/v1/namespaces/training/services/${name}`,
    ]);
    expect(sent[0]!.body).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'training', labels },
      spec: {
        clusterIP: 'None',
        selector: { 'pairwise.dev/run': String(job.runId), 'pairwise.dev/attempt': '0' },
        publishNotReadyAddresses: true,
        ports: [{ name: 'rendezvous', port: 29500, targetPort: 29500, protocol: 'TCP' }],
      },
    });
    expect(sent[1]!.body).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: 'training', labels },
      spec: {
        backoffLimit: 0,
        ttlSecondsAfterFinished: 3600,
        completionMode: 'Indexed',
        completions: 2,
        parallelism: 2,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: 'Never',
            serviceAccountName: 'trainer',
            nodeSelector: kubernetesConfig.nodeSelector,
            tolerations: kubernetesConfig.tolerations,
            volumes: [{ name: 'pairwise-shm', emptyDir: { medium: 'Memory' } }],
            subdomain: name,
            containers: [
              {
                name: 'trainer',
                image: kubernetesConfig.image,
                command: job.command,
                env: [
                  { name: 'HF_HUB_OFFLINE', value: '1' },
                  { name: 'GREETING', value: 'hi' },
                  { name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } },
                  { name: 'PAIRWISE_NODE_RANK', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
                  { name: 'PAIRWISE_MASTER_ADDR', value: `${name}-0.${name}` },
                ],
                volumeMounts: [{ name: 'pairwise-shm', mountPath: '/dev/shm' }],
                resources: { limits: { 'nvidia.com/gpu': '8' }, requests: { cpu: '8', memory: '64Gi' } },
              },
            ],
          },
        },
      },
    });
    const uid = (kube.jobs.get(`training/${name}`)!.object.metadata as { uid: string }).uid;
    expect(sent[2]!.headers['content-type']).toBe('application/merge-patch+json');
    expect(sent[2]!.body).toEqual({ metadata: { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid }] } });

    // A retried submit finds both, already linked, and starts nothing.
    const retried = kube.requests.length;
    expect(await k8s().submit(job)).toEqual({ externalId: name });
    expect(kube.requests.slice(retried).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/v1/namespaces/training/services',
      `GET /api/v1/namespaces/training/services/${name}`,
      'POST /apis/batch/v1/namespaces/training/jobs',
      `GET /apis/batch/v1/namespaces/training/jobs/${name}`,
    ]);
    expect(kube.podsCreated('training', name)).toBe(2);

    // Cluster DNS: rank 0's hostname under the Service's name is its pod, while it runs.
    await waitForStatus(executor, name, (s) => s.state === 'running');
    const rankZero = podsOf(name).find((p) => p.index === 0)!;
    expect(kube.resolve('training', `${name}-0.${name}`)).toBe(rankZero.object.metadata.name);
    expect(kube.resolve('training', `${name}-1.${name}`)).toBe(podsOf(name).find((p) => p.index === 1)!.object.metadata.name);

    expect((await waitForStatus(executor, name, terminal)).state).toBe('succeeded');
    const outputs = podsOf(name)
      .sort((a, b) => a.index! - b.index!)
      .map((p) => p.workload!.output().trim());
    expect(outputs).toEqual([
      `rank=0 master=${name}-0.${name} index=0 host=${name}-0 greeting=hi`,
      `rank=1 master=${name}-0.${name} index=1 host=${name}-1 greeting=hi`,
    ]);
    // The log is rank 0's, after a line that says so.
    const logs = await executor.logs(name);
    expect(logs).toBe(`[pairwise] log of node 0 (pod ${rankZero.object.metadata.name}); every node's: kubectl logs -n training -l job-name=${name} --prefix --tail=-1\n${outputs[0]}\n`);
    expect(logs.endsWith(await executor.logs(name, { tailBytes: 20 }))).toBe(true);
    // Owned by the Job: the garbage collector takes the Service with it.
    expect(kube.services.get(`training/${name}`)!.metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name, uid }]);
  });

  it('Kubernetes: one failing node fails the job, the controller stops the others, and the message names the node', async () => {
    const executor = k8s();
    const job = nodesJob('if [ "$PAIRWISE_NODE_RANK" = 1 ]; then sleep 0.3; echo "rank 1: NCCL error" >&2; exit 3; fi; echo "rank $PAIRWISE_NODE_RANK waiting"; sleep 60', 3);
    const { externalId } = await executor.submit(job);
    await waitForStatus(executor, externalId, (s) => s.state === 'running');
    const pids = podsOf(externalId).map((p) => p.workload!.pid);
    const failed = await waitForStatus(executor, externalId, terminal);
    expect(failed.state).toBe('failed');
    expect(failed.message).toMatch(/^BackoffLimitExceeded: Job has reached the specified backoff limit; node 1 \(pod pairwise-run-\d+-0-1-\w+\): Error \(exit code 3\)$/);
    expect(await processesGone(pids)).toBe(true);
    // Rank 0's pod was deleted with the others: the log shown is the failed node's.
    expect(await executor.logs(externalId)).toMatch(/^\[pairwise\] log of node 1 \(pod [^)]+\)[^\n]*\nrank 1: NCCL error\n$/);
  });

  it('Kubernetes: cancel deletes the Job and its Service, and every node’s process ends', async () => {
    const executor = k8s();
    const { externalId } = await executor.submit(nodesJob('echo "rank $PAIRWISE_NODE_RANK up"; sleep 60'));
    await waitForStatus(executor, externalId, (s) => s.state === 'running');
    const pids = podsOf(externalId).map((p) => p.workload!.pid);
    expect(pids).toHaveLength(2);
    const before = kube.requests.length;
    await executor.cancel(externalId);
    const deletions = kube.requests.slice(before).filter((r) => r.method === 'DELETE');
    expect(deletions.map((r) => r.path)).toEqual([`/apis/batch/v1/namespaces/training/jobs/${externalId}`, `/api/v1/namespaces/training/services/${externalId}`]);
    expect(deletions[0]!.query.propagationPolicy).toBe('Background');
    expect(kube.jobs.has(`training/${externalId}`)).toBe(false);
    expect(kube.services.has(`training/${externalId}`)).toBe(false);
    expect(await processesGone(pids)).toBe(true);
    expect((await executor.status(externalId)).state).toBe('cancelled');
    await executor.cancel(externalId);
  });

  it('Kubernetes: a Job the API server refuses takes its Service back; the fake refuses what the real server does', async () => {
    const clash = executorFor(
      { id: 3, kind: 'kubernetes', config: { ...kubernetesConfig, volumes: [{ name: 'cache', emptyDir: {} }, { name: 'cache', emptyDir: {} }] } },
      { store, kubeConfig: kubeConfig() },
    );
    const job = nodesJob('true');
    await expect(clash.submit(job)).rejects.toMatchObject({ code: 422 });
    expect(kube.services.has(`training/pairwise-run-${job.runId}-0`)).toBe(false);

    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${kube.server}${path}`, { method: 'POST', headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, message: ((await response.json()) as { message: string }).message };
    };
    const template = { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x', command: ['true'] }] } };
    expect(await post('/apis/batch/v1/namespaces/training/jobs', { metadata: { name: 'no-completions' }, spec: { completionMode: 'Indexed', parallelism: 2, template } })).toEqual({
      status: 422,
      message: 'Job.batch "no-completions" is invalid: spec.completions: Required value: when completion mode is Indexed',
    });
    expect((await post('/apis/batch/v1/namespaces/training/jobs', { metadata: { name: 'bad-mode' }, spec: { completionMode: 'indexed', completions: 2, template } })).status).toBe(422);
    expect((await post('/apis/batch/v1/namespaces/training/jobs', { metadata: { name: 'bad-subdomain' }, spec: { completionMode: 'Indexed', completions: 2, template: { spec: { ...template.spec, subdomain: 'Not_A_Label' } } } })).status).toBe(422);
    const badField = { spec: { ...template.spec, containers: [{ ...template.spec.containers[0], env: [{ name: 'R', valueFrom: { fieldRef: { fieldPath: 'metadata.annotations[batch.kubernetes.io/job-completion-index]' } } }] }] } };
    expect((await post('/apis/batch/v1/namespaces/training/jobs', { metadata: { name: 'bad-field' }, spec: { completionMode: 'Indexed', completions: 2, template: badField } })).message).toContain('fieldPath: Unsupported value');
    expect((await post('/api/v1/namespaces/training/services', { metadata: { name: '9starts-with-digit' }, spec: { clusterIP: 'None' } })).status).toBe(422);
    expect((await post('/api/v1/namespaces/training/services', { metadata: { name: 'no-ports' }, spec: { selector: { a: 'b' } } })).message).toContain('spec.ports: Required value');
  });

  it('Ray submits more than one node as our driver (workers/host/ray_multinode.py), with no GPU for the driver; the job server accepts it', async () => {
    // The driver itself runs on a real two-node Ray cluster in ray-multinode.test.ts.
    const executor = executorFor({ id: 2, kind: 'ray', config: rayConfig() }, { store });
    const job = nodesJob('echo "$PAIRWISE_NODE_RANK"');
    const { externalId } = await executor.submit(job);
    const post = ray.requests.find((r) => r.method === 'POST' && r.path === '/api/jobs/' && (r.body as { submission_id?: string }).submission_id === externalId)!;
    const body = post.body as { entrypoint: string; entrypoint_num_gpus: number; entrypoint_num_cpus: number; metadata: Record<string, string> };
    expect(body).toMatchObject({ entrypoint_num_gpus: 0, entrypoint_num_cpus: 4, metadata: { pairwise_run: String(job.runId), pairwise_attempt: '0' } });
    expect(body.entrypoint.startsWith(`export HF_TOKEN="\${TEST_HF_TOKEN:?is not set on the Ray node (secretEnv.HF_TOKEN)}" && python3 -c '`)).toBe(true);
    expect(body.entrypoint).toContain(`' --nodes 2 --gpus-per-node 8 --env HF_TOKEN --env HF_HUB_OFFLINE --env GREETING --env PAIRWISE_NODE_RANK -- ${shellQuote(job.command)}`);
    expect(body.entrypoint).not.toContain('hf-secret');
    // The fake runs it with this machine's python3 (without Ray, it fails there); it ran once.
    await waitForStatus(executor, externalId, terminal);
    expect(ray.starts(externalId)).toBe(1);
    // One node is submitted as before: the command itself, with the job's GPUs for the entrypoint.
    const one = await executor.submit({ ...nodesJob('echo one'), nodes: 1, gpus: 1 });
    const onePost = ray.requests.find((r) => r.method === 'POST' && r.path === '/api/jobs/' && (r.body as { submission_id?: string }).submission_id === one.externalId)!;
    expect(onePost.body).toMatchObject({ entrypoint: `export HF_TOKEN="\${TEST_HF_TOKEN:?is not set on the Ray node (secretEnv.HF_TOKEN)}" && sh -c 'echo one'`, entrypoint_num_gpus: 1 });
    expect((await waitForStatus(executor, one.externalId, terminal)).state).toBe('succeeded');
  });

  it('the local executor refuses more than one node (one host), naming the field; every executor refuses a bad node count', async () => {
    const local = executorFor({ id: 1, kind: 'local', config: { ...localConfig, stateDir: path.join(tmp, 'local-nodes-state') } }, { store });
    const job = { ...nodesJob('true'), gpus: 1 };
    await expect(local.submit(job)).rejects.toMatchObject({ code: 'BAD_REQUEST', field: 'nodes', message: expect.stringContaining('runs jobs on this one host') as string });
    expect(fs.existsSync(path.join(tmp, 'local-nodes-state', `pairwise-run-${job.runId}-0`))).toBe(false);
    for (const executor of [local, executorFor({ id: 2, kind: 'ray', config: rayConfig() }, { store }), k8s()]) {
      for (const nodes of [0, 1.5]) await expect(executor.submit({ ...job, nodes })).rejects.toMatchObject({ code: 'BAD_REQUEST', field: 'nodes', message: 'nodes: must be an integer >= 1' });
    }
  });
});

describe('jobs on an S3-compatible artifact store', () => {
  // What the job's `aws s3 cp`, boto3 and s3fs read, and the worker's credentials, which must stay out.
  const awsNames = ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
  const awsJob = (): TExecutorJob => {
    const runId = takeRunId();
    const script = `console.log("aws:" + JSON.stringify(Object.fromEntries(${JSON.stringify(awsNames)}.map((n) => [n, process.env[n] ?? null]))))`;
    return { runId, attempt: 0, command: [process.execPath, '-e', script], env: {}, gpus: 0, artifactPrefix: `runs/${runId}/` };
  };
  const seenBy = async (executor: TExecutor, job: TExecutorJob) => {
    const { externalId } = await executor.submit(job);
    expect((await waitForStatus(executor, externalId, terminal)).state).toBe('succeeded');
    const line = (await executor.logs(externalId)).split('\n').find((l) => l.startsWith('aws:'))!;
    return JSON.parse(line.slice('aws:'.length)) as Record<string, string | null>;
  };

  it('every executor gives the job the store’s endpoint and region, never the worker’s credentials', async () => {
    const s3: TFakeS3 = await startFakeS3();
    try {
      const s3Store = s3ArtifactStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'eu-central-1' });
      const expected = { AWS_ENDPOINT_URL: s3.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REGION: 'eu-central-1', AWS_DEFAULT_REGION: 'eu-central-1', AWS_ACCESS_KEY_ID: null, AWS_SECRET_ACCESS_KEY: null };

      const local = executorFor({ id: 1, kind: 'local', config: { ...localConfig, stateDir: path.join(tmp, 'local-s3-env-state') } }, { store: s3Store });
      expect(await seenBy(local, awsJob())).toEqual(expected);

      const rayExecutor = executorFor({ id: 2, kind: 'ray', config: rayConfig() }, { store: s3Store });
      const rayJob = awsJob();
      expect(await seenBy(rayExecutor, rayJob)).toEqual(expected);
      const post = ray.requests.find((r) => r.method === 'POST' && r.path === '/api/jobs/' && (r.body as { submission_id?: string }).submission_id === `pairwise-run-${rayJob.runId}-0`)!;
      expect((post.body as { runtime_env: { env_vars: Record<string, string> } }).runtime_env.env_vars).toMatchObject({ AWS_ENDPOINT_URL: s3.endpoint, AWS_REGION: 'eu-central-1', HF_HUB_OFFLINE: '1' });

      const kubernetes = executorFor({ id: 3, kind: 'kubernetes', config: kubernetesConfig }, { store: s3Store, kubeConfig: kubeConfig() });
      const kubeJob = awsJob();
      expect(await seenBy(kubernetes, kubeJob)).toEqual(expected);
      const container = (kube.jobs.get(`training/pairwise-run-${kubeJob.runId}-0`)!.object.spec as { template: { spec: { containers: { env: unknown[] }[] } } }).template.spec.containers[0]!;
      expect(container.env).toContainEqual({ name: 'AWS_ENDPOINT_URL_S3', value: s3.endpoint });

      const sent = JSON.stringify([...ray.requests, ...kube.requests].map((r) => r.body));
      expect(sent).not.toContain(process.env.AWS_SECRET_ACCESS_KEY!);
      expect(sent).not.toContain(process.env.AWS_ACCESS_KEY_ID!);
    } finally {
      await s3.close();
    }
  });

  it('the executor’s own variables win (the cluster may reach the store at another address), and a local store adds nothing', async () => {
    const s3Store = s3ArtifactStore({ bucket: 'b', endpoint: 'http://127.0.0.1:9000' });
    const inCluster = executorFor({ id: 3, kind: 'kubernetes', config: { ...kubernetesConfig, env: { AWS_ENDPOINT_URL: 'http://minio.storage.svc:9000' } } }, { store: s3Store, kubeConfig: kubeConfig() });
    const seen = await seenBy(inCluster, awsJob());
    expect(seen).toMatchObject({ AWS_ENDPOINT_URL: 'http://minio.storage.svc:9000', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000', AWS_REGION: 'us-east-1' });
    const plain = executorFor({ id: 3, kind: 'kubernetes', config: kubernetesConfig }, { store, kubeConfig: kubeConfig() });
    expect(await seenBy(plain, awsJob())).toMatchObject({ AWS_ENDPOINT_URL: null, AWS_REGION: null });
  });
});

describe('local executor specifics', () => {
  const executor = () => executorFor({ id: 1, kind: 'local', config: { ...localConfig, stateDir: path.join(tmp, 'local-gpu-state') } }, { store });
  const holdJob = (ms: number): TExecutorJob => {
    const runId = takeRunId();
    return {
      runId,
      attempt: 0,
      command: [process.execPath, '-e', `console.log("devices=" + process.env.CUDA_VISIBLE_DEVICES); setTimeout(() => {}, ${ms})`],
      env: {},
      gpus: 1,
      artifactPrefix: `runs/${runId}/`,
    };
  };
  const devicesOf = async (e: TExecutor, id: string) => /^devices=(\S*)$/m.exec(await waitForLogs(e, id, '\ndevices='))![1];

  it('gives each device to one running job at a time, queues the rest, and keeps the allocation across a restart', async () => {
    const e = executor();
    const a = await e.submit(holdJob(1500));
    const b = await e.submit(holdJob(30_000));
    const c = await e.submit(holdJob(100));
    const [da, db] = [await devicesOf(e, a.externalId), await devicesOf(e, b.externalId)];
    expect(new Set([da, db])).toEqual(new Set(['0', '1']));
    const queued = await executor().status(c.externalId);
    expect(queued.state).toBe('pending');
    expect(queued.message).toMatch(/waiting for 1 free GPU/);
    expect((await waitForStatus(executor(), a.externalId, terminal)).state).toBe('succeeded');
    // The next poll starts the queued job on the freed device.
    expect((await waitForStatus(executor(), c.externalId, terminal)).state).toBe('succeeded');
    expect(await devicesOf(e, c.externalId)).toBe(da);
    await e.cancel(b.externalId);
    expect((await e.status(b.externalId)).state).toBe('cancelled');

    const wait = await e.submit(holdJob(100));
    await e.cancel(wait.externalId);
    expect((await e.status(wait.externalId)).state).toBe('cancelled');
  });

  it('refuses jobs that need more GPUs than the host lists, and GPU jobs on a host without devices', async () => {
    await expect(executor().submit({ ...holdJob(10), gpus: 3 })).rejects.toThrow(/needs 3 GPU\(s\) and this local executor has 2/);
    const noGpus = executorFor({ id: 1, kind: 'local', config: { stateDir: path.join(tmp, 'no-gpu-state') } }, { store });
    await expect(noGpus.submit(holdJob(10))).rejects.toThrow(/lists no devices/);
    const cpuOnly = await noGpus.submit({ ...holdJob(10), gpus: 0 });
    expect((await waitForStatus(noGpus, cpuOnly.externalId, terminal)).state).toBe('succeeded');
    expect(await devicesOf(noGpus, cpuOnly.externalId)).toBe('');
  });

  it('writes logs and local-state.json into the run folder, each attempt after the previous one', async () => {
    const e = executor();
    const job = trainerJob({ steps: 2, stepMs: 10 });
    const first = await e.submit({ ...job, attempt: 0, env: { ...job.env, FAKE_TRAINER_FAIL: '1' } });
    expect((await waitForStatus(e, first.externalId, terminal)).state).toBe('failed');
    const second = await e.submit({ ...job, attempt: 1 });
    expect((await waitForStatus(e, second.externalId, terminal)).state).toBe('succeeded');
    const logFile = fs.readFileSync(path.join(artifactsRoot, job.artifactPrefix, 'logs.txt'), 'utf8');
    expect(logFile).toContain('CUDA out of memory');
    expect(logFile).toContain('Training completed');
    expect(await e.logs(second.externalId)).not.toContain('CUDA out of memory');
    expect(await e.logs(first.externalId)).toContain('CUDA out of memory');
    const state = JSON.parse(fs.readFileSync(path.join(artifactsRoot, job.artifactPrefix, 'local-state.json'), 'utf8')) as Record<string, unknown>;
    expect(state).toMatchObject({ executor: 'local', externalId: second.externalId, state: 'succeeded', exitCode: 0 });
  });

  it('the job outlives the worker process that started it', async () => {
    const job = trainerJob({ steps: 3, stepMs: 150 });
    const script = `
      const { localExecutor } = await import(${JSON.stringify(path.join(repoRoot, 'workers/executors/local.ts'))});
      const { localArtifactStore } = await import(${JSON.stringify(path.join(repoRoot, 'server/artifacts/store.ts'))});
      const executor = localExecutor(${JSON.stringify({ ...localConfig, stateDir: path.join(tmp, 'local-gpu-state') })}, { store: localArtifactStore(${JSON.stringify(artifactsRoot)}) });
      const { externalId } = await executor.submit(${JSON.stringify(job)});
      console.log(externalId);
      process.exit(0);
    `;
    const worker = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: process.env });
    expect(worker.stderr).toBe('');
    const externalId = worker.stdout.trim();
    expect(externalId).toBe(`pairwise-run-${job.runId}-0`);
    const e = executor();
    expect((await e.status(externalId)).state).toBe('running');
    expect((await waitForStatus(e, externalId, terminal)).state).toBe('succeeded');
    expect(fs.existsSync(path.join(job.outputDir, 'trainer_state.json'))).toBe(true);
  });

  it('with an S3 artifact store, uploads the log and the state while polled and at the end', async () => {
    const s3: TFakeS3 = await startFakeS3();
    try {
      const s3Store = s3ArtifactStore({ bucket: s3.bucket, endpoint: s3.endpoint });
      const e = executorFor({ id: 1, kind: 'local', config: { ...localConfig, stateDir: path.join(tmp, 'local-s3-state') } }, { store: s3Store });
      const job = trainerJob({ steps: 2, stepMs: 10 });
      const { externalId } = await e.submit(job);
      expect((await waitForStatus(e, externalId, terminal)).state).toBe('succeeded');
      const uploaded = s3.objects.get(`${job.artifactPrefix}logs.txt`)?.body.toString('utf8') ?? '';
      expect(uploaded).toContain('Training completed');
      expect(uploaded).toBe(await e.logs(externalId));
      expect(JSON.parse(s3.objects.get(`${job.artifactPrefix}local-state.json`)!.body.toString('utf8'))).toMatchObject({ state: 'succeeded' });
      expect(fs.existsSync(path.join(artifactsRoot, job.artifactPrefix, 'logs.txt'))).toBe(false);
    } finally {
      await s3.close();
    }
  });
});

describe('executor administration', () => {
  const db = setupTestDatabase();

  it('platform admins create, list, update and delete executors; configs are validated per kind and hold only variable names', async () => {
    const admin = await makeUser(db.current.handle, 'admin');
    const annotator = await makeUser(db.current.handle, 'annotator');
    const caller = callerFor(db.current.handle, db.current.url, admin);

    const local = await caller.executors.create({ name: 'gpu-box', kind: 'local', config: { gpus: ['0', '1'], secretEnv: { HF_TOKEN: 'TEST_HF_TOKEN', WANDB_API_KEY: 'TEST_MISSING_TOKEN' } } });
    expect(local).toMatchObject({ name: 'gpu-box', kind: 'local', enabled: true, secretEnv: ['TEST_HF_TOKEN', 'TEST_MISSING_TOKEN'], missingEnv: ['TEST_MISSING_TOKEN'] });
    // Ray's secretEnv names variables of the Ray node: not the worker's business, so not listed.
    const rayExecutor = await caller.executors.create({ name: 'ray-prod', kind: 'ray', config: { address: ray.address, headers: { Authorization: 'TEST_RAY_AUTH', 'X-Extra': 'TEST_MISSING_TOKEN' }, secretEnv: { WANDB_API_KEY: 'WANDB_KEY_ON_NODE' } } });
    expect(rayExecutor.secretEnv).toEqual(['TEST_MISSING_TOKEN', 'TEST_RAY_AUTH']);
    expect(rayExecutor.missingEnv).toEqual(['TEST_MISSING_TOKEN']);
    await caller.executors.create({ name: 'k8s', kind: 'kubernetes', config: { namespace: 'training', image: 'trl:1', secretName: 'hf', secretKeys: { HF_TOKEN: 'token' } } });
    expect((await caller.executors.list()).map((e) => e.name)).toEqual(['gpu-box', 'k8s', 'ray-prod']);

    await expect(caller.executors.create({ name: 'bad', kind: 'ray', config: { address: 'not a url' } })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('address') as string });
    // A secret value where a variable name belongs is refused.
    await expect(caller.executors.create({ name: 'bad', kind: 'local', config: { secretEnv: { HF_TOKEN: 'hf_abc def' } } })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(caller.executors.create({ name: 'bad', kind: 'kubernetes', config: { namespace: 'Training', image: 'x' } })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('namespace') as string });
    await expect(caller.executors.create({ name: 'bad', kind: 'local', config: { gpuz: ['0'] } as never })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(caller.executors.create({ name: 'gpu-box', kind: 'local', config: {} })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(callerFor(db.current.handle, db.current.url, annotator).executors.list()).rejects.toBeInstanceOf(TRPCError);
    await expect(callerFor(db.current.handle, db.current.url, annotator).executors.list()).rejects.toMatchObject({ code: 'FORBIDDEN' });

    const updated = await caller.executors.update({ id: local.id, config: { gpus: ['0'] }, enabled: false });
    expect(updated).toMatchObject({ config: { gpus: ['0'] }, enabled: false });
    await expect(caller.executors.update({ id: local.id, config: { address: 'http://x' } })).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    const check = await caller.executors.testConnection({ id: rayExecutor.id });
    expect(check.ok).toBe(false);
    expect(check.checks.find((c) => c.check === '$TEST_MISSING_TOKEN')).toMatchObject({ ok: false });
    expect(check.checks.find((c) => c.check === 'job server')).toMatchObject({ ok: true, detail: expect.stringContaining('Ray 2.99.0-fake') as string });

    const [run] = await db.current.handle.db.insert(runs).values({ kind: 'dpo', spec: {}, status: 'running', executorId: local.id }).returning();
    await expect(caller.executors.delete({ id: local.id })).rejects.toMatchObject({ code: 'CONFLICT' });
    await db.current.handle.db.update(runs).set({ status: 'succeeded' }).where(eq(runs.id, run!.id));
    expect(await caller.executors.delete({ id: local.id })).toEqual({ id: local.id });

    // A stored row is what the worker turns into an executor.
    const [row] = (await caller.executors.list()).filter((e) => e.name === 'ray-prod');
    expect(() => executorFor(row!, { store })).not.toThrow();
  });

  it('refuses references to Pairwise’s own settings (secrets, headers), naming the field, also in stored configs', async () => {
    const admin = await makeUser(db.current.handle, 'admin');
    const caller = callerFor(db.current.handle, db.current.url, admin);
    const refused = { code: 'BAD_REQUEST', message: expect.stringMatching(/Pairwise’s own settings/) as string };
    await expect(caller.executors.create({ name: 'leaky', kind: 'local', config: { secretEnv: { HF_TOKEN: 'DATABASE_URL' } } })).rejects.toMatchObject({ ...refused, message: expect.stringMatching(/secretEnv[\s\S]*HF_TOKEN/) as string });
    await expect(caller.executors.create({ name: 'leaky', kind: 'ray', config: { address: 'http://ray:8265', headers: { Authorization: 'AUTH_SECRET' } } })).rejects.toMatchObject({ ...refused, message: expect.stringMatching(/headers[\s\S]*Authorization/) as string });
    for (const name of ['PAIRWISE_S3_BUCKET', 'NEXTAUTH_SECRET', 'AUTH_GITHUB_SECRET', 'pairwise_anything']) {
      await expect(caller.executors.create({ name: 'leaky', kind: 'ray', config: { address: 'http://ray:8265', secretEnv: { X: name } } })).rejects.toMatchObject(refused);
    }
    const ok = await caller.executors.create({ name: 'fine', kind: 'local', config: { secretEnv: { HF_TOKEN: 'HF_TOKEN' } } });
    await expect(caller.executors.update({ id: ok.id, config: { secretEnv: { HF_TOKEN: 'PAIRWISE_HF_TOKEN' } } })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('config.secretEnv.HF_TOKEN: names one of Pairwise’s own settings') as string,
    });
    // A row written before the rule: the worker refuses to build it rather than read the variable.
    expect(() => executorFor({ id: ok.id, kind: 'local', config: { secretEnv: { LEAK: 'DATABASE_URL' } } }, { store })).toThrow(/config\.secretEnv\.LEAK/);
  });

  it('the Kubernetes connection test contacts the API server and reports what it said', async () => {
    const admin = await makeUser(db.current.handle, 'admin');
    const caller = callerFor(db.current.handle, db.current.url, admin);
    const cluster = await startFakeKubernetes({ token: 'good-token', forbidden: ['delete jobs', 'get pods/log'] });
    try {
      const kubeconfigFile = (name: string, server: string, token: string) => {
        const file = path.join(tmp, `${name}.kubeconfig`);
        const config = {
          apiVersion: 'v1',
          kind: 'Config',
          // Plain http needs this with @kubernetes/client-node, as for the fake in the other tests.
          clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'u', user: { token } }],
          contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'c',
        };
        fs.writeFileSync(file, JSON.stringify(config));
        return file;
      };
      const test = async (name: string, kubeconfig: string) => {
        const created = await caller.executors.create({ name, kind: 'kubernetes', config: { namespace: 'training', image: 'trl:1', kubeconfig } });
        return caller.executors.testConnection({ id: created.id });
      };

      const limited = await test('k8s-limited', kubeconfigFile('limited', cluster.server, 'good-token'));
      expect(limited.ok).toBe(false);
      expect(limited.checks.find((c) => c.check === 'cluster')).toMatchObject({ ok: true, detail: expect.stringContaining(cluster.server) as string });
      expect(limited.checks.find((c) => c.check === 'permissions')).toMatchObject({ ok: false, detail: 'not allowed in namespace training: delete jobs, get pods/log' });
      expect(cluster.requests.some((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/training/pods')).toBe(true);
      const reviews = cluster.requests.filter((r) => r.path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews');
      expect(reviews.map((r) => (r.body as { spec: { resourceAttributes: { verb: string; resource: string } } }).spec.resourceAttributes)).toContainEqual({ namespace: 'training', verb: 'create', group: 'batch', resource: 'jobs' });

      const wrongToken = await test('k8s-wrong-token', kubeconfigFile('wrong', cluster.server, 'stale-token'));
      expect(wrongToken.ok).toBe(false);
      expect(wrongToken.checks.find((c) => c.check === 'cluster')).toMatchObject({ ok: false, detail: `${cluster.server}: HTTP 401: Unauthorized` });

      const unreachable = await test('k8s-down', kubeconfigFile('down', 'http://127.0.0.1:9', 'good-token'));
      expect(unreachable.checks.find((c) => c.check === 'cluster')).toMatchObject({ ok: false, detail: expect.stringMatching(/^http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/) as string });

      const full = await startFakeKubernetes({ token: 'good-token' });
      try {
        const allowed = await test('k8s-ok', kubeconfigFile('ok', full.server, 'good-token'));
        expect(allowed).toMatchObject({ ok: true });
        expect(allowed.checks.map((c) => c.check)).toEqual(['kubeconfig', 'cluster', 'permissions', 'GPU nodes']);
      } finally {
        await full.close();
      }
    } finally {
      await cluster.close();
    }
  });

  it('CLI: executor add and executor list', async () => {
    const env = { ...process.env, DATABASE_URL: db.current.url };
    const [added, bad] = await Promise.all([
      runCli(['executor', 'add', '--name', 'cli-ray', '--kind', 'ray', '--config', JSON.stringify({ address: 'http://ray-head:8265', secretEnv: { HF_TOKEN: 'TEST_HF_TOKEN' } })], { env }),
      runCli(['executor', 'add', '--name', 'cli-bad', '--kind', 'kubernetes', '--config', '{"namespace": "x"}'], { env }),
    ]);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/added ray executor cli-ray \(id \d+\)/);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('config.image');
    const listed = await runCli(['executor', 'list'], { env });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('cli-ray\tray\tenabled\t{"address":"http://ray-head:8265","secretEnv":{"HF_TOKEN":"TEST_HF_TOKEN"}}');
  });
});
