import type { V1EnvVar, V1Job, V1OwnerReference, V1Pod, V1Service } from '@kubernetes/client-node';
import { masterAddrEnv, masterPort, nodeRankEnv } from '@/server/rounds/distributed';

/**
 * A job over several nodes on Kubernetes: an Indexed Job with one pod per node (completions =
 * parallelism = nodes) and a headless Service named like the Job that gives those pods DNS names.
 * The Job controller gives each pod of an Indexed Job the hostname `<job>-<index>`; with the pod
 * spec's `subdomain` set to a headless Service that selects the pod, cluster DNS answers
 * `<job>-0.<service>` (within the namespace) with the rank-0 pod's IP: the address every node's
 * `accelerate launch` dials on port 29500. Field names follow @kubernetes/client-node 1.4's types
 * (V1JobSpec.completionMode, V1PodSpec.subdomain, V1ServiceSpec.clusterIP).
 */

/**
 * The annotation holding a pod's completion index. V1JobSpec.completionMode documents it as where
 * Indexed Jobs expose the index, on every version that has them (1.21+); the JOB_COMPLETION_INDEX
 * variable is injected by the controller (1.22+) and the label of the same name exists from 1.28
 * only. Reading the annotation through the downward API keeps the rank in the Job we send.
 */
export const completionIndexAnnotation = 'batch.kubernetes.io/job-completion-index';

/** The rank-0 pod's name in cluster DNS, relative to the namespace (pods resolve it through their search path). */
export function masterAddress(jobName: string, serviceName: string): string {
  return `${jobName}-0.${serviceName}`;
}

/** The per-node variables the launch command reads (server/rounds/distributed.ts). */
export function multiNodeEnv(jobName: string, serviceName: string): V1EnvVar[] {
  return [
    { name: nodeRankEnv, valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${completionIndexAnnotation}']` } } },
    { name: masterAddrEnv, value: masterAddress(jobName, serviceName) },
  ];
}

/**
 * The single-pod Job turned into one pod per node. backoffLimit stays 0: a torch process group
 * cannot take back a restarted rank (the others fail or hang waiting for it), so the first failed
 * pod fails the Job and the controller stops the other pods; the retry is a new attempt, ours.
 * (backoffLimitPerIndex would restart one index alone, which is exactly what cannot rejoin.)
 */
export function indexedJob(single: V1Job, nodes: number, serviceName: string): V1Job {
  const name = single.metadata!.name!;
  const template = single.spec!.template;
  const ours = new Set([nodeRankEnv, masterAddrEnv]);
  const containers = (template.spec?.containers ?? []).map((container) => ({
    ...container,
    // The executor's values win over a job or config variable of the same name.
    env: [...(container.env ?? []).filter((e) => !ours.has(e.name)), ...multiNodeEnv(name, serviceName)],
  }));
  return {
    ...single,
    spec: {
      ...single.spec!,
      completionMode: 'Indexed',
      completions: nodes,
      parallelism: nodes,
      backoffLimit: 0,
      template: { ...template, spec: { ...template.spec!, subdomain: serviceName, containers } },
    },
  };
}

/**
 * The headless Service (no virtual IP: DNS answers the pods' own addresses) that the pods name as
 * their subdomain. It selects the labels we put on the pod template, so it never depends on
 * labels the Job controller adds. publishNotReadyAddresses: the record must exist as soon as a
 * pod has an IP, since the other ranks dial rank 0 while it starts.
 */
export function headlessService(name: string, namespace: string, labels: Record<string, string>, selector: Record<string, string>): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels },
    spec: {
      clusterIP: 'None',
      selector,
      publishNotReadyAddresses: true,
      ports: [{ name: 'rendezvous', port: masterPort, targetPort: masterPort, protocol: 'TCP' }],
    },
  };
}

/**
 * The Job as the Service's owner, so the garbage collector deletes the Service with the Job (on
 * cancel, or when ttlSecondsAfterFinished removes it). No blockOwnerDeletion: setting it needs
 * permission on the Job's finalizers, and nothing has to wait for the Service to go.
 */
export function jobOwnerReference(job: V1Job): V1OwnerReference {
  return { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata!.name!, uid: job.metadata!.uid! };
}

/** A pod's completion index; undefined for pods of a Job that is not Indexed. */
export function podIndex(pod: V1Pod): number | undefined {
  const value = pod.metadata?.annotations?.[completionIndexAnnotation];
  return value === undefined ? undefined : Number(value);
}
