import type { TConnectionCheck, TExecutorQueue } from './executors';
import type { TRayExecutorConfig } from './schemas';

/**
 * One node of `GET /nodes?view=summary`, as Ray's dashboard answers it: the node head
 * (python/ray/dashboard/modules/node/node_head.py, NodeHead.get_all_nodes, Ray 2.x) returns
 * `rest_response(summary=..., node_logical_resources=...)`, keys camel-cased by the dashboard's
 * to_google_style. Each summary entry's `raylet` holds the GCS node info (src/ray/protobuf/gcs.proto,
 * GcsNodeInfo: nodeId, state ALIVE or DEAD, resourcesTotal, stateSnapshot.state IDLE or ACTIVE where
 * the version has it); `nodeLogicalResources` maps a node id to the lines `ray status` prints for it
 * ("1.0/2.0 GPU", python/ray/autoscaler/_private/util.py parse_usage), which is where Ray reports
 * what is in use. Checked against Ray 2.58.0's own code (dashboard/routes.py rest_response,
 * dashboard/utils.py message_to_dict and to_google_style, parse_usage).
 */
interface TRayNodeSummary {
  raylet?: {
    nodeId?: string;
    state?: string;
    isHeadNode?: boolean;
    resourcesTotal?: Record<string, number>;
    stateSnapshot?: { state?: string };
  };
}

interface TRayNodesAnswer {
  result?: boolean;
  msg?: string;
  data?: { summary?: TRayNodeSummary[]; nodeLogicalResources?: Record<string, string> };
}

/** "used/total GPU" in a node's logical resources ("1.0/2.0 GPU", "0.5/4.0 GPU (0.5 used of 1.0 reserved in placement groups)"). */
function usedOf(lines: string | undefined, resource: string): { used: number; total: number } | undefined {
  if (typeof lines !== 'string') return undefined;
  const m = new RegExp(`^\\s*([0-9.]+)/([0-9.]+) ${resource}(?:\\s|$)`, 'm').exec(lines);
  return m ? { used: Number(m[1]), total: Number(m[2]) } : undefined;
}

/**
 * The Ray cluster's capacity for the connection test, from the dashboard at the job server's
 * address (the same headers as the Jobs API): alive nodes, GPUs and CPUs in total, and the GPUs no
 * task, actor or job holds now. A dashboard that does not serve the endpoint (404: an older Ray, a
 * proxy that passes only /api/) passes with a note: jobs run regardless.
 */
export async function rayClusterQueues(
  config: TRayExecutorConfig,
  options: { fetch?: typeof fetch; env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<{ checks: TConnectionCheck[]; queues?: TExecutorQueue[] }> {
  const doFetch = options.fetch ?? fetch;
  const env = options.env ?? process.env;
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const [header, name] of Object.entries(config.headers ?? {})) if (env[name]) headers[header] = env[name]!;
  const url = `${config.address.replace(/\/+$/, '')}/nodes?view=summary`;
  const check = 'cluster resources';
  let answer: TRayNodesAnswer | null;
  try {
    const response = await doFetch(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? (config.requestTimeoutSeconds ?? 10) * 1000) });
    const text = await response.text();
    if (response.status === 404) return { checks: [{ check, ok: true, detail: `${url} is not served here (HTTP 404): the cluster's capacity is not shown; jobs run regardless` }] };
    try {
      answer = JSON.parse(text) as TRayNodesAnswer;
    } catch {
      answer = null;
    }
    if (!response.ok || !answer || answer.result !== true) {
      const said = answer?.msg ?? text.trim().split('\n').pop()?.slice(0, 300) ?? '';
      return { checks: [{ check, ok: false, detail: `${url} answered HTTP ${response.status}${said ? `: ${said}` : ''}` }] };
    }
  } catch (error) {
    return { checks: [{ check, ok: false, detail: `${url}: ${(error as Error).message}` }] };
  }

  const summary = Array.isArray(answer.data?.summary) ? answer.data.summary : [];
  const logical = answer.data?.nodeLogicalResources ?? {};
  const alive = summary.filter((n) => n.raylet?.state === 'ALIVE');
  const dead = summary.length - alive.length;
  const total = (resource: string) => alive.reduce((sum, n) => sum + (Number(n.raylet?.resourcesTotal?.[resource]) || 0), 0);
  const gpus = total('GPU');
  const queue: TExecutorQueue = { name: 'cluster', state: alive.length ? 'ALIVE' : 'no alive nodes', nodes: alive.length, gpus, cpus: Math.floor(total('CPU')) };

  // Free GPUs only when Ray reported the usage of every node that has GPUs (it does not for a node that just joined).
  const gpuNodes = alive.filter((n) => (Number(n.raylet?.resourcesTotal?.GPU) || 0) > 0);
  const usage = gpuNodes.map((n) => usedOf(logical[n.raylet?.nodeId ?? ''], 'GPU'));
  if (usage.every((u) => u !== undefined)) queue.gpusFree = Math.max(0, gpus - usage.reduce((sum, u) => sum + u!.used, 0));
  // Ray 2.x versions with node snapshots say which nodes are idle (UNDEFINED: a node that has not reported one yet).
  const snapshots = alive.map((n) => n.raylet?.stateSnapshot?.state);
  if (alive.length && snapshots.every((state) => state === 'IDLE' || state === 'ACTIVE' || state === 'DRAINING')) queue.idleNodes = snapshots.filter((state) => state === 'IDLE').length;

  const free = queue.gpusFree !== undefined ? `, ${queue.gpusFree} free` : gpus ? ' (in use: not reported)' : '';
  return {
    checks: [{ check, ok: true, detail: `${alive.length} node(s) alive${dead ? `, ${dead} dead` : ''}: ${gpus} GPU(s)${free}, ${queue.cpus} CPU(s)` }],
    queues: [queue],
  };
}
