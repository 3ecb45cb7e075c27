import { BatchV1Api, CoreV1Api, type KubeConfig, type V1EnvVar, type V1Job, type V1Pod, type V1Volume, type V1VolumeMount } from '@kubernetes/client-node';
import { AppError } from '@/server/errors';
import { loadKubeConfig } from '@/server/executors/kubernetes-cluster';
import { shmVolumeName, type TKubernetesExecutorConfig } from '@/server/executors/schemas';
import { assertValidJob, jobName, tailText } from './common';
import type { TExecutor, TExecutorJob, TExecutorStatus } from './types';

/**
 * A batch/v1 Job per run attempt, named after the idempotency key, with one container that runs
 * the command and never restarts (backoffLimit 0: a retry is a new attempt, decided by us).
 * GPUs are the container's `nvidia.com/gpu` limit; secrets come from a Kubernetes Secret.
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

/** The Job object we create for a run attempt; `storeEnv` (the artifact store's S3 settings) comes first, so config and job variables win. */
export function kubernetesJobBody(config: TKubernetesExecutorConfig, job: TExecutorJob, storeEnv: Record<string, string> = {}): V1Job {
  const name = jobName(job);
  const labels = { [runLabel]: String(job.runId), [attemptLabel]: String(job.attempt), 'app.kubernetes.io/managed-by': 'pairwise' };
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
  return {
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
}

/** Our state from the Job's conditions and pod counts (backoffLimit 0: one pod, no retries). */
export function kubernetesStatus(job: V1Job): TExecutorStatus {
  const status = job.status ?? {};
  const condition = (type: string) => status.conditions?.find((c) => c.type === type && c.status === 'True');
  const startedAt = toDate(status.startTime);
  const complete = condition('Complete');
  if (complete) return { state: 'succeeded', startedAt, finishedAt: toDate(status.completionTime) ?? toDate(complete.lastTransitionTime) };
  const failed = condition('Failed');
  if (failed) {
    const message = [failed.reason, failed.message].filter(Boolean).join(': ') || undefined;
    return { state: 'failed', message, startedAt, finishedAt: toDate(failed.lastTransitionTime) };
  }
  if ((status.succeeded ?? 0) > 0) return { state: 'succeeded', startedAt, finishedAt: toDate(status.completionTime) };
  if ((status.failed ?? 0) > 0) return { state: 'failed', message: 'the pod failed', startedAt };
  if ((status.active ?? 0) > 0) {
    // A pod counts as active from its creation; it runs once Ready (no readiness probe: its containers started).
    if (status.ready === undefined || status.ready === null || status.ready > 0) return { state: 'running', startedAt };
    return { state: 'pending', message: 'the pod is starting (scheduling, pulling the image)', startedAt };
  }
  return { state: 'pending', message: 'waiting for the Job controller', startedAt };
}

/** Why the pod's container ended, e.g. "OOMKilled (exit code 137)". */
function podFailure(pod: V1Pod | undefined): string | undefined {
  const terminated = pod?.status?.containerStatuses?.find((c) => c.name === containerName)?.state?.terminated;
  if (!terminated) return pod?.status?.reason ?? undefined;
  return `${terminated.reason ?? 'terminated'} (exit code ${terminated.exitCode})${terminated.message ? `: ${terminated.message}` : ''}`;
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

  async function newestPod(name: string): Promise<V1Pod | undefined> {
    const pods = await api().core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` });
    return [...pods.items].sort((a, b) => (toDate(b.metadata?.creationTimestamp)?.getTime() ?? 0) - (toDate(a.metadata?.creationTimestamp)?.getTime() ?? 0))[0];
  }

  return {
    async submit(job) {
      assertValidJob(job);
      const body = kubernetesJobBody(config, job, deps.storeEnv);
      const name = body.metadata!.name!;
      try {
        await api().batch.createNamespacedJob({ namespace, body });
      } catch (error) {
        if (httpCode(error) !== 409) throw error;
        const existing = await api().batch.readNamespacedJob({ name, namespace });
        const owner = existing.metadata?.labels?.[runLabel];
        if (owner !== String(job.runId)) throw new AppError('CONFLICT', `Job ${namespace}/${name} exists but is not run ${job.runId}'s (label ${runLabel}=${owner ?? 'none'})`);
      }
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
        const why = podFailure(await newestPod(externalId).catch(() => undefined));
        if (why) status.message = status.message ? `${status.message}; ${why}` : why;
      }
      return status;
    },

    async logs(externalId, options) {
      const pod = await newestPod(externalId);
      if (!pod?.metadata?.name) return '';
      const tailBytes = options?.tailBytes;
      try {
        const text = await api().core.readNamespacedPodLog({
          name: pod.metadata.name,
          namespace,
          container: containerName,
          // The API tails by lines; ask for enough lines to cover the bytes, then cut.
          ...(tailBytes !== undefined ? { tailLines: Math.min(200_000, Math.max(10, Math.ceil(tailBytes / 8) + 1)) } : {}),
        });
        return tailText(typeof text === 'string' ? text : String(text ?? ''), tailBytes);
      } catch (error) {
        // 400: the container has not started yet; 404: the pod is gone.
        if (httpCode(error) === 400 || httpCode(error) === 404) return '';
        throw error;
      }
    },

    async cancel(externalId) {
      try {
        await api().batch.deleteNamespacedJob({ name: externalId, namespace, propagationPolicy: 'Background' });
      } catch (error) {
        if (httpCode(error) !== 404) throw error;
      }
    },
  };
}
