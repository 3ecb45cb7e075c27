import { AuthorizationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
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
