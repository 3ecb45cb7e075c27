import { distributedStrategies, type TDistributedStrategy } from '@/server/rounds/distributed';
import type { TRoundPlanInput } from '@/server/rounds/plan';

/**
 * The launch form's plan fields, as typed. `planFromForm` lays them over a base plan (the Llama 3
 * defaults, or the JSON an admin last loaded into the form), so what the form has no field for
 * (stage config overrides, merge, sampling parameters) goes through untouched.
 */
export interface TPlanForm {
  baseModel: string;
  rewardGpus: string;
  sftGpus: string;
  dpoGpus: string;
  samplingGpus: string;
  evalGpus: string;
  strategy: TDistributedStrategy;
  nodes: string;
  k: string;
  /** Separated by a blank line, so that one prompt may span several lines. */
  systemPrompts: string;
  samplingMode: TScoringMode;
  evalMode: TScoringMode;
  rewardBaseUrl: string;
  rewardApiModel: string;
  rewardApiKeyEnv: string;
  evalMaxPrompts: string;
  humanProject: string;
  humanComparisons: string;
  registerName: string;
  gateMinWinRateLow: string;
  gateOverrideReason: string;
  servingBaseUrl: string;
  servingApiModel: string;
  servingApiKeyEnv: string;
  /** Serve the new policy as a job on the executor once registered. */
  deploy: 'off' | 'on';
  deployGpus: string;
  deployPort: string;
  deployHost: string;
}

export type TScoringMode = 'host' | 'endpoint';
export type TPlanField = keyof TPlanForm;
/** Fields outside the plan: the round's name and what it starts from. */
export type TLaunchField = 'name' | 'policyModelId' | 'datasetVersionId' | 'executorId';
export type TFormField = TPlanField | TLaunchField;

export { distributedStrategies };

/** The plan a new round starts from: ZRoundPlan's Llama 3 defaults, spelled out so the JSON shows them. */
export function defaultPlan(): TRoundPlanInput {
  return {
    baseModel: '',
    reward: { gpus: 8, config: {} },
    rejectionSampling: { mode: 'host', k: 10, concurrency: 8, gpus: 1 },
    sft: { gpus: 8, config: {} },
    dpo: { gpus: 8, config: {} },
    merge: { enabled: false, gpus: 0, config: {}, models: [{ source: 'dpo', weight: 0.5 }, { source: 'sft', weight: 0.5 }] },
    eval: { mode: 'host', gpus: 1, maxPrompts: 200, humanComparisons: 100 },
    register: { name: '', gate: { minWinRateLow: 0.5 } },
    distributed: { strategy: 'auto', nodes: 1 },
    deploy: { enabled: false, gpus: 1, port: 8000, healthTimeoutSeconds: 1800, stopSuperseded: true },
  };
}

type TLoose = Record<string, unknown>;

const objectAt = (value: unknown): TLoose => (value && typeof value === 'object' && !Array.isArray(value) ? (value as TLoose) : {});
const textOf = (value: unknown, fallback = ''): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : fallback);
const modeOf = (value: unknown): TScoringMode => (value === 'endpoint' ? 'endpoint' : 'host');

/** The form's fields from a plan (the defaults fill whatever the plan leaves out). */
export function formFromPlan(planValue: unknown): TPlanForm {
  const plan = objectAt(planValue);
  const reward = objectAt(plan.reward);
  const rewardServing = objectAt(reward.serving);
  const sampling = objectAt(plan.rejectionSampling);
  const evaluation = objectAt(plan.eval);
  const register = objectAt(plan.register);
  const serving = objectAt(register.serving);
  const gate = objectAt(register.gate);
  const distributed = objectAt(plan.distributed);
  const deploy = objectAt(plan.deploy);
  const strategy = distributedStrategies.find((s) => s === distributed.strategy) ?? 'auto';
  return {
    baseModel: textOf(plan.baseModel),
    rewardGpus: textOf(reward.gpus, '8'),
    sftGpus: textOf(objectAt(plan.sft).gpus, '8'),
    dpoGpus: textOf(objectAt(plan.dpo).gpus, '8'),
    samplingGpus: textOf(sampling.gpus, '1'),
    evalGpus: textOf(evaluation.gpus, '1'),
    strategy,
    nodes: textOf(distributed.nodes, '1'),
    k: textOf(sampling.k, '10'),
    systemPrompts: Array.isArray(sampling.systemPrompts) ? sampling.systemPrompts.filter((p): p is string => typeof p === 'string').join('\n\n') : '',
    samplingMode: modeOf(sampling.mode),
    evalMode: modeOf(evaluation.mode),
    rewardBaseUrl: textOf(rewardServing.baseUrl),
    rewardApiModel: textOf(rewardServing.apiModel),
    rewardApiKeyEnv: textOf(rewardServing.apiKeyEnv),
    evalMaxPrompts: textOf(evaluation.maxPrompts, '200'),
    humanProject: textOf(evaluation.humanProject),
    humanComparisons: textOf(evaluation.humanComparisons, '100'),
    registerName: textOf(register.name),
    gateMinWinRateLow: textOf(gate.minWinRateLow, '0.5'),
    gateOverrideReason: textOf(gate.overrideReason),
    servingBaseUrl: textOf(serving.baseUrl),
    servingApiModel: textOf(serving.apiModel),
    servingApiKeyEnv: textOf(serving.apiKeyEnv),
    deploy: deploy.enabled === true ? 'on' : 'off',
    deployGpus: textOf(deploy.gpus, '1'),
    deployPort: textOf(deploy.port, '8000'),
    deployHost: textOf(deploy.host),
  };
}

/** System prompts as the textarea holds them: blocks separated by one or more blank lines. */
export function splitSystemPrompts(text: string): string[] {
  return text
    .split(/\r?\n[ \t]*\r?\n/)
    .map((p) => p.trim())
    .filter(Boolean);
}

/** A number field: empty or not a number is an error here; ranges are the server's (it names the field). */
function numberOf(text: string, integer: boolean): number | string {
  if (text.trim() === '') return 'enter a number';
  const n = Number(text);
  if (!Number.isFinite(n)) return 'must be a number';
  if (integer && !Number.isInteger(n)) return 'must be a whole number';
  return n;
}

/** True when an endpoint-mode stage needs the reward model's /classify endpoint. */
export function needsRewardEndpoint(form: Pick<TPlanForm, 'samplingMode' | 'evalMode'>): boolean {
  return form.samplingMode === 'endpoint' || form.evalMode === 'endpoint';
}

function endpointOf(baseUrl: string, apiModel: string, apiKeyEnv: string): { baseUrl: string; apiModel: string; apiKeyEnv?: string } | undefined {
  if (!baseUrl.trim() && !apiModel.trim() && !apiKeyEnv.trim()) return undefined;
  return { baseUrl: baseUrl.trim(), apiModel: apiModel.trim(), ...(apiKeyEnv.trim() ? { apiKeyEnv: apiKeyEnv.trim() } : {}) };
}

/** Drops keys whose value is undefined, so the JSON shown is the JSON sent. */
function compact<T extends TLoose>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The plan the form describes, over `base`, and the fields that cannot become one. A reward
 * endpoint is only the form's business in endpoint mode: in host mode the base's (if any) stays.
 */
export function planFromForm(form: TPlanForm, base: unknown): { plan: TRoundPlanInput; errors: Partial<Record<TPlanField, string>> } {
  const errors: Partial<Record<TPlanField, string>> = {};
  const integer = (key: TPlanField) => {
    const value = numberOf(form[key], true);
    if (typeof value === 'string') {
      errors[key] = value;
      return 0;
    }
    return value;
  };
  const decimal = (key: TPlanField) => {
    const value = numberOf(form[key], false);
    if (typeof value === 'string') {
      errors[key] = value;
      return 0;
    }
    return value;
  };
  const b = objectAt(base);
  const reward = objectAt(b.reward);
  const sampling = objectAt(b.rejectionSampling);
  const evaluation = objectAt(b.eval);
  const register = objectAt(b.register);
  const gate = objectAt(register.gate);
  const prompts = splitSystemPrompts(form.systemPrompts);
  const rewardServing = needsRewardEndpoint(form) ? endpointOf(form.rewardBaseUrl, form.rewardApiModel, form.rewardApiKeyEnv) : (reward.serving as TLoose | undefined);
  const plan = {
    ...b,
    baseModel: form.baseModel,
    reward: compact({ ...reward, gpus: integer('rewardGpus'), config: reward.config ?? {}, serving: rewardServing }),
    rejectionSampling: compact({ ...sampling, mode: form.samplingMode, k: integer('k'), systemPrompts: prompts.length ? prompts : undefined, gpus: integer('samplingGpus') }),
    sft: { ...objectAt(b.sft), gpus: integer('sftGpus'), config: objectAt(b.sft).config ?? {} },
    dpo: { ...objectAt(b.dpo), gpus: integer('dpoGpus'), config: objectAt(b.dpo).config ?? {} },
    eval: compact({
      ...evaluation,
      mode: form.evalMode,
      gpus: integer('evalGpus'),
      maxPrompts: integer('evalMaxPrompts'),
      humanProject: form.humanProject.trim() || undefined,
      humanComparisons: integer('humanComparisons'),
    }),
    register: compact({
      ...register,
      name: form.registerName,
      serving: endpointOf(form.servingBaseUrl, form.servingApiModel, form.servingApiKeyEnv),
      gate: compact({ ...gate, minWinRateLow: decimal('gateMinWinRateLow'), overrideReason: form.gateOverrideReason.trim() || undefined }),
    }),
    distributed: { ...objectAt(b.distributed), strategy: form.strategy, nodes: integer('nodes') },
    deploy: compact({ ...objectAt(b.deploy), enabled: form.deploy === 'on', gpus: integer('deployGpus'), port: integer('deployPort'), host: form.deployHost.trim() || undefined }),
  } as TRoundPlanInput;
  return { plan, errors };
}

/** Server field paths (ZLaunchRound's, e.g. "plan.sft.gpus") and the form field that shows their errors. */
const fieldPaths: Record<string, TFormField> = {
  name: 'name',
  policyModelId: 'policyModelId',
  datasetVersionId: 'datasetVersionId',
  executorId: 'executorId',
  baseModel: 'baseModel',
  'reward.gpus': 'rewardGpus',
  'reward.serving': 'rewardBaseUrl',
  'reward.serving.baseUrl': 'rewardBaseUrl',
  'reward.serving.apiModel': 'rewardApiModel',
  'reward.serving.apiKeyEnv': 'rewardApiKeyEnv',
  'rejectionSampling.mode': 'samplingMode',
  'rejectionSampling.k': 'k',
  'rejectionSampling.systemPrompts': 'systemPrompts',
  'rejectionSampling.gpus': 'samplingGpus',
  'sft.gpus': 'sftGpus',
  'dpo.gpus': 'dpoGpus',
  'eval.mode': 'evalMode',
  'eval.gpus': 'evalGpus',
  'eval.maxPrompts': 'evalMaxPrompts',
  'eval.humanProject': 'humanProject',
  'eval.humanComparisons': 'humanComparisons',
  'register.name': 'registerName',
  'register.serving': 'servingBaseUrl',
  'register.serving.baseUrl': 'servingBaseUrl',
  'register.serving.apiModel': 'servingApiModel',
  'register.serving.apiKeyEnv': 'servingApiKeyEnv',
  'register.gate.minWinRateLow': 'gateMinWinRateLow',
  'register.gate.overrideReason': 'gateOverrideReason',
  'distributed.strategy': 'strategy',
  'distributed.nodes': 'nodes',
  'deploy.enabled': 'deploy',
  'deploy.gpus': 'deployGpus',
  'deploy.port': 'deployPort',
  'deploy.host': 'deployHost',
};

/**
 * The form field a server error is about: "plan.rejectionSampling.systemPrompts[3]" →
 * systemPrompts; null when the form has no field for it (then it shows at the top).
 */
export function formFieldOf(field: string | null | undefined): TFormField | null {
  if (!field) return null;
  const parts = field
    .replace(/\[\d+\]/g, '')
    .replace(/^plan\./, '')
    .split('.');
  for (let n = parts.length; n > 0; n--) {
    const hit = fieldPaths[parts.slice(0, n).join('.')];
    if (hit) return hit;
  }
  return null;
}

/** A server message without the field path it starts with ("plan.sft.gpus: needs 8" → "needs 8"): the field's place says it. */
export function messageWithoutField(message: string, field: string | null | undefined): string {
  if (!field) return message;
  return message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}

/** JSON with object keys sorted: two inputs that send the same values get the same key, whatever order their keys were written in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as TLoose).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
