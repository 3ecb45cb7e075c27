import { AuthorizationV1Api, CoreV1Api, KubeConfig, type V1Node, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import type { TExecutorQueue } from './executors';
import type { TKubernetesExecutorConfig } from './schemas';

/** The client configuration: config.kubeconfig, else KUBECONFIG, ~/.kube/config or the in-cluster service account. */
export function loadKubeConfig(config: Pick<TKubernetesExecutorConfig, 'kubeconfig' | 'context'>): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  if (config.context) kc.setCurrentContext(config.context);
  return kc;
}

export interface TClusterCheck {
  check: string;
  ok: boolean;
  detail: string;
}

/** What the Job executor does in the namespace (docs/executors.md lists the same role). */
const neededAccess = [
  { verb: 'create', group: 'batch', resource: 'jobs' },
  { verb: 'get', group: 'batch', resource: 'jobs' },
  { verb: 'delete', group: 'batch', resource: 'jobs' },
  // A job over several nodes: its headless Service, created before the Job, then owned by it.
  { verb: 'create', group: '', resource: 'services' },
  { verb: 'get', group: '', resource: 'services' },
  { verb: 'patch', group: '', resource: 'services' },
  { verb: 'delete', group: '', resource: 'services' },
  { verb: 'list', group: '', resource: 'pods' },
  { verb: 'get', group: '', resource: 'pods', subresource: 'log' },
] as const;

/** The API server's own words (a Status object's message), not the client's multi-line dump. */
export function kubernetesErrorText(error: unknown): string {
  const { code, body, message } = (error ?? {}) as { code?: unknown; body?: unknown; message?: unknown };
  let reason: string | undefined;
  const parsed = typeof body === 'string' ? safeJson(body) : body;
  if (parsed && typeof parsed === 'object' && typeof (parsed as { message?: unknown }).message === 'string') reason = (parsed as { message: string }).message;
  else if (typeof body === 'string' && body.trim()) reason = body.trim().slice(0, 500);
  const text = reason ?? clientMessage(message) ?? String(error);
  return typeof code === 'number' ? `HTTP ${code}: ${text}` : text;
}

/** The client's own words: its "Message:" line for statuses it knows (401: "Unauthorized"), else the first line (network errors). */
function clientMessage(message: unknown): string | undefined {
  if (typeof message !== 'string') return undefined;
  const known = /^Message: (.+)$/m.exec(message)?.[1];
  if (known && known !== 'Unknown API Status Code!') return known;
  return message.split('\n')[0];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Contacts the API server as the executor would: lists pods in the namespace (reachability,
 * credentials, namespace), then asks with SelfSubjectAccessReviews whether this identity may do
 * what the executor does. Reviews change nothing on the cluster, unlike a test Job would.
 */
export async function checkKubernetesCluster(config: TKubernetesExecutorConfig, options: { kubeConfig?: KubeConfig; timeoutMs?: number } = {}): Promise<TClusterCheck[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  let kc: KubeConfig;
  try {
    kc = options.kubeConfig ?? loadKubeConfig(config);
  } catch (error) {
    return [{ check: 'kubeconfig', ok: false, detail: `cannot load the client configuration: ${(error as Error).message}` }];
  }
  const server = kc.getCurrentCluster()?.server ?? '(no cluster in the configuration)';
  const namespace = config.namespace;
  try {
    await withTimeout(kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, limit: 1 }), timeoutMs, server);
  } catch (error) {
    return [{ check: 'cluster', ok: false, detail: `${server}: ${kubernetesErrorText(error)}` }];
  }
  const checks: TClusterCheck[] = [{ check: 'cluster', ok: true, detail: `${server} answered; namespace ${namespace}` }];

  const authorization = kc.makeApiClient(AuthorizationV1Api);
  const denied: string[] = [];
  try {
    for (const access of neededAccess) {
      const review = await withTimeout(
        authorization.createSelfSubjectAccessReview({
          body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace, ...access } } },
        }),
        timeoutMs,
        server,
      );
      if (!review.status?.allowed) denied.push(`${access.verb} ${access.resource}${'subresource' in access ? `/${access.subresource}` : ''}`);
    }
  } catch (error) {
    checks.push({ check: 'permissions', ok: false, detail: `could not ask the API server: ${kubernetesErrorText(error)}` });
    return checks;
  }
  checks.push(
    denied.length
      ? { check: 'permissions', ok: false, detail: `not allowed in namespace ${namespace}: ${denied.join(', ')}` }
      : { check: 'permissions', ok: true, detail: `may create, get and delete jobs, create, get, patch and delete services, list pods and read their logs in namespace ${namespace}` },
  );
  return checks;
}

const gpuResource = 'nvidia.com/gpu';
/** Items per list request, and how many chunks we read before giving up on a figure (10,000 nodes, 50,000 pods). */
const chunkSize = 500;
const maxNodeChunks = 20;
const maxPodChunks = 100;

const quantitySuffixes: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** A Kubernetes quantity ("8", "63500m", "1Ki", "1e3") as a number; NaN when it is not one. */
export function parseQuantity(quantity: string | undefined): number {
  const m = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/.exec(quantity?.trim() ?? '');
  if (!m) return NaN;
  return m[2] ? Number(`${m[1]}${m[2]}`) : Number(m[1]) * (m[3] ? quantitySuffixes[m[3]]! : 1);
}

/** The GPUs a pod holds as the scheduler counts them: its containers' sum, or an init container's if larger; a request defaults to the limit. */
export function podGpuRequest(spec: V1PodSpec | undefined): number {
  type TResources = { requests?: Record<string, string>; limits?: Record<string, string> };
  const ask = (c: { resources?: TResources }) => {
    const n = parseQuantity(c.resources?.requests?.[gpuResource] ?? c.resources?.limits?.[gpuResource]);
    return Number.isFinite(n) ? n : 0;
  };
  const containers = (spec?.containers ?? []).reduce((n, c) => n + ask(c as { resources?: TResources }), 0);
  return Math.max(containers, ...(spec?.initContainers ?? []).map((c) => ask(c as { resources?: TResources })));
}

/** What the nodeSelector would be as a label selector, or null when an entry could not be a label (the API server would refuse such a Job). */
function nodeLabelSelector(nodeSelector: Record<string, string> | undefined): string | null {
  const name = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
  const prefix = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  const value = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
  const terms: string[] = [];
  for (const [k, v] of Object.entries(nodeSelector ?? {})) {
    const slash = k.lastIndexOf('/');
    const keyName = k.slice(slash + 1);
    if ((slash >= 0 && !(prefix.test(k.slice(0, slash)) && slash <= 253)) || !name.test(keyName) || keyName.length > 63 || !value.test(v) || v.length > 63) return null;
    terms.push(`${k}=${v}`);
  }
  return terms.join(',');
}

const statusCode = (error: unknown) => (error as { code?: unknown })?.code;

async function listAll<T>(fetchChunk: (cont: string | undefined) => Promise<{ items: T[]; metadata?: { _continue?: string } }>, maxChunks: number): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let cont: string | undefined;
  for (let i = 0; i < maxChunks; i++) {
    const chunk = await fetchChunk(cont);
    items.push(...chunk.items);
    cont = chunk.metadata?._continue || undefined;
    if (!cont) return { items, complete: true };
  }
  return { items, complete: false };
}

/** Whether an unscheduled pod could land on nodes with these labels: no key of its nodeSelector asks for another value. */
const couldLandHere = (pod: V1Pod, selector: Record<string, string>) => Object.entries(pod.spec?.nodeSelector ?? {}).every(([k, v]) => selector[k] === undefined || selector[k] === v);

/**
 * The GPU nodes this executor's Jobs can land on, as one queue: the nodes matching its
 * nodeSelector with allocatable nvidia.com/gpu (what the NVIDIA device plugin reports), their GPUs,
 * and, when this identity may list pods in all namespaces, the GPUs that running and pending pods
 * hold there (anybody's, as the scheduler counts them). Listing nodes needs a ClusterRole; without
 * it the check passes and says so, since the executor itself never reads nodes.
 */
async function gpuNodeQueue(kc: KubeConfig, config: TKubernetesExecutorConfig, timeoutMs: number): Promise<{ check: TClusterCheck; queue?: TExecutorQueue }> {
  const check = 'GPU nodes';
  const server = kc.getCurrentCluster()?.server ?? '(no cluster in the configuration)';
  const selector = config.nodeSelector ?? {};
  const labelSelector = nodeLabelSelector(selector);
  if (labelSelector === null) return { check: { check, ok: false, detail: `nodeSelector ${JSON.stringify(selector)} is not a valid label selector: the API server would refuse the Jobs` } };
  const where = labelSelector ? ` matching ${labelSelector}` : '';
  const core = kc.makeApiClient(CoreV1Api);

  let nodes: V1Node[];
  let allNodes: boolean;
  try {
    const listed = await listAll((cont) => withTimeout(core.listNode({ labelSelector: labelSelector || undefined, limit: chunkSize, _continue: cont }), timeoutMs, server), maxNodeChunks);
    nodes = listed.items;
    allNodes = listed.complete;
  } catch (error) {
    if (statusCode(error) === 403) return { check: { check, ok: true, detail: `node capacity is not visible to this identity (it may not list nodes; jobs run regardless): ${kubernetesErrorText(error)}` } };
    return { check: { check, ok: false, detail: `could not list nodes: ${kubernetesErrorText(error)}` } };
  }
  const gpuNodes = nodes
    .map((node) => ({ node, gpus: parseQuantity(node.status?.allocatable?.[gpuResource]) }))
    .filter((n) => Number.isFinite(n.gpus) && n.gpus > 0);
  const ready = (node: V1Node) => !node.spec?.unschedulable && node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const readyCount = gpuNodes.filter((n) => ready(n.node)).length;
  const queue: TExecutorQueue = {
    name: labelSelector || 'all GPU nodes',
    state: gpuNodes.length === 0 ? 'none' : readyCount === gpuNodes.length ? 'Ready' : readyCount === 0 ? 'NotReady' : `${readyCount} of ${gpuNodes.length} Ready`,
    nodes: gpuNodes.length,
    gpus: gpuNodes.reduce((n, g) => n + g.gpus, 0),
    cpus: Math.floor(gpuNodes.reduce((n, g) => n + (parseQuantity(g.node.status?.allocatable?.cpu) || 0), 0)),
  };
  const partial = allNodes ? '' : ` (the first ${nodes.length} nodes only)`;
  if (gpuNodes.length === 0) {
    return { check: { check, ok: true, detail: `no node${where} has allocatable ${gpuResource}${partial}: GPU jobs wait until one does (a cluster autoscaler may add one)` }, queue };
  }

  // The GPUs that pods hold on those nodes; phases other than Pending and Running hold nothing.
  const names = new Set(gpuNodes.map((n) => n.node.metadata?.name));
  let pods: V1Pod[] | undefined;
  let podNote = '';
  try {
    const listed = await listAll(
      (cont) => withTimeout(core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed', limit: chunkSize, _continue: cont }), timeoutMs, server),
      maxPodChunks,
    );
    if (listed.complete) pods = listed.items;
    else podNote = `; GPUs in use not counted: more than ${listed.items.length} pods`;
  } catch (error) {
    podNote =
      statusCode(error) === 403
        ? '; GPUs in use are not visible to this identity (it may not list pods in all namespaces)'
        : `; GPUs in use not counted: ${kubernetesErrorText(error)}`;
  }
  if (pods) {
    const held = new Map<string, number>();
    let running = 0;
    let pending = 0;
    for (const pod of pods) {
      const gpus = podGpuRequest(pod.spec);
      if (gpus <= 0) continue;
      const nodeName = pod.spec?.nodeName;
      if (nodeName && names.has(nodeName)) {
        held.set(nodeName, (held.get(nodeName) ?? 0) + gpus);
        if (pod.status?.phase === 'Running') running++;
        else pending++;
      } else if (!nodeName && pod.status?.phase === 'Pending' && couldLandHere(pod, selector)) pending++;
    }
    // A node that is not Ready, or cordoned, takes no new pods: its GPUs are not free.
    const usable = gpuNodes.filter((g) => ready(g.node));
    queue.gpusFree = usable.reduce((n, g) => n + Math.max(0, g.gpus - (held.get(g.node.metadata?.name ?? '') ?? 0)), 0);
    queue.idleNodes = usable.filter((g) => !held.get(g.node.metadata?.name ?? '')).length;
    queue.running = running;
    queue.pending = pending;
  }
  const free = queue.gpusFree !== undefined ? `, ${queue.gpusFree} free` : '';
  const notReady = gpuNodes.length - readyCount;
  return {
    check: {
      check,
      ok: true,
      detail: `${gpuNodes.length} node(s)${where} with ${queue.gpus} ${gpuResource}${free}${notReady ? `; ${notReady} not Ready or cordoned` : ''}${partial}${podNote}`,
    },
    queue,
  };
}

/**
 * The connection test for a Kubernetes executor with the cluster's GPU capacity: the checks of
 * checkKubernetesCluster, then (when the API server answered) the GPU nodes the Jobs can land on,
 * as one queue. Only reads; a cluster that hides its nodes from this identity is not a failure.
 */
export async function kubernetesClusterQueues(
  config: TKubernetesExecutorConfig,
  options: { kubeConfig?: KubeConfig; timeoutMs?: number } = {},
): Promise<{ checks: TClusterCheck[]; queues?: TExecutorQueue[] }> {
  const checks = await checkKubernetesCluster(config, options);
  if (!checks.find((c) => c.check === 'cluster')?.ok) return { checks };
  const kc = options.kubeConfig ?? loadKubeConfig(config);
  const { check, queue } = await gpuNodeQueue(kc, config, options.timeoutMs ?? 10_000);
  return { checks: [...checks, check], ...(queue ? { queues: [queue] } : {}) };
}
