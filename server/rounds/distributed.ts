/**
 * How a training stage spreads over GPUs: the accelerate launch config for the processes of one
 * or several nodes. Full fine-tuning with AdamW keeps about 16 bytes a parameter (bf16 weights and
 * gradients, fp32 master weights and two moments), so an 8B model needs about 128 GB before
 * activations: more than one 80 GB GPU. Plain data parallelism (DDP) keeps that whole copy on
 * every GPU; ZeRO-3 and FSDP2 shard it across all the processes (128 GB / 8 = 16 GB each).
 */
export const distributedStrategies = ['auto', 'ddp', 'zero3', 'fsdp2'] as const;
export type TDistributedStrategy = (typeof distributedStrategies)[number];
export type TResolvedStrategy = 'single' | Exclude<TDistributedStrategy, 'auto'>;

/** Bytes of training state a parameter costs under mixed-precision AdamW. */
export const trainingBytesPerParam = 16;
/** Memory of the GPUs the defaults are sized for (H100/A100 80 GB). */
export const assumedGpuMemoryGb = 80;

export interface TDistributedPlan {
  strategy: TDistributedStrategy;
  nodes: number;
  modelParamsB?: number;
}

/** Parameters in billions, from the plan or the model's name ("Llama-3.1-8B-Instruct" → 8); null when unknown. */
export function modelParamsB(plan: TDistributedPlan, baseModel: string): number | null {
  if (plan.modelParamsB) return plan.modelParamsB;
  const match = /(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)\s*b(?:$|[^a-z0-9])/i.exec(baseModel);
  return match ? Number(match[1]) : null;
}

/**
 * The strategy a stage runs with. One process needs none. `auto` keeps DDP only where a whole
 * training state fits in half a GPU (the rest is activations), and shards with ZeRO-3 otherwise,
 * or when the size is unknown (sharding is slower but never runs out of memory where DDP would).
 */
export function resolveStrategy(plan: TDistributedPlan, baseModel: string, gpusPerNode: number): TResolvedStrategy {
  if (gpusPerNode * plan.nodes <= 1) return 'single';
  if (plan.strategy !== 'auto') return plan.strategy;
  const params = modelParamsB(plan, baseModel);
  return params !== null && params * trainingBytesPerParam <= assumedGpuMemoryGb / 2 ? 'ddp' : 'zero3';
}

const common = {
  compute_environment: 'LOCAL_MACHINE',
  debug: false,
  downcast_bf16: 'no',
  main_training_function: 'main',
  mixed_precision: 'bf16',
  rdzv_backend: 'static',
  same_network: true,
  use_cpu: false,
} as const;

/**
 * accelerate's config file for the strategy, as TRL ships it (trl/accelerate_configs/zero3.yaml,
 * fsdp2.yaml, multi_gpu.yaml) with the run's process and node counts. The node rank and the first
 * node's address differ per node: the launch command passes them (see `launchCommand`).
 */
export function accelerateConfig(strategy: Exclude<TResolvedStrategy, 'single'>, gpusPerNode: number, nodes: number): Record<string, unknown> {
  const counts = { num_machines: nodes, num_processes: gpusPerNode * nodes, machine_rank: 0 };
  switch (strategy) {
    case 'ddp':
      return { ...common, distributed_type: 'MULTI_GPU', gpu_ids: 'all', ...counts };
    case 'zero3':
      return {
        ...common,
        distributed_type: 'DEEPSPEED',
        deepspeed_config: {
          deepspeed_multinode_launcher: 'standard',
          offload_optimizer_device: 'none',
          offload_param_device: 'none',
          zero3_init_flag: true,
          // One bf16 safetensors model at the end, loadable by vLLM and the next stage.
          zero3_save_16bit_model: true,
          zero_stage: 3,
        },
        ...counts,
      };
    case 'fsdp2':
      return {
        ...common,
        distributed_type: 'FSDP',
        fsdp_config: {
          fsdp_activation_checkpointing: false,
          fsdp_auto_wrap_policy: 'TRANSFORMER_BASED_WRAP',
          fsdp_cpu_ram_efficient_loading: true,
          fsdp_offload_params: false,
          fsdp_reshard_after_forward: true,
          fsdp_state_dict_type: 'FULL_STATE_DICT',
          fsdp_version: 2,
        },
        ...counts,
      };
  }
}

/**
 * The variables a multi-node launch reads on each node: the executor sets them (a Kubernetes
 * indexed Job from its completion index and headless service, Slurm from SLURM_NODEID and the first
 * host of the allocation). One node needs none of them.
 */
export const nodeRankEnv = 'PAIRWISE_NODE_RANK';
export const masterAddrEnv = 'PAIRWISE_MASTER_ADDR';
export const masterPort = 29500;

/** The launcher's argv before the script: nothing for one process, `accelerate launch` otherwise. */
export function launcherArgs(strategy: TResolvedStrategy, acceleratePath: string, nodes: number, python = 'python3'): string[] {
  if (strategy === 'single') return [python];
  const base = ['accelerate', 'launch', '--config_file', acceleratePath];
  if (nodes <= 1) return base;
  return [...base, '--machine_rank', `$${nodeRankEnv}`, '--main_process_ip', `$${masterAddrEnv}`, '--main_process_port', String(masterPort)];
}

/** GB of training state each process holds: the figure docs/rounds.md tabulates for 8B, 70B and 405B. */
export function trainingStatePerGpuGb(paramsB: number, strategy: TResolvedStrategy, processes: number): number {
  const total = paramsB * trainingBytesPerParam;
  return strategy === 'zero3' || strategy === 'fsdp2' ? total / Math.max(1, processes) : total;
}
