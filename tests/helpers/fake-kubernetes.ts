import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readJsonBody, runFakeWorkload, type TFakeRequest, type TFakeWorkload } from './fake-ray';

/**
 * A Kubernetes API server stand-in for the paths the Job executor uses, over HTTP:
 * POST/GET/DELETE /apis/batch/v1/namespaces/{ns}/jobs[/{name}],
 * GET /api/v1/namespaces/{ns}/pods?labelSelector=..., GET /api/v1/namespaces/{ns}/pods/{name}/log,
 * POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews.
 * Each Job gets one pod, whose container command really runs here as a local process with the
 * container's env (values, secretKeyRef and envFrom resolved from `secrets`); Job status, pod
 * phase, conditions and counts follow what the Job controller and kubelet report. Deleting a Job
 * with propagationPolicy Background deletes its pod, which ends the process (SIGTERM).
 * Like the real server it refuses a pod spec whose volumes clash (422), a wrong bearer token when
 * `token` is given (401), and what `forbidden` lists ("create jobs", "get pods/log": 403), which
 * its access reviews report too.
 */

type TObject = Record<string, unknown> & { metadata: Record<string, unknown> & { name: string; namespace: string; labels?: Record<string, string> } };

interface TFakePod {
  object: TObject & { status: Record<string, unknown> };
  container: string;
  workload?: TFakeWorkload;
}

interface TFakeJob {
  object: TObject & { spec: Record<string, unknown>; status: Record<string, unknown> };
  pods: TFakePod[];
}

export interface TFakeKubernetes {
  server: string;
  requests: TFakeRequest[];
  jobs: Map<string, TFakeJob>;
  /** Pods created per Job `ns/name`. */
  podsCreated(namespace: string, name: string): number;
  close(): Promise<void>;
}

const now = () => new Date().toISOString();

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

/** What the API server's validation says about a pod template's volumes, as in a 422 "... is invalid" Status; null when valid. */
function volumeProblem(podSpec: { volumes?: { name?: string }[]; containers?: { volumeMounts?: { name?: string; mountPath?: string }[] }[] }): string | null {
  const names = new Set<string>();
  for (const [i, volume] of (podSpec.volumes ?? []).entries()) {
    if (names.has(volume.name ?? '')) return `spec.template.spec.volumes[${i}].name: Duplicate value: "${volume.name}"`;
    names.add(volume.name ?? '');
  }
  for (const [c, container] of (podSpec.containers ?? []).entries()) {
    const paths = new Set<string>();
    for (const [i, mount] of (container.volumeMounts ?? []).entries()) {
      if (!names.has(mount.name ?? '')) return `spec.template.spec.containers[${c}].volumeMounts[${i}].name: Not found: "${mount.name}"`;
      if (paths.has(mount.mountPath ?? '')) return `spec.template.spec.containers[${c}].volumeMounts[${i}].mountPath: Invalid value: "${mount.mountPath}": must be unique`;
      paths.add(mount.mountPath ?? '');
    }
  }
  return null;
}

export async function startFakeKubernetes(
  options: { secrets?: Record<string, Record<string, string>>; podStartMs?: number; token?: string; forbidden?: string[] } = {},
): Promise<TFakeKubernetes> {
  const podStartMs = options.podStartMs ?? 100;
  const secrets = options.secrets ?? {};
  const requests: TFakeRequest[] = [];
  const jobs = new Map<string, TFakeJob>();
  const podCounts = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const workloads: TFakeWorkload[] = [];
  let resourceVersion = 1000;

  const json = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  /** The container's environment as the kubelet would build it; a missing Secret or key fails the pod. */
  function containerEnv(namespace: string, container: Record<string, unknown>): Record<string, string> | string {
    const env: Record<string, string> = {};
    for (const from of (container.envFrom ?? []) as { secretRef?: { name: string } }[]) {
      const secret = from.secretRef && secrets[`${namespace}/${from.secretRef.name}`];
      if (from.secretRef && !secret) return `secret "${from.secretRef.name}" not found`;
      Object.assign(env, secret ?? {});
    }
    for (const entry of (container.env ?? []) as { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]) {
      const ref = entry.valueFrom?.secretKeyRef;
      if (ref) {
        const value = secrets[`${namespace}/${ref.name}`]?.[ref.key];
        if (value === undefined) return `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}`;
        env[entry.name] = value;
      } else env[entry.name] = entry.value ?? '';
    }
    return env;
  }

  function finishJob(job: TFakeJob, succeeded: boolean) {
    const at = now();
    job.object.status = {
      ...job.object.status,
      active: 0,
      ready: 0,
      terminating: 0,
      ...(succeeded ? { succeeded: 1, completionTime: at } : { failed: 1 }),
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

  function startPod(job: TFakeJob) {
    const { namespace, name } = job.object.metadata;
    const template = (job.object.spec.template ?? {}) as { metadata?: { labels?: Record<string, string> }; spec?: { containers?: Record<string, unknown>[] } };
    const container = template.spec?.containers?.[0] ?? {};
    const podName = `${name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const pod: TFakePod = {
      container: String(container.name ?? ''),
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: podName,
          namespace,
          uid: randomUUID(),
          creationTimestamp: now(),
          labels: { ...(template.metadata?.labels ?? {}), 'job-name': name, 'batch.kubernetes.io/job-name': name, 'controller-uid': String(job.object.metadata.uid) },
        },
        spec: template.spec ?? {},
        status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }], containerStatuses: [{ name: container.name, ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] },
      },
    };
    job.pods.push(pod);
    const key = `${namespace}/${name}`;
    podCounts.set(key, (podCounts.get(key) ?? 0) + 1);
    job.object.status = { ...job.object.status, active: 1, ready: 0, startTime: now() };
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!jobs.has(key)) return;
      const env = containerEnv(namespace, container);
      if (typeof env === 'string') {
        pod.object.status = { ...pod.object.status, phase: 'Pending', containerStatuses: [{ name: container.name, ready: false, state: { waiting: { reason: 'CreateContainerConfigError', message: env } } }] };
        return;
      }
      const command = [...((container.command ?? []) as string[]), ...((container.args ?? []) as string[])];
      pod.workload = runFakeWorkload(command, env, typeof container.workingDir === 'string' ? container.workingDir : undefined);
      workloads.push(pod.workload);
      pod.object.status = { ...pod.object.status, phase: 'Running', startTime: now(), containerStatuses: [{ name: container.name, ready: true, started: true, restartCount: 0, state: { running: { startedAt: now() } } }] };
      job.object.status = { ...job.object.status, active: 1, ready: 1 };
      void pod.workload.exited.then((code) => {
        const exitCode = code ?? 143;
        pod.object.status = {
          ...pod.object.status,
          phase: exitCode === 0 ? 'Succeeded' : 'Failed',
          containerStatuses: [{ name: container.name, ready: false, started: false, restartCount: 0, state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: pod.object.status.startTime, finishedAt: now() } } }],
        };
        if (jobs.get(key) === job) finishJob(job, exitCode === 0);
      });
    }, podStartMs);
    timers.add(timer);
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
          const object = body as TFakeJob['object'];
          const jobName = object?.metadata?.name;
          if (!jobName || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(jobName) || jobName.length > 63) return json(res, 422, status(422, 'Invalid', `Job.batch "${jobName}" is invalid: metadata.name`));
          const invalid = volumeProblem(((object.spec as { template?: { spec?: Parameters<typeof volumeProblem>[0] } } | undefined)?.template?.spec ?? {}));
          if (invalid) return json(res, 422, status(422, 'Invalid', `Job.batch "${jobName}" is invalid: ${invalid}`));
          const key = `${namespace}/${jobName}`;
          if (jobs.has(key)) return json(res, 409, status(409, 'AlreadyExists', `jobs.batch "${jobName}" already exists`));
          object.metadata = { ...object.metadata, namespace, uid: randomUUID(), creationTimestamp: now(), resourceVersion: String(++resourceVersion), generation: 1 };
          object.status = {};
          const job: TFakeJob = { object, pods: [] };
          jobs.set(key, job);
          startPod(job);
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
          if (policy !== 'Orphan') for (const pod of job.pods) pod.workload?.signal('SIGTERM');
          return json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: 'batch', kind: 'jobs', uid: job.object.metadata.uid } });
        }
        return json(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'));
      }

      const podsPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(\/log)?)?$/.exec(url.pathname);
      if (podsPath && req.method === 'GET') {
        const namespace = decodeURIComponent(podsPath[1]!);
        const [verb, resource] = !podsPath[2] ? ['list', 'pods'] : podsPath[3] ? ['get', 'pods/log'] : ['get', 'pods'];
        if (isForbidden(verb, resource)) return forbid(verb, resource, '', namespace);
        const allPods = [...jobs.values()].flatMap((j) => j.pods).filter((p) => p.object.metadata.namespace === namespace);
        if (!podsPath[2]) {
          const items = allPods.filter((p) => matchesSelector(p.object.metadata.labels, url.searchParams.get('labelSelector'))).map((p) => p.object);
          return json(res, 200, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: String(resourceVersion) }, items });
        }
        const pod = allPods.find((p) => p.object.metadata.name === decodeURIComponent(podsPath[2]!));
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
    podsCreated: (namespace, name) => podCounts.get(`${namespace}/${name}`) ?? 0,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const workload of workloads) if (workload.exitCode === undefined) workload.signal('SIGKILL');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
