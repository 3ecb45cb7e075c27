import path from 'node:path';
import { z } from 'zod';
import { executorKind } from '@/db/schema';
import { isPairwiseSetting } from '../secret-names';

export const executorKinds = executorKind.enumValues;
export type TExecutorKind = (typeof executorKinds)[number];

const envVarNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The name of an environment variable (never its value: secrets are not stored). */
export const ZEnvVarName = z.string().regex(envVarNamePattern, 'must be an environment variable name (letters, digits and _, not starting with a digit)');

const ZEnvValues = z
  .record(ZEnvVarName, z.string().max(10_000))
  .refine((env) => Object.keys(env).length <= 200, 'at most 200 variables');

/** The name of a variable a secret is read from: never one of Pairwise's own. */
export const ZSecretVarName = ZEnvVarName.refine(
  (name) => !isPairwiseSetting(name),
  'names one of Pairwise’s own settings (DATABASE_URL, AUTH_*, NEXTAUTH_*, PAIRWISE_*), which no executor may read: give the secret a variable of its own',
);

/** Variable for the job -> name of the variable that holds its value (the worker's; the Ray node's for Ray). */
const ZSecretEnvRefs = z
  .record(ZEnvVarName, ZSecretVarName)
  .refine((env) => Object.keys(env).length <= 100, 'at most 100 variables');

const ZAbsolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => path.isAbsolute(p), 'must be an absolute path');

/** A CUDA device index, GPU UUID or MIG id: no commas, which separate devices in CUDA_VISIBLE_DEVICES. */
const ZDeviceId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9:._/-]*$/, 'must be a device index or UUID (e.g. "0" or "GPU-8f3c...")');

export const ZLocalExecutorConfig = z.strictObject({
  /** Working directory of the process (default: the worker's). */
  workdir: ZAbsolutePath.optional(),
  /** Devices this host lends to runs; each goes to one running job at a time. None: jobs that need GPUs are refused. */
  gpus: z
    .array(ZDeviceId)
    .max(64)
    .refine((ids) => new Set(ids).size === ids.length, 'a device is listed twice')
    .optional(),
  /** Plain environment for every job (the worker's own environment is not passed on, except PATH, HOME, locale and TMPDIR). */
  env: ZEnvValues.optional(),
  secretEnv: ZSecretEnvRefs.optional(),
  /** Host folder for process state and device allocation (default: <PAIRWISE_DATA_DIR>/local-executor); share it between executors of one host. */
  stateDir: ZAbsolutePath.optional(),
  /** Seconds between SIGTERM and SIGKILL when cancelling (default 10). */
  killGraceSeconds: z.number().int().min(0).max(3600).optional(),
});
export type TLocalExecutorConfig = z.infer<typeof ZLocalExecutorConfig>;

const ZHeaderName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name');

export const ZRayExecutorConfig = z.strictObject({
  /** The Ray dashboard / job server, e.g. http://ray-head:8265. */
  address: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://ray-head:8265' }),
  /** Header -> name of the worker's environment variable holding the whole value (e.g. "Bearer ..."). */
  headers: z.record(ZHeaderName, ZSecretVarName).optional(),
  /** Ray runtime_env fields (working_dir, pip, uv, conda, py_modules, env_vars, ...), passed as given. */
  runtimeEnv: z
    .looseObject({
      working_dir: z.string().min(1).optional(),
      pip: z.union([z.array(z.string()), z.looseObject({ packages: z.array(z.string()) })]).optional(),
      env_vars: ZEnvValues.optional(),
    })
    .optional(),
  /**
   * Job variable -> variable already set on the Ray node (by the cluster admin, e.g. KubeRay pod env
   * from a Kubernetes Secret). Never read on the worker: Ray echoes runtime_env to anyone who can
   * call GET /api/jobs/, so the values must not travel in the submission (see docs/executors.md).
   */
  secretEnv: ZSecretEnvRefs.optional(),
  entrypointNumCpus: z.number().min(0).optional(),
  /** Bytes of memory reserved for the entrypoint. */
  entrypointMemory: z.number().int().min(0).optional(),
  entrypointResources: z.record(z.string().min(1), z.number().min(0)).optional(),
  /** Per-request timeout (default 30). */
  requestTimeoutSeconds: z.number().int().min(1).max(600).optional(),
});
export type TRayExecutorConfig = z.infer<typeof ZRayExecutorConfig>;

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ZDnsLabel = z.string().max(63).regex(dnsLabel, 'must be a DNS label (lower-case letters, digits, -)');
const ZDnsSubdomain = z.string().max(253).regex(dnsSubdomain, 'must be a DNS subdomain name (lower-case letters, digits, - and .)');

const ZToleration = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().optional(),
});

/** A Kubernetes resource quantity such as 16Gi, 512Mi or 1e9 (binary or decimal suffix, no sign). */
const ZQuantity = z
  .string()
  .regex(/^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/, 'must be a Kubernetes quantity, e.g. "16Gi"')
  .refine((q) => parseFloat(q) > 0, 'must be more than 0');

/** The pod volume behind /dev/shm (a name admins' own volumes must not take). */
export const shmVolumeName = 'pairwise-shm';

export const ZKubernetesExecutorConfig = z
  .strictObject({
    namespace: ZDnsLabel,
    /** The container image with the training stack (TRL, mergekit, ...). */
    image: z.string().min(1).max(1000).regex(/^\S+$/, 'must not contain spaces'),
    /** A kubeconfig file on the worker; without it: KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
    kubeconfig: ZAbsolutePath.optional(),
    /** Context of the kubeconfig to use (default: its current context). */
    context: z.string().min(1).optional(),
    serviceAccount: ZDnsSubdomain.optional(),
    nodeSelector: z.record(z.string().min(1), z.string()).optional(),
    tolerations: z.array(ZToleration).max(50).optional(),
    /** A Kubernetes Secret in the namespace: with secretKeys, those keys become variables; alone, all its keys do. */
    secretName: ZDnsSubdomain.optional(),
    /** Variable -> key in secretName (valueFrom.secretKeyRef). */
    secretKeys: z.record(ZEnvVarName, z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret key')).optional(),
    env: ZEnvValues.optional(),
    /** Requests for the container besides the GPUs, e.g. { cpu: "8", memory: "64Gi" }. */
    resources: z.strictObject({ cpu: z.string().min(1).optional(), memory: z.string().min(1).optional() }).optional(),
    /** How long a finished Job (and its logs) stays (default 7 days). */
    ttlSecondsAfterFinished: z.number().int().min(0).optional(),
    activeDeadlineSeconds: z.number().int().min(1).optional(),
    imagePullSecrets: z.array(ZDnsSubdomain).max(20).optional(),
    /** Pod volumes and their mounts in the container (Kubernetes objects, passed as given), e.g. a model cache. */
    volumes: z.array(z.looseObject({ name: ZDnsLabel })).max(50).optional(),
    volumeMounts: z.array(z.looseObject({ name: ZDnsLabel, mountPath: z.string().min(1) })).max(50).optional(),
    /** Working directory in the container. */
    workingDir: z.string().min(1).optional(),
    /**
     * Size limit of the memory-backed /dev/shm every Job gets (a quantity, e.g. "16Gi"). Unset: no
     * limit of its own; the pod's memory limit (or the node's allocatable memory) bounds it.
     */
    shmSizeLimit: ZQuantity.optional(),
  })
  .refine((c) => !c.secretKeys || c.secretName, { message: 'secretKeys needs secretName', path: ['secretKeys'] })
  .refine((c) => !c.volumes?.some((v) => v.name === shmVolumeName), { message: `the volume name ${shmVolumeName} is Pairwise's (the Job's /dev/shm)`, path: ['volumes'] });
export type TKubernetesExecutorConfig = z.infer<typeof ZKubernetesExecutorConfig>;

/** A Slurm time limit as sbatch takes it: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS. */
const ZSlurmTime = z.string().regex(/^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$/, 'must be a Slurm time limit: minutes, HH:MM:SS or D-HH:MM:SS');
/** A Slurm name (partition, account, QOS): no spaces or shell characters, since it lands in a batch script. */
const ZSlurmName = z.string().min(1).max(200).regex(/^[A-Za-z0-9_.,:+-]+$/, 'letters, digits and _ . , : + - only');
/** Memory per node as sbatch's --mem takes it, e.g. 64G or 512000M. */
const ZSlurmMemory = z.string().regex(/^\d+[KMGT]?$/, 'must be an amount such as 64G or 512000M (sbatch --mem)');
/** A path on the cluster: absolute, or relative to the submitting user's home folder. No shell characters, as it is written into commands. */
const ZClusterPath = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[A-Za-z0-9_@%+=:,./~-]+$/, 'letters, digits and _ @ % + = : , . / ~ - only (no spaces or shell characters)')
  .refine((p) => !p.startsWith('~') || p === '~' || p.startsWith('~/'), 'only ~/ may start it (the submitting user’s home)');

export const ZSlurmSshConfig = z.strictObject({
  /** The login node the worker submits from. */
  host: z.string().min(1).max(253).regex(/^[A-Za-z0-9.:_-]+$/, 'must be a host name or address'),
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().min(1).max(64).regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'must be a user name'),
  /** The worker's variable that holds the path of the private key file (ssh -i); without it, ssh's own defaults and agent. */
  identityFileEnv: ZSecretVarName.optional(),
  /** A known_hosts file on the worker holding the login node's key (default: the worker user's ~/.ssh/known_hosts). */
  knownHostsFile: ZAbsolutePath.optional(),
  /** 'strict' (default) refuses a host whose key is not known; 'accept-new' records the key of a host seen for the first time. */
  hostKeyChecking: z.enum(['strict', 'accept-new']).optional(),
  /** Seconds to wait for the connection (default 15). */
  connectTimeoutSeconds: z.number().int().min(1).max(300).optional(),
});
export type TSlurmSshConfig = z.infer<typeof ZSlurmSshConfig>;

export const ZSlurmExecutorConfig = z.strictObject({
  /** Through a login node over SSH; without it the worker's host is a submit host (sbatch on its PATH). */
  ssh: ZSlurmSshConfig.optional(),
  /** The slurm.conf the commands read (SLURM_CONF); default: the submit host's own. */
  slurmConf: ZClusterPath.optional(),
  partition: ZSlurmName.optional(),
  account: ZSlurmName.optional(),
  qos: ZSlurmName.optional(),
  /** CPUs for each node's task (--cpus-per-task); the launcher and the data loaders run in it. */
  cpusPerNode: z.number().int().min(1).max(4096).optional(),
  /** Memory per node (--mem), e.g. "512G"; unset: the partition's default. */
  memory: ZSlurmMemory.optional(),
  /** Wall-clock limit of a job (--time); unset: the partition's default. */
  timeLimit: ZSlurmTime.optional(),
  /** Extra sbatch options, each one whole option (e.g. "--constraint=h100", "--exclusive"), for what the fields above do not cover. */
  sbatchOptions: z
    .array(z.string().regex(/^--[a-z][a-z-]*(=[A-Za-z0-9_.,:+=@%/[\]-]+)?$/, 'must be one sbatch option such as --constraint=h100 or --exclusive'))
    .max(50)
    .optional(),
  /** Where job scripts, ids and output files go on the cluster (default ~/.pairwise/slurm): it must be visible from the login node and the compute nodes. */
  jobDir: ZClusterPath.optional(),
  /** Commands run on each node before the job's own (e.g. "module load cuda/12.4", "source /opt/venvs/trl/bin/activate"). */
  setup: z.array(z.string().min(1).max(2000).refine((line) => !line.includes('\n'), 'one line each')).max(50).optional(),
  /** Plain environment for every job. */
  env: ZEnvValues.optional(),
  /**
   * Job variable -> variable of sbatch's environment on the submit host, read when the job starts:
   * the worker's own when it submits directly (only the variables named here are passed to sbatch),
   * the login's on the login node through SSH. Never written into the batch script.
   */
  secretEnv: ZSecretEnvRefs.optional(),
  /** Per-command timeout in seconds (default 60). */
  commandTimeoutSeconds: z.number().int().min(1).max(600).optional(),
});
export type TSlurmExecutorConfig = z.infer<typeof ZSlurmExecutorConfig>;

export const executorConfigSchemas = {
  local: ZLocalExecutorConfig,
  ray: ZRayExecutorConfig,
  kubernetes: ZKubernetesExecutorConfig,
  slurm: ZSlurmExecutorConfig,
} as const;

export type TExecutorConfigOf = {
  local: TLocalExecutorConfig;
  ray: TRayExecutorConfig;
  kubernetes: TKubernetesExecutorConfig;
  slurm: TSlurmExecutorConfig;
};

export type TParsedExecutorConfig =
  | { kind: 'local'; config: TLocalExecutorConfig }
  | { kind: 'ray'; config: TRayExecutorConfig }
  | { kind: 'kubernetes'; config: TKubernetesExecutorConfig }
  | { kind: 'slurm'; config: TSlurmExecutorConfig };

export const ZExecutorName = z
  .string()
  .trim()
  .min(1, 'an executor needs a name')
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ., _ and - only (it is typed on the command line)');

export const ZCreateExecutor = z.discriminatedUnion('kind', [
  z.object({ name: ZExecutorName, kind: z.literal('local'), config: ZLocalExecutorConfig.default({}), enabled: z.boolean().default(true) }),
  z.object({ name: ZExecutorName, kind: z.literal('ray'), config: ZRayExecutorConfig, enabled: z.boolean().default(true) }),
  z.object({ name: ZExecutorName, kind: z.literal('kubernetes'), config: ZKubernetesExecutorConfig, enabled: z.boolean().default(true) }),
  z.object({ name: ZExecutorName, kind: z.literal('slurm'), config: ZSlurmExecutorConfig.default({}), enabled: z.boolean().default(true) }),
]);
export type TCreateExecutor = z.input<typeof ZCreateExecutor>;

export const ZExecutorRef = z.object({ id: z.number().int().positive() });

/** The kind cannot change: runs already point at the executor. The config is validated against the existing kind. */
export const ZUpdateExecutor = z.object({
  id: z.number().int().positive(),
  name: ZExecutorName.optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  enabled: z.boolean().optional(),
});
export type TUpdateExecutor = z.input<typeof ZUpdateExecutor>;
