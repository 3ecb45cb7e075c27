import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { localArtifactStore } from '@/server/artifacts/store';
import { kubernetesClusterQueues } from '@/server/executors/kubernetes-cluster';
import { rayClusterQueues } from '@/server/executors/ray-cluster';
import type { TKubernetesExecutorConfig, TRayExecutorConfig } from '@/server/executors/schemas';
import { executorFor } from '@/workers/executors';
import type { TExecutor } from '@/workers/executors/types';
import { startFakeKubernetes, type TFakeKubernetes } from '../helpers/fake-kubernetes';
import { startFakeRay } from '../helpers/fake-ray';

/**
 * The connection test's view of a cluster's queues: the GPU nodes a Kubernetes executor's Jobs
 * land on, and a Ray cluster's GPUs, read from the fake API server and job server the way the real
 * ones answer (node lists with allocatable nvidia.com/gpu; the dashboard's node summary).
 */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-queues-'));
const store = localArtifactStore(path.join(tmp, 'artifacts'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const h100 = { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' };
const a100 = { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' };

function kubeConfigFor(cluster: TFakeKubernetes): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: cluster.server, skipTLSVerify: true }],
    users: [{ name: 'tester', token: 'test-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
    currentContext: 'fake',
  });
  return kc;
}

const k8sConfig = (nodeSelector?: Record<string, string>): TKubernetesExecutorConfig => ({ namespace: 'training', image: 'trl:1', ...(nodeSelector ? { nodeSelector } : {}) });

async function waitFor<T>(read: () => Promise<T> | T, until: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (until(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Kubernetes: the GPU nodes a Job can land on', () => {
  it('counts the nodes matching the nodeSelector, their GPUs, and what running and pending pods hold there (anybody’s, ours included)', async () => {
    const cluster = await startFakeKubernetes({
      nodes: [
        { name: 'gpu-a', labels: h100, gpus: 8, cpu: '96' },
        { name: 'gpu-b', labels: h100, gpus: 8, cpu: '95500m' },
        { name: 'gpu-c', labels: a100, gpus: 4 },
        { name: 'gpu-down', labels: h100, gpus: 8, ready: false },
        { name: 'cpu-1', cpu: '32' },
      ],
      pods: [
        { namespace: 'research', name: 'notebook', nodeName: 'gpu-a', phase: 'Running', gpus: 3 },
        { namespace: 'research', name: 'finished', nodeName: 'gpu-b', phase: 'Succeeded', gpus: 8 },
        { namespace: 'research', name: 'waiting-anywhere', phase: 'Pending', gpus: 2 },
        { namespace: 'research', name: 'waiting-for-a100', phase: 'Pending', gpus: 1, nodeSelector: a100 },
        { namespace: 'research', name: 'web', nodeName: 'cpu-1', phase: 'Running' },
      ],
    });
    let executor: TExecutor | undefined;
    let externalId: string | undefined;
    try {
      const kubeConfig = kubeConfigFor(cluster);
      executor = executorFor({ id: 1, kind: 'kubernetes', config: k8sConfig(h100) }, { store, kubeConfig });
      ({ externalId } = await executor.submit({ runId: 7, attempt: 0, command: ['sleep', '30'], env: {}, gpus: 2, artifactPrefix: 'runs/7/' }));
      // The fake schedules as the scheduler would: the first H100 node with 2 GPUs free.
      const pod = await waitFor(
        () => cluster.jobs.get(`training/${externalId}`)?.pods[0]?.object,
        (p) => p?.status.phase === 'Running',
      );
      expect(pod?.spec.nodeName).toBe('gpu-a');

      const answer = await kubernetesClusterQueues(k8sConfig(h100), { kubeConfig });
      expect(answer.checks.map((c) => c.check)).toEqual(['cluster', 'permissions', 'GPU nodes']);
      expect(answer.checks.every((c) => c.ok)).toBe(true);
      expect(answer.queues).toEqual([
        {
          name: 'nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3',
          state: '2 of 3 Ready',
          nodes: 3,
          gpus: 24,
          cpus: 64 + 96 + 95,
          // gpu-a: 8 - 3 (notebook) - 2 (our Job); gpu-b: all 8 (a finished pod holds none); gpu-down takes no pods.
          gpusFree: 3 + 8,
          idleNodes: 1,
          running: 2,
          pending: 1,
        },
      ]);
      expect(answer.checks[2]!.detail).toBe('3 node(s) matching nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3 with 24 nvidia.com/gpu, 11 free; 1 not Ready or cordoned');
      // As the real API server is asked: a label selector for the nodes, running and pending pods of all namespaces, in chunks.
      const nodeList = cluster.requests.find((r) => r.path === '/api/v1/nodes')!;
      expect(nodeList.query).toMatchObject({ labelSelector: 'nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3', limit: '500' });
      const podList = cluster.requests.find((r) => r.path === '/api/v1/pods')!;
      expect(podList.query).toMatchObject({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed', limit: '500' });

      // Without a nodeSelector: every GPU node.
      const all = await kubernetesClusterQueues(k8sConfig(), { kubeConfig });
      expect(all.queues?.[0]).toMatchObject({ name: 'all GPU nodes', nodes: 4, gpus: 28, gpusFree: 3 + 8 + 4, pending: 2 });
    } finally {
      if (executor && externalId) await executor.cancel(externalId);
      await cluster.close();
    }
  });

  it('an identity that may not list nodes or all pods is no failure: the check says what it cannot see', async () => {
    const hidden = await startFakeKubernetes({ nodes: [{ name: 'gpu-a', labels: h100, gpus: 8 }], forbidden: ['list nodes'] });
    const partly = await startFakeKubernetes({ nodes: [{ name: 'gpu-a', labels: h100, gpus: 8 }], forbidden: ['list pods in all namespaces'] });
    try {
      const noNodes = await kubernetesClusterQueues(k8sConfig(h100), { kubeConfig: kubeConfigFor(hidden) });
      expect(noNodes.queues).toBeUndefined();
      expect(noNodes.checks.every((c) => c.ok)).toBe(true);
      expect(noNodes.checks.at(-1)).toEqual({
        check: 'GPU nodes',
        ok: true,
        detail: 'node capacity is not visible to this identity (it may not list nodes; jobs run regardless): HTTP 403: nodes is forbidden: User "fake-user" cannot list resource "nodes" in API group "" at the cluster scope',
      });

      const noPods = await kubernetesClusterQueues(k8sConfig(h100), { kubeConfig: kubeConfigFor(partly) });
      expect(noPods.queues).toEqual([{ name: 'nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3', state: 'Ready', nodes: 1, gpus: 8, cpus: 64 }]);
      expect(noPods.checks.at(-1)).toMatchObject({ ok: true, detail: expect.stringContaining('GPUs in use are not visible to this identity (it may not list pods in all namespaces)') as string });
    } finally {
      await hidden.close();
      await partly.close();
    }
  });

  it('no GPU node (an autoscaled pool at rest) is reported, not failed; an unreachable cluster stops at the cluster check', async () => {
    const empty = await startFakeKubernetes({ nodes: [{ name: 'cpu-1' }] });
    try {
      const answer = await kubernetesClusterQueues(k8sConfig(h100), { kubeConfig: kubeConfigFor(empty) });
      expect(answer.queues).toEqual([{ name: 'nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3', state: 'none', nodes: 0, gpus: 0, cpus: 0 }]);
      expect(answer.checks.at(-1)).toMatchObject({ ok: true, detail: expect.stringMatching(/^no node matching .* has allocatable nvidia\.com\/gpu/) as string });
    } finally {
      await empty.close();
    }
    const down = new KubeConfig();
    down.loadFromOptions({
      clusters: [{ name: 'down', server: 'http://127.0.0.1:9', skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'down', cluster: 'down', user: 'u' }],
      currentContext: 'down',
    });
    const unreachable = await kubernetesClusterQueues(k8sConfig(h100), { kubeConfig: down });
    expect(unreachable.checks.map((c) => [c.check, c.ok])).toEqual([['cluster', false]]);
    expect(unreachable.queues).toBeUndefined();
  });

  it('reads a large cluster in chunks; a nodeSelector that is no label selector is named, not sent', async () => {
    const nodes = Array.from({ length: 1100 }, (_, i) => ({ name: `gpu-${i}`, labels: h100, gpus: 8 }));
    const big = await startFakeKubernetes({ nodes });
    try {
      const kubeConfig = kubeConfigFor(big);
      const answer = await kubernetesClusterQueues(k8sConfig(h100), { kubeConfig });
      expect(answer.queues?.[0]).toMatchObject({ nodes: 1100, gpus: 8800, gpusFree: 8800, idleNodes: 1100 });
      expect(big.requests.filter((r) => r.path === '/api/v1/nodes').map((r) => Boolean(r.query.continue))).toEqual([false, true, true]);

      const bad = await kubernetesClusterQueues(k8sConfig({ 'gpu type': 'H100, A100' }), { kubeConfig });
      expect(bad.checks.at(-1)).toMatchObject({ check: 'GPU nodes', ok: false, detail: expect.stringContaining('is not a valid label selector') as string });
      expect(big.requests.filter((r) => r.path === '/api/v1/nodes')).toHaveLength(3);
    } finally {
      await big.close();
    }
  });

  it('the fake lists as the real API server does, and refuses what it refuses', async () => {
    const cluster = await startFakeKubernetes({ nodes: [{ name: 'gpu-a', labels: h100, gpus: 8 }, { name: 'cpu-1', unschedulable: true }] });
    try {
      const get = async (p: string) => {
        const response = await fetch(`${cluster.server}${p}`);
        return { status: response.status, body: (await response.json()) as { kind?: string; message?: string; reason?: string; items?: { metadata: { name: string } }[]; metadata?: Record<string, unknown> } };
      };
      const names = (answer: Awaited<ReturnType<typeof get>>) => answer.body.items?.map((i) => i.metadata.name);
      expect(names(await get('/api/v1/nodes'))).toEqual(['gpu-a', 'cpu-1']);
      expect(names(await get(`/api/v1/nodes?labelSelector=${encodeURIComponent('nvidia.com/gpu.product in (NVIDIA-H100-80GB-HBM3,x)')}`))).toEqual(['gpu-a']);
      expect(names(await get(`/api/v1/nodes?labelSelector=${encodeURIComponent('!nvidia.com/gpu.product')}`))).toEqual(['cpu-1']);
      expect(names(await get('/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue'))).toEqual(['cpu-1']);
      const first = await get('/api/v1/nodes?limit=1');
      expect(first.body).toMatchObject({ kind: 'NodeList', metadata: { remainingItemCount: 1 } });
      expect(names(await get(`/api/v1/nodes?limit=1&continue=${String(first.body.metadata?.continue)}`))).toEqual(['cpu-1']);

      expect(await get(`/api/v1/nodes?labelSelector=${encodeURIComponent('gpu type=H100')}`)).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
      expect(await get('/api/v1/nodes?fieldSelector=status.phase%3DReady')).toMatchObject({ status: 400, body: { message: 'field label not supported: status.phase' } });
      expect(await get('/api/v1/pods?fieldSelector=spec.containers%3Dx')).toMatchObject({ status: 400, body: { message: 'field label not supported: spec.containers' } });
      expect(await get('/api/v1/nodes?continue=not-a-token')).toMatchObject({ status: 400 });
    } finally {
      await cluster.close();
    }
  });
});

describe('Ray: the cluster’s GPUs from the dashboard', () => {
  const rayConfig = (address: string): TRayExecutorConfig => ({ address, headers: { Authorization: 'TEST_QUEUES_RAY_AUTH' } });

  it('reads the node summary: alive nodes, GPUs and CPUs in total, the GPUs running jobs hold, idle nodes', async () => {
    const env = { TEST_QUEUES_RAY_AUTH: 'Bearer queues' };
    const ray = await startFakeRay({
      requiredHeaders: { Authorization: 'Bearer queues' },
      pendingMs: 10,
      nodes: [{ head: true, cpus: 8 }, { cpus: 32, gpus: 4 }, { cpus: 32, gpus: 4 }, { cpus: 64, gpus: 8, alive: false }],
    });
    try {
      const before = await rayClusterQueues(rayConfig(ray.address), { env });
      expect(before.queues).toEqual([{ name: 'cluster', state: 'ALIVE', nodes: 3, gpus: 8, gpusFree: 8, cpus: 72, idleNodes: 3 }]);

      const response = await fetch(`${ray.address}/api/jobs/`, {
        method: 'POST',
        headers: { authorization: 'Bearer queues', 'content-type': 'application/json' },
        body: JSON.stringify({ entrypoint: 'sleep 30', submission_id: 'holds-three', entrypoint_num_gpus: 3 }),
      });
      expect(response.ok).toBe(true);
      await waitFor(() => ray.jobs.get('holds-three')?.status, (s) => s === 'RUNNING');

      const during = await rayClusterQueues(rayConfig(ray.address), { env });
      expect(during.queues).toEqual([{ name: 'cluster', state: 'ALIVE', nodes: 3, gpus: 8, gpusFree: 5, cpus: 72, idleNodes: 2 }]);
      expect(during.checks).toEqual([{ check: 'cluster resources', ok: true, detail: '3 node(s) alive, 1 dead: 8 GPU(s), 5 free, 72 CPU(s)' }]);
      const asked = ray.requests.filter((r) => r.path === '/nodes');
      expect(asked.map((r) => r.query)).toEqual([{ view: 'summary' }, { view: 'summary' }]);
      expect(asked.every((r) => r.headers.authorization === 'Bearer queues')).toBe(true);

      // Without the worker's header variable the dashboard refuses, in its words.
      const refused = await rayClusterQueues(rayConfig(ray.address), { env: {} });
      expect(refused.checks).toEqual([{ check: 'cluster resources', ok: false, detail: `${ray.address}/nodes?view=summary answered HTTP 401: missing or wrong Authorization header` }]);
    } finally {
      await fetch(`${ray.address}/api/jobs/holds-three/stop`, { method: 'POST', headers: { authorization: 'Bearer queues' } }).catch(() => undefined);
      await ray.close();
    }
  });

  it('leaves out what the version does not report; a dashboard without the endpoint is no failure; an unreachable one is', async () => {
    const older = await startFakeRay({ nodes: [{ head: true, cpus: 4, gpus: 2, snapshot: null }] });
    const joining = await startFakeRay({ nodes: [{ head: true, cpus: 4, gpus: 2 }, { cpus: 4, gpus: 2, snapshot: 'UNDEFINED' }] });
    try {
      const answer = await rayClusterQueues({ address: older.address });
      expect(answer.queues).toEqual([{ name: 'cluster', state: 'ALIVE', nodes: 1, gpus: 2, gpusFree: 2, cpus: 4 }]);
      expect((await rayClusterQueues({ address: joining.address })).queues?.[0]?.idleNodes).toBeUndefined();
    } finally {
      await older.close();
      await joining.close();
    }
    const proxied = await rayClusterQueues({ address: 'http://ray.example:8265/' }, { fetch: async () => new Response('404: Not Found', { status: 404 }) });
    expect(proxied).toEqual({ checks: [{ check: 'cluster resources', ok: true, detail: "http://ray.example:8265/nodes?view=summary is not served here (HTTP 404): the cluster's capacity is not shown; jobs run regardless" }] });
    const down = await rayClusterQueues({ address: 'http://127.0.0.1:9' });
    expect(down.checks[0]).toMatchObject({ ok: false, detail: expect.stringMatching(/^http:\/\/127\.0\.0\.1:9\/nodes\?view=summary: /) as string });
    expect(down.queues).toBeUndefined();
  });
});
