import { describe, expect, it } from 'vitest';
import { planStages, ZRoundPlan } from '@/server/rounds/plan';
import { buildStageSpec, type TRunRow, type TStageContext } from '@/server/rounds/rounds';

const store = { uri: (key: string) => `file:///srv/artifacts/${key}` };

function context(planInput: unknown, previous: TStageContext['previous'] = {}): TStageContext {
  return {
    round: { id: 1, datasetVersionId: 3, policyModelId: 2 },
    plan: ZRoundPlan.parse(planInput),
    policy: { id: 2, name: 'llama-r0', artifactUri: 's3://models/llama-r0', baseModel: 'meta-llama/Llama-3.1-8B-Instruct' },
    previous,
  };
}

const run = (id: number, extra: Partial<TRunRow> = {}) => ({ id, outputVersionId: null, outputModelId: null, ...extra }) as TRunRow;

describe('round plans', () => {
  it('fill Llama 3 defaults and order the stages, merge only when enabled', () => {
    const plan = ZRoundPlan.parse({ baseModel: 'meta-llama/Llama-3.1-8B-Instruct', register: { name: 'llama-r1' } });
    expect(plan.rejectionSampling.k).toBe(10);
    expect(plan.dpo.gpus).toBe(8);
    expect(planStages(plan)).toEqual(['reward', 'rejection-sampling', 'sft', 'dpo', 'eval', 'register']);
    expect(planStages({ ...plan, merge: { ...plan.merge, enabled: true } })).toEqual(['reward', 'rejection-sampling', 'sft', 'dpo', 'merge', 'eval', 'register']);
  });

  it('refuse what cannot run, naming the field', () => {
    expect(ZRoundPlan.safeParse({ baseModel: 'm', register: { name: '' } }).error?.issues[0]?.path).toEqual(['register', 'name']);
    expect(ZRoundPlan.safeParse({ baseModel: 'm', register: { name: 'x' }, rejectionSampling: { k: 0 } }).error?.issues[0]?.path).toEqual(['rejectionSampling', 'k']);
    expect(ZRoundPlan.safeParse({ baseModel: 'm', register: { name: 'x', serving: { baseUrl: 'ftp://x', apiModel: 'm' } } }).success).toBe(false);
  });

  it('chain the stages: SFT on the sampled version from the policy, DPO from the SFT output, merge over both, register the merge', () => {
    const ctx = context(
      { baseModel: 'meta-llama/Llama-3.1-8B-Instruct', register: { name: 'llama-r1' }, merge: { enabled: true, models: [{ source: 'dpo', weight: 0.7 }, { source: 'sft', weight: 0.3 }] } },
      { reward: run(10, { outputModelId: 40 }), 'rejection-sampling': run(11, { outputVersionId: 7 }), sft: run(12), dpo: run(13), merge: run(14) },
    );
    // Host mode (the default): a batch job over the policy's and the reward model's checkpoints, train prompts only.
    const rejection = buildStageSpec(store, ctx, 'rejection-sampling', 11);
    expect(rejection.runner === 'executor' && rejection.inputs[0]!.source).toEqual({ type: 'prompts', versionId: 3, split: 'train' });
    expect(rejection.runner === 'executor' && rejection.config).toMatchObject({ k: 10, reward_model: '/srv/artifacts/runs/10/output', models: [{ name: 'policy', path: '/srv/artifacts/runs/11/model-0' }] });
    // Endpoint mode: the worker calls the served policy and reward model, train prompts only too.
    const endpoint = context({ ...ctx.plan, rejectionSampling: { ...ctx.plan.rejectionSampling, mode: 'endpoint' } }, ctx.previous);
    expect(buildStageSpec(store, endpoint, 'rejection-sampling', 11)).toMatchObject({ runner: 'worker', settings: { policyModelId: 2, rewardModelId: 40, prompts: { datasetVersionId: 3, split: 'train' }, k: 10 } });
    const sft = buildStageSpec(store, ctx, 'sft', 12);
    expect(sft.runner === 'executor' && sft.inputs[0]!.source).toEqual({ type: 'version', versionId: 7, format: 'sft-completion', split: 'all' });
    // The policy's weights are on S3: the command fetches them first.
    expect(sft.runner === 'executor' && sft.config.model_name_or_path).toBe('/srv/artifacts/runs/12/model');
    expect(sft.runner === 'executor' && sft.command[2]!.split('\n')).toEqual([
      'set -euo pipefail',
      'aws s3 sync s3://models/llama-r0 /srv/artifacts/runs/12/model --only-show-errors',
      'accelerate launch --config_file /srv/artifacts/runs/12/accelerate.yaml /srv/artifacts/runs/12/host/train.py sft --config /srv/artifacts/runs/12/config.yaml',
    ]);
    const dpo = buildStageSpec(store, ctx, 'dpo', 13);
    expect(dpo.runner === 'executor' && dpo.config.model_name_or_path).toBe('/srv/artifacts/runs/12/output');
    const merge = buildStageSpec(store, ctx, 'merge', 14);
    expect(merge.runner === 'executor' && merge.config.models).toEqual([
      { model: '/srv/artifacts/runs/13/output', parameters: { weight: 0.7 } },
      { model: '/srv/artifacts/runs/12/output', parameters: { weight: 0.3 } },
    ]);
    expect(buildStageSpec(store, ctx, 'register', 16)).toMatchObject({ settings: { name: 'llama-r1', artifactUri: 'file:///srv/artifacts/runs/14/output', serving: null, gate: { minWinRateLow: 0.5 } } });
    const evaluation = buildStageSpec(store, ctx, 'eval', 15);
    expect(evaluation.runner === 'executor' && evaluation.inputs[0]!.source).toEqual({ type: 'prompts', versionId: 3, split: 'test', limit: 200 });
    expect(evaluation.runner === 'executor' && evaluation.config.models).toEqual([
      { name: 'candidate', path: '/srv/artifacts/runs/14/output' },
      { name: 'previous', path: '/srv/artifacts/runs/15/model-1' },
    ]);
    const endpointEval = context({ ...ctx.plan, eval: { ...ctx.plan.eval, mode: 'endpoint' } }, ctx.previous);
    expect(buildStageSpec(store, endpointEval, 'eval', 15)).toMatchObject({ settings: { candidateUri: 'file:///srv/artifacts/runs/14/output', previousModelId: 2, rewardModelId: 40, split: 'test' } });
  });

  it('the next round’s comparisons are a host job: the new policy and its opponents answer a project’s prompts, nothing scores them', () => {
    const ctx = {
      ...context({ baseModel: 'meta-llama/Llama-3.1-8B-Instruct', register: { name: 'llama-r1' }, nextRound: { enabled: true, project: 'chat-r2', opponents: ['previous'], maxPrompts: 500 } }, { dpo: run(13) }),
      opponents: [{ id: 2, name: 'llama-r0', uri: 's3://models/llama-r0' }],
    };
    expect(planStages(ctx.plan)).toEqual(['reward', 'rejection-sampling', 'sft', 'dpo', 'eval', 'register', 'generate']);
    const spec = buildStageSpec(store, ctx, 'generate', 17);
    expect(spec.runner === 'executor' && spec.inputs[0]!.source).toEqual({ type: 'project-prompts', projectSlug: 'chat-r2', limit: 500 });
    expect(spec.runner === 'executor' && spec.config).toMatchObject({
      models: [
        { name: 'llama-r1', path: '/srv/artifacts/runs/13/output' },
        { name: 'llama-r0', path: '/srv/artifacts/runs/17/model-1' },
      ],
      reward_model: null,
      k: 1,
    });
    expect(ZRoundPlan.safeParse({ baseModel: 'm', register: { name: 'x' }, nextRound: { enabled: true } }).error?.issues[0]?.path).toEqual(['nextRound', 'project']);
  });
});
