import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Ray job server stand-in that speaks the Jobs REST API over HTTP (POST /api/jobs/,
 * GET /api/jobs/{id}, GET /api/jobs/{id}/logs, POST /api/jobs/{id}/stop, GET /api/version).
 * Entrypoints really run, as `sh -c <entrypoint>` on this machine with runtime_env.env_vars as
 * their environment (plus PATH and HOME), so shell quoting, environment and exit codes are
 * exercised end to end; a job stays PENDING for `pendingMs` first. `nodeEnv` is the Ray node's own
 * environment (what a cluster admin sets, e.g. KubeRay pod env), under runtime_env.env_vars as in
 * Ray's job supervisor. Answers follow Ray 2.x: a repeated submission_id is an HTTP 500 whose text
 * is the head's traceback around the job agent's 400 "Job with submission_id ... already exists";
 * times are milliseconds. `GET /nodes?view=summary` answers as the dashboard's node head does
 * (python/ray/dashboard/modules/node/node_head.py): `nodes` with their resources, and per alive node
 * the logical usage lines of `ray status`, where a RUNNING job holds its entrypoint_num_gpus.
 */

export interface TFakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface TFakeWorkload {
  pid: number;
  output(): string;
  /** Resolves with the exit code (null when ended by a signal). */
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
  signal(signal: NodeJS.Signals): void;
}

/** Runs a command as a local process in its own process group, collecting stdout and stderr together. */
export function runFakeWorkload(argv: string[], env: Record<string, string>, cwd?: string): TFakeWorkload {
  const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env } as unknown as NodeJS.ProcessEnv, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const workload: TFakeWorkload = {
    pid: child.pid ?? -1,
    output: () => output,
    exitCode: undefined,
    exited: new Promise((resolve) => {
      child.on('error', (error) => {
        output += `${error.message}\n`;
        workload.exitCode = 127;
        resolve(127);
      });
      child.on('close', (code) => {
        workload.exitCode = code;
        resolve(code);
      });
    }),
    signal(signal) {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    },
  };
  return workload;
}

export function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        resolve(text);
      }
    });
    req.on('error', reject);
  });
}

type TRayStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

export interface TFakeRayJob {
  submission_id: string;
  entrypoint: string;
  status: TRayStatus;
  message: string | null;
  error_type: string | null;
  start_time: number;
  end_time: number | null;
  metadata: Record<string, string> | null;
  runtime_env: Record<string, unknown>;
  entrypoint_num_gpus: number | null;
  driver_exit_code: number | null;
  workload?: TFakeWorkload;
  stopRequested: boolean;
}

/** A node of the fake cluster (default: one head node with 8 CPUs and no GPU). */
export interface TFakeRayNode {
  id?: string;
  cpus?: number;
  gpus?: number;
  head?: boolean;
  alive?: boolean;
  /** Ray's node snapshot state (UNDEFINED: not reported yet; null: a version without snapshots); unset: IDLE when nothing runs on it, else ACTIVE. */
  snapshot?: 'IDLE' | 'ACTIVE' | 'UNDEFINED' | null;
}

export interface TFakeRay {
  address: string;
  requests: TFakeRequest[];
  jobs: Map<string, TFakeRayJob>;
  /** While set, every POST /api/jobs/ fails with HTTP 500 and this text, as the head does when it cannot reach a job agent. */
  submitFailure: string | undefined;
  /** How many processes were started for a submission id. */
  starts(submissionId: string): number;
  close(): Promise<void>;
}

/** What a Ray 2.x head answers (HTTP 500) to a repeated submission_id: its traceback around the job agent's 400. */
export function rayDuplicateSubmissionText(id: string): string {
  return [
    'Traceback (most recent call last):',
    '  File "/home/ray/anaconda3/lib/python3.11/site-packages/ray/dashboard/modules/job/job_head.py", line 407, in submit_job',
    '    resp = await job_agent_client.submit_job_internal(submit_request)',
    '  File "/home/ray/anaconda3/lib/python3.11/site-packages/ray/dashboard/modules/job/job_head.py", line 144, in submit_job_internal',
    '    await self._raise_error(resp)',
    '  File "/home/ray/anaconda3/lib/python3.11/site-packages/ray/dashboard/modules/job/job_head.py", line 130, in _raise_error',
    '    raise RuntimeError(',
    'RuntimeError: Request failed with status code 400: Traceback (most recent call last):',
    '  File "/home/ray/anaconda3/lib/python3.11/site-packages/ray/dashboard/modules/job/job_agent.py", line 45, in submit_job',
    '    submission_id = await self.get_job_manager().submit_job(',
    '  File "/home/ray/anaconda3/lib/python3.11/site-packages/ray/dashboard/modules/job/job_manager.py", line 555, in submit_job',
    '    raise ValueError(',
    `ValueError: Job with submission_id ${id} already exists. Please use a different submission_id.`,
    '.',
    '',
  ].join('\n');
}

/** Python's float repr for the usage lines ("1.0", "0.5"). */
const pyFloat = (n: number) => (Number.isInteger(n) ? n.toFixed(1) : String(n));

export async function startFakeRay(
  options: { pendingMs?: number; requiredHeaders?: Record<string, string>; nodeEnv?: Record<string, string>; nodes?: TFakeRayNode[] } = {},
): Promise<TFakeRay> {
  const pendingMs = options.pendingMs ?? 100;
  const requests: TFakeRequest[] = [];
  const jobs = new Map<string, TFakeRayJob>();
  const startCounts = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const text = (res: http.ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(body);
  };

  const details = (job: TFakeRayJob) => ({
    type: 'SUBMISSION',
    job_id: job.workload ? `0${job.submission_id.length}000000` : null,
    submission_id: job.submission_id,
    driver_info: null,
    status: job.status,
    entrypoint: job.entrypoint,
    message: job.message,
    error_type: job.error_type,
    start_time: job.start_time,
    end_time: job.end_time,
    metadata: job.metadata,
    runtime_env: job.runtime_env,
    driver_agent_http_address: job.workload ? 'http://127.0.0.1:52365' : null,
    driver_node_id: job.workload ? 'fake-node' : null,
    driver_exit_code: job.driver_exit_code,
    entrypoint_num_cpus: null,
    entrypoint_num_gpus: job.entrypoint_num_gpus,
    entrypoint_memory: null,
    entrypoint_resources: null,
  });

  function start(job: TFakeRayJob) {
    if (job.stopRequested) return;
    const envVars = (job.runtime_env.env_vars ?? {}) as Record<string, string>;
    const workingDir = typeof job.runtime_env.working_dir === 'string' && fs.existsSync(job.runtime_env.working_dir) ? job.runtime_env.working_dir : undefined;
    startCounts.set(job.submission_id, (startCounts.get(job.submission_id) ?? 0) + 1);
    job.workload = runFakeWorkload(['/bin/sh', '-c', job.entrypoint], { ...(options.nodeEnv ?? {}), ...envVars }, workingDir);
    job.status = 'RUNNING';
    job.message = 'Job is currently running.';
    void job.workload.exited.then((code) => {
      job.end_time = Date.now();
      job.driver_exit_code = code;
      if (job.stopRequested) {
        job.status = 'STOPPED';
        job.message = 'Job was intentionally stopped.';
      } else if (code === 0) {
        job.status = 'SUCCEEDED';
        job.message = 'Job finished successfully.';
      } else {
        job.status = 'FAILED';
        job.error_type = 'JOB_ENTRYPOINT_COMMAND_ERROR';
        job.message = `Job entrypoint command failed with exit code ${code}, last available logs (truncated to 20,000 chars):\n${job.workload!.output().slice(-20_000)}`;
      }
    });
  }

  const nodes = (options.nodes ?? [{ head: true, cpus: 8, gpus: 0 }]).map((n, i) => ({ ...n, id: n.id ?? randomBytes(28).toString('hex'), ip: `10.0.0.${i + 10}`, alive: n.alive ?? true }));

  /** GPUs each alive node lends to running jobs, the drivers placed first-fit as Ray's scheduler would. */
  function gpusUsed(): Map<string, number> {
    const used = new Map(nodes.map((n) => [n.id, 0]));
    for (const job of jobs.values()) {
      const want = job.status === 'RUNNING' ? (job.entrypoint_num_gpus ?? 0) : 0;
      if (want <= 0) continue;
      const node = nodes.find((n) => n.alive && (n.gpus ?? 0) - used.get(n.id)! >= want);
      if (node) used.set(node.id, used.get(node.id)! + want);
    }
    return used;
  }

  /** NodeHead.get_all_nodes(view=summary): GcsNodeInfo under `raylet`, usage strings per alive node. */
  function nodeSummary() {
    const used = gpusUsed();
    const memory = 16 * 2 ** 30;
    const summary = nodes.map((n) => {
      // The dashboard camel-cases every key it answers (to_google_style), resource names included.
      const resourcesTotal: Record<string, number> = { CPU: n.cpus ?? 8, memory, objectStoreMemory: memory / 2, [`node:${n.ip}`]: 1.0, ...(n.head ? { 'node:InternalHead': 1.0 } : {}), ...(n.gpus ? { GPU: n.gpus } : {}) };
      const busy = used.get(n.id)! > 0;
      const raylet = {
        nodeId: n.id,
        nodeManagerAddress: n.ip,
        nodeManagerHostname: `ray-node-${n.ip.split('.').pop()}`,
        nodeManagerPort: 44217,
        objectManagerPort: 44125,
        metricsExportPort: 8080,
        state: n.alive ? 'ALIVE' : 'DEAD',
        isHeadNode: n.head ?? false,
        resourcesTotal,
        labels: { 'ray.io/node_id': n.id },
        startTimeMs: Date.now() - 3_600_000,
        endTimeMs: n.alive ? 0 : Date.now() - 60_000,
        ...(n.snapshot === null ? {} : { stateSnapshot: { state: n.snapshot ?? (busy ? 'ACTIVE' : 'IDLE'), idleDurationMs: busy ? '0' : '3600000', nodeActivity: busy ? ['Busy workers on node.'] : [] } }),
        objectStoreUsedMemory: 0,
        objectStoreAvailableMemory: n.alive ? memory / 2 : 0,
        stateMessage: n.alive ? null : 'Unexpected termination: health check failed due to missing too many heartbeats',
      };
      return n.alive ? { now: Date.now() / 1000, hostname: raylet.nodeManagerHostname, ip: n.ip, cpus: [n.cpus ?? 8, n.cpus ?? 8], raylet } : { raylet };
    });
    const nodeLogicalResources = Object.fromEntries(
      nodes
        .filter((n) => n.alive)
        .map((n) => {
          const lines = [`0.0/${pyFloat(n.cpus ?? 8)} CPU`];
          if (n.gpus) lines.push(`${pyFloat(used.get(n.id)!)}/${pyFloat(n.gpus)} GPU`);
          lines.push('0B/16.00GiB memory', '0B/8.00GiB object_store_memory');
          return [n.id, lines.join('\n')];
        }),
    );
    return { summary, nodeLogicalResources };
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = await readJsonBody(req);
      requests.push({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body });
      for (const [name, value] of Object.entries(options.requiredHeaders ?? {})) {
        if (req.headers[name.toLowerCase()] !== value) return text(res, 401, `missing or wrong ${name} header`);
      }
      const path = url.pathname;
      if (req.method === 'GET' && path === '/api/version') return json(res, 200, { version: '1', ray_version: '2.99.0-fake', ray_commit: 'fake', session_name: 'fake' });
      if (req.method === 'GET' && path === '/nodes') {
        const view = url.searchParams.get('view');
        if (view === 'summary') return json(res, 200, { result: true, msg: 'Node summary fetched.', data: nodeSummary() });
        if (view?.toLowerCase() === 'hostnamelist') return json(res, 200, { result: true, msg: 'Node hostname list fetched.', data: { hostNameList: nodeSummary().summary.filter((n) => n.raylet.state === 'ALIVE').map((n) => n.raylet.nodeManagerHostname) } });
        return json(res, 500, { result: false, msg: `Unknown view ${view ?? 'None'}`, data: {} });
      }
      if (req.method === 'POST' && (path === '/api/jobs/' || path === '/api/jobs')) {
        const submit = (body ?? {}) as Record<string, unknown>;
        if (typeof submit.entrypoint !== 'string') return text(res, 400, 'TypeError: entrypoint must be a string');
        if (fake.submitFailure !== undefined) return text(res, 500, fake.submitFailure);
        const id = typeof submit.submission_id === 'string' ? submit.submission_id : `raysubmit_${randomBytes(8).toString('hex')}`;
        if (jobs.has(id)) return text(res, 500, rayDuplicateSubmissionText(id));
        const job: TFakeRayJob = {
          submission_id: id,
          entrypoint: submit.entrypoint,
          status: 'PENDING',
          message: 'Job has not started yet.',
          error_type: null,
          start_time: Date.now(),
          end_time: null,
          metadata: (submit.metadata as Record<string, string> | undefined) ?? {},
          runtime_env: (submit.runtime_env as Record<string, unknown> | undefined) ?? {},
          entrypoint_num_gpus: typeof submit.entrypoint_num_gpus === 'number' ? submit.entrypoint_num_gpus : null,
          driver_exit_code: null,
          stopRequested: false,
        };
        jobs.set(id, job);
        const timer = setTimeout(() => {
          timers.delete(timer);
          start(job);
        }, pendingMs);
        timers.add(timer);
        return json(res, 200, { submission_id: id, job_id: null });
      }
      const match = /^\/api\/jobs\/([^/]+)(\/logs|\/stop)?$/.exec(path);
      if (!match) return text(res, 404, `no route ${req.method} ${path}`);
      const id = decodeURIComponent(match[1]!);
      const job = jobs.get(id);
      if (!job) return text(res, 404, `Job ${id} does not exist`);
      if (req.method === 'GET' && !match[2]) return json(res, 200, details(job));
      if (req.method === 'GET' && match[2] === '/logs') return json(res, 200, { logs: job.workload?.output() ?? '' });
      if (req.method === 'POST' && match[2] === '/stop') {
        if (job.status !== 'PENDING' && job.status !== 'RUNNING') return json(res, 200, { stopped: false });
        job.stopRequested = true;
        if (job.workload) job.workload.signal('SIGTERM');
        else {
          job.status = 'STOPPED';
          job.end_time = Date.now();
          job.message = 'Job was intentionally stopped.';
        }
        return json(res, 200, { stopped: true });
      }
      return text(res, 405, 'method not allowed');
    })().catch((error: unknown) => text(res, 500, String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const fake: TFakeRay = {
    address: `http://127.0.0.1:${port}`,
    requests,
    jobs,
    submitFailure: undefined,
    starts: (id) => startCounts.get(id) ?? 0,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const job of jobs.values()) if (job.workload && job.workload.exitCode === undefined) job.workload.signal('SIGKILL');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
