import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fieldSelector, labelSelector, listChunk } from './fake-kubernetes-selectors';
import { jobSpecProblem, ownerReferencesProblem, parseFieldPath, serviceProblem, type TJobSpec, type TServiceSpec } from './fake-kubernetes-validation';
import { readJsonBody, runFakeWorkload, type TFakeRequest, type TFakeWorkload } from './fake-ray';

/**
 * A Kubernetes API server stand-in for the paths the Job executor uses, over HTTP:
 * POST/GET/DELETE /apis/batch/v1/namespaces/{ns}/jobs[/{name}],
 * POST/GET/PATCH/DELETE /api/v1/namespaces/{ns}/services[/{name}] (PATCH: merge patch only),
 * GET /api/v1/namespaces/{ns}/pods?labelSelector=..., GET /api/v1/namespaces/{ns}/pods/{name}/log,
 * POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews, and the cluster-scoped lists
 * GET /api/v1/nodes and GET /api/v1/pods (label and field selectors, limit/continue chunks).
 * `nodes` are the cluster's nodes (V1Node objects: allocatable `nvidia.com/gpu` on GPU nodes, as the
 * NVIDIA device plugin reports it); with them, the fake schedules each pod onto the first Ready,
 * schedulable node that matches its nodeSelector and has its GPUs free (`spec.nodeName`), else the
 * pod stays Pending, Unschedulable, and never runs. `pods` are other users' pods on those nodes.
 * A Job gets one pod, an Indexed Job one per completion index (all at once: we set parallelism =
 * completions), whose container command really runs here as a local process with the container's
 * env (values, secretKeyRef and envFrom resolved from `secrets`, fieldRef from the pod's own
 * metadata). Indexed pods get what the Job controller gives them: the completion-index annotation
 * and label, the name `<job>-<index>-<random>`, the hostname `<job>-<index>` (also as $HOSTNAME, as a
 * container runtime sets it) and JOB_COMPLETION_INDEX. `resolve` answers as cluster DNS would for
 * `<hostname>.<subdomain>`: the pod, when a headless Service of that name selects it. Job status,
 * pod phase, conditions and counts follow what the Job controller and kubelet report: the Job fails
 * once more pods failed than backoffLimit allows (a failed pod is replaced until then), and the
 * controller then deletes its other pods (their processes get SIGTERM); it completes when every
 * index has succeeded. Deleting a Job with propagationPolicy Background deletes its pods, which ends
 * their processes (SIGTERM), and Services it owns (ownerReferences), as the garbage collector does.
 * Like the real server it refuses (422) what fake-kubernetes-validation.ts lists (clashing volumes,
 * an Indexed Job without completions, a bad subdomain or downward-API path, an invalid Service), a
 * wrong bearer token when `token` is given (401), and what `forbidden` lists ("create jobs", "get
 * pods/log", "patch services": 403), which its access reviews report too. A NonIndexed Job with
 * more than one completion or parallel pod is not simulated (501).
 */

type TObject = Record<string, unknown> & {
  metadata: Record<string, unknown> & { name: string; namespace: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { uid?: string }[] };
};

interface TFakePod {
  object: TObject & { spec: Record<string, unknown> & { hostname?: string; subdomain?: string }; status: Record<string, unknown> };
  container: string;
  /** The completion index (Indexed Jobs). */
  index?: number;
  workload?: TFakeWorkload;
}

interface TFakeJob {
  object: TObject & { spec: TJobSpec & Record<string, unknown>; status: Record<string, unknown> };
  pods: TFakePod[];
  finished: boolean;
}

type TFakeService = TObject & { spec: TServiceSpec & Record<string, unknown> };

/** A node of the fake cluster; `gpus` > 0 makes it a GPU node (allocatable nvidia.com/gpu). */
export interface TFakeNodeSpec {
  name: string;
  labels?: Record<string, string>;
  gpus?: number;
  /** Allocatable CPU as a quantity (default "64"). */
  cpu?: string;
  ready?: boolean;
  unschedulable?: boolean;
}

/** Somebody else's pod (any namespace), holding `gpus` on `nodeName` while Pending or Running. */
export interface TFakeOtherPod {
  namespace: string;
  name: string;
  nodeName?: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  gpus?: number;
  nodeSelector?: Record<string, string>;
}

type TPodObject = TFakePod['object'];

const gpuResource = 'nvidia.com/gpu';

/** The GPUs a pod spec asks for, as the scheduler counts them: the containers' sum, or an init container's if larger (a request defaults to the limit). */
export function podGpus(spec: Record<string, unknown> | undefined): number {
  type TContainer = { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
  const ask = (c: TContainer) => Number(c.resources?.requests?.[gpuResource] ?? c.resources?.limits?.[gpuResource] ?? 0);
  const sum = ((spec?.containers ?? []) as TContainer[]).reduce((n, c) => n + ask(c), 0);
  return Math.max(sum, ...((spec?.initContainers ?? []) as TContainer[]).map(ask));
}

type TNodeObject = Record<string, unknown> & { metadata: Record<string, unknown> & { name: string; labels: Record<string, string> } };

function nodeObject(spec: TFakeNodeSpec, uid: string, created: string): TNodeObject {
  const resources = { cpu: spec.cpu ?? '64', memory: '1056440268Ki', pods: '110', 'ephemeral-storage': '1844284980Ki', ...(spec.gpus ? { [gpuResource]: String(spec.gpus) } : {}) };
  const ready = spec.ready ?? true;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: spec.name, uid, creationTimestamp: created, resourceVersion: '1', labels: { 'kubernetes.io/hostname': spec.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...(spec.labels ?? {}) } },
    spec: { ...(spec.unschedulable ? { unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule', timeAdded: created }] } : {}) },
    status: {
      capacity: resources,
      allocatable: { ...resources, memory: '1056337868Ki' },
      conditions: [
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', lastHeartbeatTime: created, lastTransitionTime: created },
        ready
          ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: created, lastTransitionTime: created }
          : { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: created, lastTransitionTime: created },
      ],
      nodeInfo: { kubeletVersion: 'v1.31.0', containerRuntimeVersion: 'containerd://1.7.20', operatingSystem: 'linux', architecture: 'amd64' },
    },
  };
}

function otherPodObject(pod: TFakeOtherPod): TPodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: pod.namespace, uid: randomUUID(), creationTimestamp: now(), labels: { app: pod.name } },
    spec: {
      ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
      ...(pod.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      serviceAccountName: 'default',
      containers: [{ name: 'main', image: 'busybox', ...(pod.gpus ? { resources: { limits: { [gpuResource]: String(pod.gpus) }, requests: { [gpuResource]: String(pod.gpus) } } } : {}) }],
    },
    status: { phase: pod.phase },
  };
}

/** The field labels the API server indexes pods by (pkg/registry/core/pod/strategy.go, ToSelectableFields). */
const podFields: Record<string, (pod: TPodObject) => string> = {
  'metadata.name': (p) => p.metadata.name,
  'metadata.namespace': (p) => p.metadata.namespace,
  'spec.nodeName': (p) => String(p.spec.nodeName ?? ''),
  'spec.restartPolicy': (p) => String(p.spec.restartPolicy ?? ''),
  'spec.schedulerName': (p) => String(p.spec.schedulerName ?? ''),
  'spec.serviceAccountName': (p) => String(p.spec.serviceAccountName ?? ''),
  'spec.hostNetwork': (p) => String(Boolean(p.spec.hostNetwork)),
  'status.phase': (p) => String(p.status.phase ?? ''),
  'status.podIP': (p) => String(p.status.podIP ?? ''),
  'status.nominatedNodeName': (p) => String(p.status.nominatedNodeName ?? ''),
};

/** And nodes (pkg/registry/core/node/strategy.go, NodeToSelectableFields). */
const nodeFields: Record<string, (node: TNodeObject) => string> = {
  'metadata.name': (n) => n.metadata.name,
  'spec.unschedulable': (n) => String(Boolean((n.spec as { unschedulable?: boolean }).unschedulable)),
};

export interface TFakeKubernetes {
  server: string;
  requests: TFakeRequest[];
  jobs: Map<string, TFakeJob>;
  /** Services by `ns/name`. */
  services: Map<string, TFakeService>;
  /** Pods created per Job `ns/name`. */
  podsCreated(namespace: string, name: string): number;
  /** What cluster DNS answers for a name looked up from a pod in `namespace`: the pod's name, or undefined (NXDOMAIN). */
  resolve(namespace: string, host: string): string | undefined;
  close(): Promise<void>;
}

const now = () => new Date().toISOString();
const completionIndexKey = 'batch.kubernetes.io/job-completion-index';

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function matchesSelector(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=') as [string, string | undefined];
    return value === undefined ? key in (labels ?? {}) : labels?.[key] === value;
  });
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** "1,3-5,7": the Job status's format for completed indexes. */
function indexRanges(indexes: number[]): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j - i >= 2 ? `${sorted[i]}-${sorted[j]}` : sorted.slice(i, j + 1).join(','));
    i = j + 1;
  }
  return parts.join(',');
}

export async function startFakeKubernetes(
  options: { secrets?: Record<string, Record<string, string>>; podStartMs?: number; token?: string; forbidden?: string[]; nodes?: TFakeNodeSpec[]; pods?: TFakeOtherPod[] } = {},
): Promise<TFakeKubernetes> {
  const podStartMs = options.podStartMs ?? 100;
  const secrets = options.secrets ?? {};
  const requests: TFakeRequest[] = [];
  const jobs = new Map<string, TFakeJob>();
  const services = new Map<string, TFakeService>();
  const podCounts = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const workloads: TFakeWorkload[] = [];
  let resourceVersion = 1000;
  const started = now();
  const nodeSpecs = options.nodes ?? [];
  const nodes = nodeSpecs.map((spec) => nodeObject(spec, randomUUID(), started));
  const otherPods = (options.pods ?? []).map(otherPodObject);

  /** Every pod in the cluster: the Jobs' and everybody else's. */
  const allPods = (): TPodObject[] => [...[...jobs.values()].flatMap((j) => j.pods.map((p) => p.object)), ...otherPods];

  /** What the scheduler would pick: a Ready, schedulable node matching the nodeSelector with the pod's GPUs free. */
  function scheduleOnto(podSpec: Record<string, unknown>): string | undefined {
    const wanted = podGpus(podSpec);
    const selector = Object.entries((podSpec.nodeSelector ?? {}) as Record<string, string>);
    const held = (name: string) =>
      allPods()
        .filter((p) => p.spec.nodeName === name && (p.status.phase === 'Pending' || p.status.phase === 'Running'))
        .reduce((n, p) => n + podGpus(p.spec), 0);
    return nodeSpecs.find((n) => (n.ready ?? true) && !n.unschedulable && selector.every(([k, v]) => nodes.find((o) => o.metadata.name === n.name)!.metadata.labels[k] === v) && (n.gpus ?? 0) - held(n.name) >= wanted)?.name;
  }

  const json = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  /** The container's environment as the kubelet would build it; a missing Secret or key fails the pod. */
  function containerEnv(pod: TFakePod, container: Record<string, unknown>): Record<string, string> | string {
    const { namespace } = pod.object.metadata;
    // The runtime sets HOSTNAME; the container's own variables may override it.
    const env: Record<string, string> = { HOSTNAME: pod.object.spec.hostname ?? pod.object.metadata.name };
    for (const from of (container.envFrom ?? []) as { secretRef?: { name: string } }[]) {
      const secret = from.secretRef && secrets[`${namespace}/${from.secretRef.name}`];
      if (from.secretRef && !secret) return `secret "${from.secretRef.name}" not found`;
      Object.assign(env, secret ?? {});
    }
    type TEnvEntry = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } };
    for (const entry of (container.env ?? []) as TEnvEntry[]) {
      const ref = entry.valueFrom?.secretKeyRef;
      const field = entry.valueFrom?.fieldRef && parseFieldPath(entry.valueFrom.fieldRef.fieldPath);
      if (ref) {
        const value = secrets[`${namespace}/${ref.name}`]?.[ref.key];
        if (value === undefined) return `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}`;
        env[entry.name] = value;
      } else if (field) {
        // The downward API: a missing label or annotation reads as "".
        const metadata = pod.object.metadata;
        if ('map' in field) env[entry.name] = (field.map === 'labels' ? metadata.labels : metadata.annotations)?.[field.key] ?? '';
        else if (field.field.startsWith('metadata.')) env[entry.name] = String(metadata[field.field.slice('metadata.'.length)] ?? '');
        else if (field.field.startsWith('status.pod')) env[entry.name] = '127.0.0.1';
        else env[entry.name] = String(pod.object.spec[field.field.slice('spec.'.length)] ?? '');
      } else env[entry.name] = entry.value ?? '';
    }
    return env;
  }

  const phaseOf = (pod: TFakePod) => pod.object.status.phase as string;

  /** The Job's counts from its pods, as the controller keeps them. */
  function countPods(job: TFakeJob) {
    const pods = job.pods;
    const succeeded = pods.filter((p) => phaseOf(p) === 'Succeeded');
    job.object.status = {
      ...job.object.status,
      active: pods.filter((p) => phaseOf(p) === 'Pending' || phaseOf(p) === 'Running').length,
      ready: pods.filter((p) => phaseOf(p) === 'Running').length,
      succeeded: succeeded.length,
      failed: pods.filter((p) => phaseOf(p) === 'Failed').length,
      ...(job.object.spec.completionMode === 'Indexed' ? { completedIndexes: indexRanges(succeeded.map((p) => p.index!)) } : {}),
    };
  }

  /** Deletes a pod as the controller does: its containers get SIGTERM and it leaves the list. */
  function deletePod(job: TFakeJob, pod: TFakePod) {
    pod.workload?.signal('SIGTERM');
    job.pods = job.pods.filter((p) => p !== pod);
  }

  function finishJob(job: TFakeJob, succeeded: boolean) {
    job.finished = true;
    // A failed Job's remaining pods are deleted by the controller.
    if (!succeeded) for (const pod of [...job.pods]) if (phaseOf(pod) === 'Pending' || phaseOf(pod) === 'Running') deletePod(job, pod);
    countPods(job);
    const at = now();
    job.object.status = {
      ...job.object.status,
      active: 0,
      ready: 0,
      terminating: 0,
      ...(succeeded ? { completionTime: at } : {}),
      conditions: succeeded
        ? [
            { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
            { type: 'Complete', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
          ]
        : [
            { type: 'FailureTarget', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
            { type: 'Failed', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
          ],
    };
  }

  /** After a pod ended: fail the Job past backoffLimit, else replace a failed pod; complete it once every index succeeded. */
  function podEnded(job: TFakeJob, pod: TFakePod, exitCode: number) {
    countPods(job);
    const failures = Number(job.object.status.failed ?? 0);
    if (exitCode !== 0) {
      if (failures > (job.object.spec.backoffLimit ?? 6)) finishJob(job, false);
      else startPod(job, pod.index);
      return;
    }
    const completions = job.object.spec.completions ?? 1;
    const done = job.object.spec.completionMode === 'Indexed' ? new Set(job.pods.filter((p) => phaseOf(p) === 'Succeeded').map((p) => p.index)).size : Number(job.object.status.succeeded ?? 0);
    if (done >= completions) finishJob(job, true);
  }

  function startPod(job: TFakeJob, index: number | undefined) {
    const { namespace, name } = job.object.metadata;
    const template = (job.object.spec.template ?? {}) as { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> & { containers?: Record<string, unknown>[] } };
    const indexed = index !== undefined;
    // What the Job controller adds to an Indexed Job's pods (pkg/controller/job/indexed_job_utils.go).
    const containers = (template.spec?.containers ?? []).map((c) => {
      const env = (c.env ?? []) as { name: string }[];
      if (!indexed || env.some((e) => e.name === 'JOB_COMPLETION_INDEX')) return c;
      return { ...c, env: [...env, { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.labels['${completionIndexKey}']` } } }] };
    });
    const container = containers[0] ?? {};
    const suffix = randomBytes(3).toString('hex').slice(0, 5);
    const pod: TFakePod = {
      container: String(container.name ?? ''),
      index,
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: indexed ? `${name}-${index}-${suffix}` : `${name}-${suffix}`,
          namespace,
          uid: randomUUID(),
          creationTimestamp: now(),
          labels: {
            ...(template.metadata?.labels ?? {}),
            'job-name': name,
            'batch.kubernetes.io/job-name': name,
            'controller-uid': String(job.object.metadata.uid),
            ...(indexed ? { [completionIndexKey]: String(index) } : {}),
          },
          annotations: { ...(template.metadata?.annotations ?? {}), ...(indexed ? { [completionIndexKey]: String(index) } : {}) },
        },
        spec: { ...(template.spec ?? {}), containers, ...(indexed && !template.spec?.hostname ? { hostname: `${name}-${index}` } : {}) },
        status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }], containerStatuses: [{ name: container.name, ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] },
      },
    };
    const key = `${namespace}/${name}`;
    if (nodeSpecs.length) {
      const nodeName = scheduleOnto(pod.object.spec);
      if (!nodeName) {
        pod.object.status = {
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: `0/${nodeSpecs.length} nodes are available: ${nodeSpecs.length} Insufficient ${gpuResource}, or node(s) didn't match Pod's node affinity/selector.` }],
        };
        job.pods.push(pod);
        podCounts.set(key, (podCounts.get(key) ?? 0) + 1);
        job.object.status = { startTime: now(), ...job.object.status };
        countPods(job);
        return;
      }
      pod.object.spec.nodeName = nodeName;
    }
    job.pods.push(pod);
    podCounts.set(key, (podCounts.get(key) ?? 0) + 1);
    job.object.status = { startTime: now(), ...job.object.status };
    countPods(job);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (jobs.get(key) !== job || !job.pods.includes(pod)) return;
      const env = containerEnv(pod, container);
      if (typeof env === 'string') {
        pod.object.status = { ...pod.object.status, phase: 'Pending', containerStatuses: [{ name: container.name, ready: false, state: { waiting: { reason: 'CreateContainerConfigError', message: env } } }] };
        return;
      }
      const command = [...((container.command ?? []) as string[]), ...((container.args ?? []) as string[])];
      pod.workload = runFakeWorkload(command, env, typeof container.workingDir === 'string' ? container.workingDir : undefined);
      workloads.push(pod.workload);
      pod.object.status = { ...pod.object.status, phase: 'Running', startTime: now(), containerStatuses: [{ name: container.name, ready: true, started: true, restartCount: 0, state: { running: { startedAt: now() } } }] };
      countPods(job);
      void pod.workload.exited.then((code) => {
        const exitCode = code ?? 143;
        pod.object.status = {
          ...pod.object.status,
          phase: exitCode === 0 ? 'Succeeded' : 'Failed',
          containerStatuses: [{ name: container.name, ready: false, started: false, restartCount: 0, state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: pod.object.status.startTime, finishedAt: now() } } }],
        };
        if (jobs.get(key) === job && !job.finished && job.pods.includes(pod)) podEnded(job, pod, exitCode);
      });
    }, podStartMs);
    timers.add(timer);
  }

  function startPods(job: TFakeJob) {
    const spec = job.object.spec;
    if (spec.completionMode !== 'Indexed') return startPod(job, undefined);
    // parallelism may hold back indexes; we always ask for all at once, so the fake starts min(parallelism, completions).
    const count = Math.min(spec.parallelism ?? 1, spec.completions ?? 1);
    for (let index = 0; index < count; index++) startPod(job, index);
  }

  function resolve(namespace: string, host: string): string | undefined {
    const relative = host.replace(new RegExp(`\\.${namespace}(\\.svc(\\.cluster\\.local)?)?\\.?$`), '');
    const [hostname, subdomain, ...rest] = relative.split('.');
    if (!subdomain || rest.length) return undefined;
    const service = services.get(`${namespace}/${subdomain}`);
    if (!service || service.spec.clusterIP !== 'None') return undefined;
    const selector = Object.entries(service.spec.selector ?? {});
    const pod = [...jobs.values()]
      .flatMap((j) => j.pods)
      .find(
        (p) =>
          p.object.metadata.namespace === namespace &&
          p.object.spec.hostname === hostname &&
          p.object.spec.subdomain === subdomain &&
          selector.length > 0 &&
          selector.every(([k, v]) => p.object.metadata.labels?.[k] === v) &&
          (phaseOf(p) === 'Running' || (phaseOf(p) === 'Pending' && service.spec.publishNotReadyAddresses === true)),
      );
    return pod?.object.metadata.name;
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = await readJsonBody(req);
      requests.push({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body });
      if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) return json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      const isForbidden = (verb: string, resource: string) => (options.forbidden ?? []).includes(`${verb} ${resource}`);
      const forbid = (verb: string, resource: string, group: string, namespace: string) =>
        json(res, 403, status(403, 'Forbidden', `${resource.split('/')[0]} is forbidden: User "fake-user" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${namespace}"`));

      if (req.method === 'POST' && url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
        const review = body as { spec?: { resourceAttributes?: { verb?: string; resource?: string; subresource?: string } } };
        const attributes = review?.spec?.resourceAttributes ?? {};
        const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : String(attributes.resource);
        const allowed = !isForbidden(String(attributes.verb), resource);
        return json(res, 201, { ...review, status: { allowed, ...(allowed ? { reason: 'RBAC: allowed by fake role' } : {}) } });
      }

      const jobsPath = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(url.pathname);
      if (jobsPath) {
        const namespace = decodeURIComponent(jobsPath[1]!);
        const name = jobsPath[2] ? decodeURIComponent(jobsPath[2]) : undefined;
        const verb = req.method === 'POST' ? 'create' : req.method === 'DELETE' ? 'delete' : name ? 'get' : 'list';
        if (isForbidden(verb, 'jobs')) return forbid(verb, 'jobs', 'batch', namespace);
        if (req.method === 'POST' && !name) {
          // A copy: what was sent stays as sent in `requests`.
          const object = structuredClone(body) as TFakeJob['object'];
          const jobName = object?.metadata?.name;
          if (!jobName || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(jobName) || jobName.length > 63) return json(res, 422, status(422, 'Invalid', `Job.batch "${jobName}" is invalid: metadata.name`));
          const invalid = jobSpecProblem(object.spec ?? {});
          if (invalid) return json(res, 422, status(422, 'Invalid', `Job.batch "${jobName}" is invalid: ${invalid}`));
          const spec = object.spec;
          if ((spec.completionMode ?? 'NonIndexed') === 'NonIndexed' && ((spec.completions ?? 1) !== 1 || (spec.parallelism ?? 1) !== 1)) {
            return json(res, 501, status(501, 'NotImplemented', 'the fake runs one pod per NonIndexed Job (completions and parallelism 1)'));
          }
          const key = `${namespace}/${jobName}`;
          if (jobs.has(key)) return json(res, 409, status(409, 'AlreadyExists', `jobs.batch "${jobName}" already exists`));
          object.metadata = { ...object.metadata, namespace, uid: randomUUID(), creationTimestamp: now(), resourceVersion: String(++resourceVersion), generation: 1 };
          // The API server's defaults.
          object.spec = { completionMode: 'NonIndexed', completions: 1, parallelism: 1, backoffLimit: 6, ...spec };
          object.status = {};
          const job: TFakeJob = { object, pods: [], finished: false };
          jobs.set(key, job);
          startPods(job);
          return json(res, 201, object);
        }
        if (!name) return json(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'));
        const key = `${namespace}/${name}`;
        const job = jobs.get(key);
        if (!job) return json(res, 404, status(404, 'NotFound', `jobs.batch "${name}" not found`));
        if (req.method === 'GET') return json(res, 200, job.object);
        if (req.method === 'DELETE') {
          const policy = url.searchParams.get('propagationPolicy') ?? ((body as { propagationPolicy?: string } | undefined)?.propagationPolicy ?? 'Orphan');
          jobs.delete(key);
          if (policy !== 'Orphan') {
            for (const pod of job.pods) pod.workload?.signal('SIGTERM');
            // The garbage collector deletes what the Job owns.
            for (const [serviceKey, service] of services) if (service.metadata.ownerReferences?.some((r) => r.uid === job.object.metadata.uid)) services.delete(serviceKey);
          }
          return json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: 'batch', kind: 'jobs', uid: job.object.metadata.uid } });
        }
        return json(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'));
      }

      const servicesPath = /^\/api\/v1\/namespaces\/([^/]+)\/services(?:\/([^/]+))?$/.exec(url.pathname);
      if (servicesPath) {
        const namespace = decodeURIComponent(servicesPath[1]!);
        const name = servicesPath[2] ? decodeURIComponent(servicesPath[2]) : undefined;
        const verb = ({ POST: 'create', DELETE: 'delete', PATCH: 'patch' } as Record<string, string>)[req.method ?? ''] ?? (name ? 'get' : 'list');
        if (isForbidden(verb, 'services')) return forbid(verb, 'services', '', namespace);
        if (req.method === 'POST' && !name) {
          const object = structuredClone(body) as TFakeService;
          const serviceName = object?.metadata?.name;
          const invalid = serviceProblem(serviceName, object?.spec) ?? ownerReferencesProblem(object?.metadata?.ownerReferences);
          if (invalid) return json(res, 422, status(422, 'Invalid', `Service "${serviceName}" is invalid: ${invalid}`));
          const key = `${namespace}/${serviceName}`;
          if (services.has(key)) return json(res, 409, status(409, 'AlreadyExists', `services "${serviceName}" already exists`));
          object.metadata = { ...object.metadata, namespace, uid: randomUUID(), creationTimestamp: now(), resourceVersion: String(++resourceVersion) };
          const headless = object.spec.clusterIP === 'None';
          object.spec = { type: 'ClusterIP', sessionAffinity: 'None', ...object.spec, ...(headless ? { clusterIPs: ['None'] } : { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] }) };
          object.status = { loadBalancer: {} };
          services.set(key, object);
          return json(res, 201, object);
        }
        if (!name) return json(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'));
        const key = `${namespace}/${name}`;
        const service = services.get(key);
        if (!service) return json(res, 404, status(404, 'NotFound', `services "${name}" not found`));
        if (req.method === 'GET') return json(res, 200, service);
        if (req.method === 'DELETE') {
          services.delete(key);
          return json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'services', uid: service.metadata.uid } });
        }
        if (req.method === 'PATCH') {
          const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
          if (type !== 'application/merge-patch+json') return json(res, 415, status(415, 'UnsupportedMediaType', `the fake applies only application/merge-patch+json, not ${type || 'no content type'}`));
          const patched = mergePatch(service, structuredClone(body)) as TFakeService;
          const invalid = serviceProblem(patched.metadata?.name, patched.spec) ?? ownerReferencesProblem(patched.metadata?.ownerReferences);
          if (invalid) return json(res, 422, status(422, 'Invalid', `Service "${name}" is invalid: ${invalid}`));
          patched.metadata = { ...patched.metadata, name, namespace, uid: service.metadata.uid, resourceVersion: String(++resourceVersion) };
          services.set(key, patched);
          return json(res, 200, patched);
        }
        return json(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'));
      }

      // The cluster-scoped lists: nodes, and pods in all namespaces (a ClusterRole's rights, not a namespace Role's).
      if (req.method === 'GET' && (url.pathname === '/api/v1/nodes' || url.pathname === '/api/v1/pods')) {
        const isNodes = url.pathname === '/api/v1/nodes';
        if (isForbidden('list', isNodes ? 'nodes' : 'pods in all namespaces')) {
          const resource = isNodes ? 'nodes' : 'pods';
          return json(res, 403, status(403, 'Forbidden', `${resource} is forbidden: User "fake-user" cannot list resource "${resource}" in API group "" at the cluster scope`));
        }
        const labels = labelSelector(url.searchParams.get('labelSelector'));
        if ('error' in labels) return json(res, 400, status(400, 'BadRequest', labels.error));
        const items = isNodes
          ? (() => {
              const fields = fieldSelector(url.searchParams.get('fieldSelector'), nodeFields);
              return 'error' in fields ? fields : nodes.filter((n) => labels(n.metadata.labels) && fields(n));
            })()
          : (() => {
              const fields = fieldSelector(url.searchParams.get('fieldSelector'), podFields);
              return 'error' in fields ? fields : allPods().filter((p) => labels(p.metadata.labels) && fields(p));
            })();
        if ('error' in items) return json(res, 400, status(400, 'BadRequest', items.error));
        const chunk = listChunk<unknown>(items, url.searchParams, String(resourceVersion));
        if ('error' in chunk) return json(res, 400, status(400, 'BadRequest', chunk.error));
        return json(res, 200, { apiVersion: 'v1', kind: isNodes ? 'NodeList' : 'PodList', ...chunk });
      }

      const podsPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(\/log)?)?$/.exec(url.pathname);
      if (podsPath && req.method === 'GET') {
        const namespace = decodeURIComponent(podsPath[1]!);
        const [verb, resource] = !podsPath[2] ? ['list', 'pods'] : podsPath[3] ? ['get', 'pods/log'] : ['get', 'pods'];
        if (isForbidden(verb, resource)) return forbid(verb, resource, '', namespace);
        const jobPods = [...jobs.values()].flatMap((j) => j.pods).filter((p) => p.object.metadata.namespace === namespace);
        if (!podsPath[2]) {
          const fields = fieldSelector(url.searchParams.get('fieldSelector'), podFields);
          if ('error' in fields) return json(res, 400, status(400, 'BadRequest', fields.error));
          const items = [...jobPods.map((p) => p.object), ...otherPods.filter((p) => p.metadata.namespace === namespace)].filter((p) => matchesSelector(p.metadata.labels, url.searchParams.get('labelSelector')) && fields(p));
          return json(res, 200, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: String(resourceVersion) }, items });
        }
        const pod = jobPods.find((p) => p.object.metadata.name === decodeURIComponent(podsPath[2]!));
        if (!pod) return json(res, 404, status(404, 'NotFound', `pods "${podsPath[2]}" not found`));
        if (!podsPath[3]) return json(res, 200, pod.object);
        const container = url.searchParams.get('container');
        if (container && container !== pod.container) return json(res, 400, status(400, 'BadRequest', `container ${container} is not valid for pod ${pod.object.metadata.name}`));
        if (!pod.workload) return json(res, 400, status(400, 'BadRequest', `container "${pod.container}" in pod "${pod.object.metadata.name}" is waiting to start: ContainerCreating`));
        let text = pod.workload.output();
        const tailLines = url.searchParams.get('tailLines');
        if (tailLines !== null) {
          const lines = text.split(/(?<=\n)/);
          text = lines.slice(Math.max(0, lines.length - Number(tailLines))).join('');
        }
        const limitBytes = url.searchParams.get('limitBytes');
        if (limitBytes !== null) text = Buffer.from(text).subarray(0, Number(limitBytes)).toString('utf8');
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(text);
        return;
      }
      return json(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${req.method} ${url.pathname})`));
    })().catch((error: unknown) => json(res, 500, status(500, 'InternalError', String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    server: `http://127.0.0.1:${port}`,
    requests,
    jobs,
    services,
    podsCreated: (namespace, name) => podCounts.get(`${namespace}/${name}`) ?? 0,
    resolve,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const workload of workloads) if (workload.exitCode === undefined) workload.signal('SIGKILL');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
