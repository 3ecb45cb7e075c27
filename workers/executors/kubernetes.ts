import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1EnvVar, type V1Job, type V1Pod, type V1Service, type V1Volume, type V1VolumeMount } from '@kubernetes/client-node';
import { AppError } from '@/server/errors';
import { loadKubeConfig } from '@/server/executors/kubernetes-cluster';
import { shmVolumeName, type TKubernetesExecutorConfig } from '@/server/executors/schemas';
import { assertValidJob, jobName, jobNodes, tailText } from './common';
import { headlessService, indexedJob, jobOwnerReference, podIndex } from './kubernetes-multinode';
import type { TExecutor, TExecutorJob, TExecutorStatus } from './types';

/**
 * A batch/v1 Job per run attempt, named after the idempotency key, with one container that runs
 * the command and never restarts (backoffLimit 0: a retry is a new attempt, decided by us).
 * GPUs are the container's `nvidia.com/gpu` limit; secrets come from a Kubernetes Secret.
 * A job over several nodes is an Indexed Job with one such pod per node, plus a headless Service
 * of the same name for the rank-0 pod's address (see kubernetes-multinode.ts).
 */

export const runLabel = 'pairwise.dev/run';
export const attemptLabel = 'pairwise.dev/attempt';
const containerName = 'trainer';
const defaultTtlSeconds = 7 * 24 * 3600;

function httpCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function toDate(value: Date | string | undefined | null): Date | undefined {
  if (!value) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * A memory-backed /dev/shm: a container's own is 64 MiB, too little for NCCL and for PyTorch
 * DataLoader workers, which pass batches through shared memory. Its pages count against the pod's
 * memory; without shmSizeLimit the pod's memory limit (or the node's allocatable memory) bounds it.
 * An admin who mounts their own /dev/shm keeps it.
 */
function shmVolume(config: TKubernetesExecutorConfig): { volumes: V1Volume[]; volumeMounts: V1VolumeMount[] } {
  const volumes = (config.volumes ?? []) as unknown as V1Volume[];
  const volumeMounts = (config.volumeMounts ?? []) as unknown as V1VolumeMount[];
  if (volumeMounts.some((m) => m.mountPath.replace(/\/+$/, '') === '/dev/shm')) return { volumes, volumeMounts };
  return {
    volumes: [...volumes, { name: shmVolumeName, emptyDir: { medium: 'Memory', ...(config.shmSizeLimit ? { sizeLimit: config.shmSizeLimit } : {}) } }],
    volumeMounts: [...volumeMounts, { name: shmVolumeName, mountPath: '/dev/shm' }],
  };
}

function labelsOf(job: TExecutorJob): Record<string, string> {
  return { [runLabel]: String(job.runId), [attemptLabel]: String(job.attempt), 'app.kubernetes.io/managed-by': 'pairwise' };
}

/** The Job object we create for a run attempt; `storeEnv` (the artifact store's S3 settings) comes first, so config and job variables win. */
export function kubernetesJobBody(config: TKubernetesExecutorConfig, job: TExecutorJob, storeEnv: Record<string, string> = {}): V1Job {
  const name = jobName(job);
  const labels = labelsOf(job);
  const plain = { ...storeEnv, ...(config.env ?? {}), ...job.env };
  const secretKeys = config.secretKeys ?? {};
  const env: V1EnvVar[] = [
    ...Object.entries(plain)
      .filter(([key]) => !(key in secretKeys))
      .map(([key, value]) => ({ name: key, value })),
    ...Object.entries(secretKeys).map(([key, secretKey]) => ({ name: key, valueFrom: { secretKeyRef: { name: config.secretName!, key: secretKey } } })),
  ];
  const requests: Record<string, string> = {};
  if (config.resources?.cpu) requests.cpu = config.resources.cpu;
  if (config.resources?.memory) requests.memory = config.resources.memory;
  const limits: Record<string, string> = job.gpus > 0 ? { 'nvidia.com/gpu': String(job.gpus) } : {};
  const { volumes, volumeMounts } = shmVolume(config);
  const single: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: config.namespace, labels },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: config.ttlSecondsAfterFinished ?? defaultTtlSeconds,
      ...(config.activeDeadlineSeconds ? { activeDeadlineSeconds: config.activeDeadlineSeconds } : {}),
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(config.serviceAccount ? { serviceAccountName: config.serviceAccount } : {}),
          ...(config.nodeSelector ? { nodeSelector: config.nodeSelector } : {}),
          ...(config.tolerations ? { tolerations: config.tolerations } : {}),
          ...(config.imagePullSecrets ? { imagePullSecrets: config.imagePullSecrets.map((n) => ({ name: n })) } : {}),
          volumes,
          containers: [
            {
              name: containerName,
              image: config.image,
              command: job.command,
              env,
              ...(config.secretName && !config.secretKeys ? { envFrom: [{ secretRef: { name: config.secretName } }] } : {}),
              ...(config.workingDir ? { workingDir: config.workingDir } : {}),
              volumeMounts,
              resources: {
                ...(Object.keys(limits).length ? { limits } : {}),
                ...(Object.keys(requests).length ? { requests } : {}),
              },
            },
          ],
        },
      },
    },
  };
  const nodes = jobNodes(job);
  return nodes > 1 ? indexedJob(single, nodes, name) : single;
}

/** The headless Service a job over several nodes needs (named like its Job); none for one node. */
export function kubernetesServiceBody(config: TKubernetesExecutorConfig, job: TExecutorJob): V1Service | null {
  if (jobNodes(job) <= 1) return null;
  return headlessService(jobName(job), config.namespace, labelsOf(job), { [runLabel]: String(job.runId), [attemptLabel]: String(job.attempt) });
}

/**
 * Our state from the Job's conditions and pod counts, for all its pods together: succeeded once
 * every index has (the controller's Complete), failed once any pod failed (backoffLimit 0: the
 * controller's Failed follows, and it stops the other pods), running once every pod runs.
 */
export function kubernetesStatus(job: V1Job): TExecutorStatus {
  const status = job.status ?? {};
  const nodes = job.spec?.completionMode === 'Indexed' ? (job.spec.completions ?? 1) : 1;
  const condition = (type: string) => status.conditions?.find((c) => c.type === type && c.status === 'True');
  const startedAt = toDate(status.startTime);
  const complete = condition('Complete');
  if (complete) return { state: 'succeeded', startedAt, finishedAt: toDate(status.completionTime) ?? toDate(complete.lastTransitionTime) };
  const failed = condition('Failed');
  if (failed) {
    const message = [failed.reason, failed.message].filter(Boolean).join(': ') || undefined;
    return { state: 'failed', message, startedAt, finishedAt: toDate(failed.lastTransitionTime) };
  }
  const succeeded = status.succeeded ?? 0;
  if (succeeded >= nodes) return { state: 'succeeded', startedAt, finishedAt: toDate(status.completionTime) };
  if ((status.failed ?? 0) > 0) return { state: 'failed', message: nodes > 1 ? 'a pod failed' : 'the pod failed', startedAt };
  if ((status.active ?? 0) > 0) {
    // A pod counts as active from its creation; it runs once Ready (no readiness probe: its containers started).
    if (status.ready === undefined || status.ready === null) return { state: 'running', startedAt };
    const up = status.ready + succeeded;
    if (up >= nodes) return { state: 'running', startedAt };
    if (nodes === 1) return { state: 'pending', message: 'the pod is starting (scheduling, pulling the image)', startedAt };
    return { state: 'pending', message: `${up} of ${nodes} pods running; the others are starting (scheduling, pulling the image)`, startedAt };
  }
  return { state: 'pending', message: 'waiting for the Job controller', startedAt };
}

/** Why the pod's container ended, e.g. "OOMKilled (exit code 137)". */
function podFailure(pod: V1Pod | undefined): string | undefined {
  const terminated = pod?.status?.containerStatuses?.find((c) => c.name === containerName)?.state?.terminated;
  if (!terminated) return pod?.status?.reason ?? undefined;
  return `${terminated.reason ?? 'terminated'} (exit code ${terminated.exitCode})${terminated.message ? `: ${terminated.message}` : ''}`;
}

const newestFirst = (a: V1Pod, b: V1Pod) => (toDate(b.metadata?.creationTimestamp)?.getTime() ?? 0) - (toDate(a.metadata?.creationTimestamp)?.getTime() ?? 0);

/**
 * Why a Job failed, from its pods: the container that failed first (on several nodes, the others
 * then fail too, waiting for it or stopped by the controller), else the newest pod's reason.
 */
function jobFailure(pods: V1Pod[]): string | undefined {
  const exit = (pod: V1Pod) => pod.status?.containerStatuses?.find((c) => c.name === containerName)?.state?.terminated;
  const failed = pods.filter((p) => (exit(p)?.exitCode ?? 0) !== 0).sort((a, b) => (toDate(exit(a)?.finishedAt)?.getTime() ?? 0) - (toDate(exit(b)?.finishedAt)?.getTime() ?? 0));
  const pod = failed[0] ?? [...pods].sort(newestFirst)[0];
  const why = podFailure(pod);
  const index = pod && podIndex(pod);
  return why && index !== undefined ? `node ${index} (pod ${pod!.metadata?.name}): ${why}` : why;
}

export interface TKubernetesExecutorDeps {
  /** A ready KubeConfig (tests point it at a fake API server); default: from config.kubeconfig, else the default loading rules. */
  kubeConfig?: KubeConfig;
  /** Variables every job gets first (the artifact store's S3 settings); the config's and the job's own win. */
  storeEnv?: Record<string, string>;
}

export { loadKubeConfig };

export function kubernetesExecutor(config: TKubernetesExecutorConfig, deps: TKubernetesExecutorDeps = {}): TExecutor {
  let clients: { batch: BatchV1Api; core: CoreV1Api } | undefined;
  // Loaded on first use, so that listing or validating executors never reads kubeconfig files.
  const api = () => {
    if (!clients) {
      const kc = deps.kubeConfig ?? loadKubeConfig(config);
      clients = { batch: kc.makeApiClient(BatchV1Api), core: kc.makeApiClient(CoreV1Api) };
    }
    return clients;
  };
  const namespace = config.namespace;

  async function jobPods(name: string): Promise<V1Pod[]> {
    return (await api().core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` })).items;
  }

  /** Creates an object, or finds the one a previous submit of this run created (409); someone else's is a conflict. */
  async function createOrFind<T extends { metadata?: { labels?: Record<string, string> } }>(kind: string, name: string, runId: number, create: () => Promise<T>, read: () => Promise<T>): Promise<T> {
    try {
      return await create();
    } catch (error) {
      if (httpCode(error) !== 409) throw error;
      const existing = await read();
      const owner = existing.metadata?.labels?.[runLabel];
      if (owner !== String(runId)) throw new AppError('CONFLICT', `${kind} ${namespace}/${name} exists but is not run ${runId}'s (label ${runLabel}=${owner ?? 'none'})`);
      return existing;
    }
  }

  async function deleteIgnoringMissing(remove: () => Promise<unknown>): Promise<void> {
    try {
      await remove();
    } catch (error) {
      if (httpCode(error) !== 404) throw error;
    }
  }

  /** Makes the Job the Service's owner (the Service comes first, so its owner's uid is known only now); a retried submit does it again if needed. */
  async function ownService(service: V1Service, owner: V1Job): Promise<void> {
    const reference = jobOwnerReference(owner);
    if (service.metadata?.ownerReferences?.some((r) => r.uid === reference.uid)) return;
    await api().core.patchNamespacedService(
      { name: service.metadata!.name!, namespace, body: { metadata: { ownerReferences: [reference] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  return {
    async submit(job) {
      assertValidJob(job);
      const body = kubernetesJobBody(config, job, deps.storeEnv);
      const name = body.metadata!.name!;
      const serviceBody = kubernetesServiceBody(config, job);
      // Before the Job, so the rank-0 address resolves from the moment the first pod starts.
      const service = serviceBody
        ? await createOrFind('Service', name, job.runId, () => api().core.createNamespacedService({ namespace, body: serviceBody }), () => api().core.readNamespacedService({ name, namespace }))
        : null;
      let created: V1Job;
      try {
        created = await createOrFind('Job', name, job.runId, () => api().batch.createNamespacedJob({ namespace, body }), () => api().batch.readNamespacedJob({ name, namespace }));
      } catch (error) {
        // A refusal (4xx) means no Job was made: take the Service back. After a lost answer the Job may exist, and needs it.
        const code = httpCode(error);
        if (service && code !== undefined && code >= 400 && code < 500 && code !== 409) await deleteIgnoringMissing(() => api().core.deleteNamespacedService({ name, namespace })).catch(() => undefined);
        throw error;
      }
      if (service) await ownService(service, created);
      return { externalId: name };
    },

    async status(externalId) {
      let job: V1Job;
      try {
        job = await api().batch.readNamespacedJob({ name: externalId, namespace });
      } catch (error) {
        if (httpCode(error) === 404) return { state: 'cancelled', message: `Job ${namespace}/${externalId} no longer exists (deleted, or removed after it finished)` };
        throw error;
      }
      const status = kubernetesStatus(job);
      if (status.state === 'failed') {
        const why = jobFailure(await jobPods(externalId).catch(() => []));
        if (why) status.message = status.message ? `${status.message}; ${why}` : why;
      }
      return status;
    },

    /**
     * The container's log. For a job over several nodes, rank 0's (where the trainer reports), after
     * a line saying so; when its pod is gone (a failed Job's controller deletes the pods still
     * running), the newest pod left, which is then the one that failed.
     */
    async logs(externalId, options) {
      const pods = [...(await jobPods(externalId))].sort(newestFirst);
      const pod = pods.find((p) => podIndex(p) === 0) ?? pods[0];
      if (!pod?.metadata?.name) return '';
      const index = podIndex(pod);
      const tailBytes = options?.tailBytes;
      let text: string;
      try {
        const answer = await api().core.readNamespacedPodLog({
          name: pod.metadata.name,
          namespace,
          container: containerName,
          // The API tails by lines; ask for enough lines to cover the bytes, then cut.
          ...(tailBytes !== undefined ? { tailLines: Math.min(200_000, Math.max(10, Math.ceil(tailBytes / 8) + 1)) } : {}),
        });
        text = typeof answer === 'string' ? answer : String(answer ?? '');
      } catch (error) {
        // 400: the container has not started yet; 404: the pod is gone.
        if (httpCode(error) === 400 || httpCode(error) === 404) return '';
        throw error;
      }
      const header = index !== undefined ? `[pairwise] log of node ${index} (pod ${pod.metadata.name}); every node's: kubectl logs -n ${namespace} -l job-name=${externalId} --prefix --tail=-1\n` : '';
      return tailText(header + text, tailBytes);
    },

    async cancel(externalId) {
      // The Job names its Service as the pods' subdomain; read it before it is gone.
      let existing: V1Job | undefined;
      try {
        existing = await api().batch.readNamespacedJob({ name: externalId, namespace });
      } catch (error) {
        if (httpCode(error) !== 404) throw error;
      }
      await deleteIgnoringMissing(() => api().batch.deleteNamespacedJob({ name: externalId, namespace, propagationPolicy: 'Background' }));
      // The garbage collector would delete an owned Service too; deleting it here also covers one left unowned.
      const service = existing?.spec?.template?.spec?.subdomain;
      if (service) await deleteIgnoringMissing(() => api().core.deleteNamespacedService({ name: service, namespace }));
    },
  };
}
