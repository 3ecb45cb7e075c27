/**
 * A config per executor kind to start from, as docs/executors.md describes them (the server
 * validates what is saved; tests/unit/executor-config-examples.test.ts checks these still pass).
 * Secrets appear only as names of environment variables, never as values.
 */
export const configExamples: Record<string, Record<string, unknown>> = {
  local: {
    workdir: '/srv/train',
    gpus: ['0', '1', '2', '3'],
    env: { HF_HOME: '/srv/hf' },
    secretEnv: { HF_TOKEN: 'TRAINING_HF_TOKEN' },
  },
  ray: {
    address: 'http://ray-head:8265',
    headers: { Authorization: 'RAY_DASHBOARD_AUTH' },
    runtimeEnv: { env_vars: { HF_HUB_OFFLINE: '1' } },
    secretEnv: { HF_TOKEN: 'HF_TOKEN_ON_NODE' },
  },
  kubernetes: {
    namespace: 'training',
    image: 'registry.example.org/pairwise/trainer:2026-01',
    nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    secretName: 'pairwise-training',
    secretKeys: { HF_TOKEN: 'hf-token' },
    shmSizeLimit: '32Gi',
  },
  slurm: {
    ssh: { host: 'login.cluster.example.org', user: 'pairwise', identityFileEnv: 'SLURM_SSH_KEY_FILE' },
    partition: 'gpu',
    account: 'ml',
    cpusPerNode: 32,
    memory: '512G',
    timeLimit: '2-00:00:00',
    setup: ['module load cuda/12.4', 'source /opt/venvs/trl/bin/activate'],
  },
};

export function exampleText(kind: string): string {
  return JSON.stringify(configExamples[kind] ?? {}, null, 2);
}
