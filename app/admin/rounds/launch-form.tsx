'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { inferRouterInputs } from '@trpc/server';
import Link from 'next/link';
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useTRPC, useTRPCClient } from '@/app/_trpc/client';
import type { TAppRouter } from '@/server/root';
import {
  defaultPlan,
  distributedStrategies,
  formFieldOf,
  formFromPlan,
  messageWithoutField,
  needsRewardEndpoint,
  planFromForm,
  splitSystemPrompts,
  stableJson,
  type TFormField,
  type TLaunchField,
  type TPlanField,
  type TPlanForm,
} from './plan-form';

type TLaunchInput = inferRouterInputs<TAppRouter>['rounds']['launch'];
type TPreviewStage = { index: number; kind: string; spec: Record<string, unknown> };

const inputClass = 'w-full rounded border border-slate-300 bg-white px-2 py-1.5 text-sm aria-[invalid=true]:border-red-500 disabled:bg-slate-100 disabled:text-slate-500';
const buttonClass = 'rounded bg-slate-800 px-3 py-1.5 text-sm text-white disabled:opacity-50';
const fieldsetClass = 'grid gap-4 border-t border-slate-100 pt-4 sm:grid-cols-2 lg:grid-cols-3 disabled:opacity-60';
const legendClass = 'float-left mb-1 w-full font-medium text-slate-800 sm:col-span-2 lg:col-span-3';

const strategyLabels: Record<(typeof distributedStrategies)[number], string> = {
  auto: 'auto (DDP or ZeRO-3)',
  ddp: 'ddp',
  zero3: 'zero3 (DeepSpeed)',
  fsdp2: 'fsdp2 (PyTorch)',
};

const modeLabels = { host: 'host (default)', endpoint: 'endpoint' } as const;

/** A labelled control with its hint and its error; the control gets `controlProps(id)`. */
function Field({ id, label, hint, error, className, children }: { id: TFormField; label: ReactNode; hint?: ReactNode; error?: string; className?: string; children: ReactNode }) {
  return (
    <div className={`text-sm ${className ?? ''}`} data-field={id}>
      <label htmlFor={`round-${id}`} className="mb-1 block font-medium text-slate-700">
        {label}
      </label>
      {children}
      {hint ? (
        <p id={`round-${id}-hint`} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`round-${id}-error`} className="mt-1 whitespace-pre-wrap break-words text-xs text-red-700" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** GPUs a local executor lends, from its config; null for other kinds. */
function listedGpus(executor: { kind: string; config: Record<string, unknown> } | undefined): number | null {
  if (!executor || executor.kind !== 'local') return null;
  const gpus = executor.config.gpus;
  return Array.isArray(gpus) ? gpus.length : 0;
}

/**
 * The launch form: a field for each part of the plan an admin usually sets, laid over the Llama 3
 * defaults. Advanced shows the plan JSON the form builds; editing it there wins until the form is
 * updated from it. Launch needs a successful preview of exactly the values it would send.
 */
export function LaunchForm({ onLaunched }: { onLaunched: (id: number) => void }) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const modelsList = useQuery(trpc.models.list.queryOptions());
  const versions = useQuery(trpc.datasets.list.queryOptions({ limit: 100 }));
  const executorsList = useQuery(trpc.executors.list.queryOptions());
  const projectsList = useQuery(trpc.projects.list.queryOptions());
  const [name, setName] = useState('');
  const [policyId, setPolicyId] = useState('');
  const [versionId, setVersionId] = useState('');
  const [executorId, setExecutorId] = useState('');
  const [form, setForm] = useState<TPlanForm>(() => formFromPlan(defaultPlan()));
  /** What the form lays its fields over: the defaults, or the JSON last loaded into the form. */
  const [base, setBase] = useState<unknown>(defaultPlan);
  /** Fields the admin typed in: choosing a policy no longer fills them. */
  const [typed, setTyped] = useState<{ baseModel: boolean; registerName: boolean }>({ baseModel: false, registerName: false });
  /** The plan JSON as edited by hand under Advanced; null while the form is the source. */
  const [planText, setPlanText] = useState<string | null>(null);
  const [localErrors, setLocalErrors] = useState<Partial<Record<TFormField | 'planJson', string>>>({});
  const [serverError, setServerError] = useState<{ message: string; field: string | null } | null>(null);
  const [advancedOpen, setAdvancedOpen] = useState(false);
  const [previewing, setPreviewing] = useState(false);
  const [preview, setPreview] = useState<{ key: string; stages: TPreviewStage[] } | null>(null);
  /** The field to focus after the next render (set by the handlers that report errors). */
  const focusField = useRef<string | null>(null);
  const launch = useMutation(
    trpc.rounds.launch.mutationOptions({
      onSuccess: (round) => {
        void queryClient.invalidateQueries({ queryKey: trpc.rounds.list.queryKey() });
        setPreview(null);
        onLaunched(round.id);
      },
    }),
  );

  const policies = (modelsList.data ?? []).filter((m) => m.kind === 'policy');
  const preferenceVersions = (versions.data ?? []).filter((v) => v.status === 'succeeded' && v.kind === 'preference');
  const executorChoices = (executorsList.data ?? []) as { id: number; name: string; kind: string; enabled: boolean; config: Record<string, unknown> }[];
  const chosenExecutor = executorChoices.find((x) => String(x.id) === executorId);
  const gpusListed = listedGpus(chosenExecutor);
  const projects = projectsList.data ?? [];

  const editingJson = planText !== null;
  const built = planFromForm(form, base);
  let jsonPlan: unknown = null;
  let jsonError: string | null = null;
  if (planText !== null) {
    try {
      jsonPlan = JSON.parse(planText);
      if (!jsonPlan || typeof jsonPlan !== 'object' || Array.isArray(jsonPlan)) jsonError = 'the plan must be a JSON object';
    } catch (e) {
      jsonError = `not valid JSON: ${(e as Error).message}`;
    }
  }
  const plan = editingJson ? jsonPlan : built.plan;
  const input: TLaunchInput = { name, policyModelId: Number(policyId), datasetVersionId: Number(versionId), executorId: Number(executorId), plan: plan as TLaunchInput['plan'] };
  const inputKey = stableJson(input);
  const previewIsCurrent = preview !== null && preview.key === inputKey;

  // A field named by an error gets the focus, so keyboard users land where the fix goes.
  useEffect(() => {
    if (!focusField.current) return;
    document.getElementById(`round-${focusField.current}`)?.focus();
    focusField.current = null;
  });

  const serverField = serverError ? formFieldOf(serverError.field) : null;
  /** While the JSON is edited by hand the plan's fields are not what is sent: its errors show at the top. */
  const serverFieldShown = serverField && (!editingJson || isLaunchField(serverField)) ? serverField : null;
  function errorOf(key: TFormField): string | undefined {
    if (localErrors[key]) return localErrors[key];
    if (serverError && serverFieldShown === key) return messageWithoutField(serverError.message, serverError.field);
    return undefined;
  }
  const controlProps = (key: TFormField) => ({
    id: `round-${key}`,
    className: inputClass,
    'aria-invalid': Boolean(errorOf(key)),
    'aria-describedby': [`round-${key}-hint`, errorOf(key) ? `round-${key}-error` : ''].filter(Boolean).join(' '),
  });

  function clearErrorOf(key: TFormField | 'planJson') {
    setLocalErrors((e) => (e[key] ? { ...e, [key]: undefined } : e));
    if (serverError && (key === 'planJson' || formFieldOf(serverError.field) === key)) setServerError(null);
  }

  function setField<K extends TPlanField>(key: K, value: TPlanForm[K]) {
    setForm((f) => ({ ...f, [key]: value }));
    clearErrorOf(key);
  }

  const text = (key: TPlanField) => ({
    ...controlProps(key),
    value: form[key],
    onChange: (e: { target: { value: string } }) => setField(key, e.target.value as never),
  });

  function choosePolicy(id: string) {
    setPolicyId(id);
    clearErrorOf('policyModelId');
    const policy = policies.find((p) => String(p.id) === id);
    if (!policy) return;
    // Blanks and values filled from the previous choice follow the policy; what the admin typed stays.
    setForm((f) => ({
      ...f,
      baseModel: typed.baseModel && f.baseModel.trim() ? f.baseModel : (policy.baseModel ?? policy.artifactUri ?? ''),
      registerName: typed.registerName && f.registerName.trim() ? f.registerName : `${policy.name}-next`,
    }));
  }

  function showServerError(error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    const field = (error as { data?: { field?: string } } | null)?.data?.field ?? null;
    setServerError({ message, field });
    const shown = formFieldOf(field);
    if (shown && (!editingJson || isLaunchField(shown))) focusField.current = shown;
  }

  /** The checks that need no server: choices made, numbers that are numbers, JSON that parses. */
  function checkLocally(): boolean {
    const errors: Partial<Record<TFormField | 'planJson', string>> = {};
    if (!name.trim()) errors.name = 'a round needs a name';
    if (!policyId) errors.policyModelId = 'choose the policy the round starts from';
    if (!versionId) errors.datasetVersionId = 'choose a built preference version';
    if (!executorId) errors.executorId = 'choose where the GPU stages run';
    if (editingJson) {
      if (jsonError) errors.planJson = jsonError;
    } else {
      Object.assign(errors, built.errors);
    }
    setLocalErrors(errors);
    setServerError(null);
    const first = Object.keys(errors)[0];
    if (first) focusField.current = first === 'planJson' ? 'plan-json' : first;
    return !first;
  }

  async function showPreview() {
    if (!checkLocally()) return;
    const key = inputKey;
    setPreviewing(true);
    try {
      const result = await client.rounds.preview.query(input);
      setPreview({ key, stages: result.stages as unknown as TPreviewStage[] });
    } catch (e) {
      setPreview(null);
      showServerError(e);
    } finally {
      setPreviewing(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!previewIsCurrent || !checkLocally()) return;
    launch.mutate(input, { onError: (e) => showServerError(e) });
  }

  function editJson(value: string) {
    setPlanText(value);
    clearErrorOf('planJson');
  }

  /** Loads the hand-edited JSON into the fields; what the form has no field for stays as written. */
  function formFromJson() {
    if (planText === null) return;
    if (jsonError) {
      setLocalErrors((e) => ({ ...e, planJson: jsonError }));
      focusField.current = 'plan-json';
      return;
    }
    setForm(formFromPlan(jsonPlan));
    setBase(jsonPlan);
    setTyped({ baseModel: true, registerName: true });
    setPlanText(null);
    setLocalErrors({});
    setServerError(null);
  }

  const endpointScoring = needsRewardEndpoint(form);
  const promptCount = splitSystemPrompts(form.systemPrompts).length;
  const fieldErrorCount = (Object.keys(localErrors) as (TFormField | 'planJson')[]).filter((k) => localErrors[k]).length + (serverFieldShown ? 1 : 0);
  const topError = serverError && !serverFieldShown ? serverError.message : null;

  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="launch-heading">
      <h2 id="launch-heading" className="mb-1 font-semibold">
        Launch a round
      </h2>
      <p className="mb-4 text-sm text-slate-500">
        The fields start at Llama 3’s recipe. Preview shows the exact configs and commands each stage runs; Launch is enabled once a preview of these exact values
        succeeded.
      </p>
      {topError ? (
        <p role="alert" className="mb-4 whitespace-pre-wrap break-words rounded border border-red-200 bg-red-50 p-2 text-sm text-red-800" data-testid="launch-error">
          {topError}
        </p>
      ) : null}
      <form onSubmit={submit} noValidate className="space-y-5">
        <div className="grid gap-4 sm:grid-cols-2">
          <Field id="name" label="Round name" hint="How people will refer to this round, e.g. “round 2”." error={errorOf('name')}>
            <input
              {...controlProps('name')}
              value={name}
              onChange={(e) => {
                setName(e.target.value);
                clearErrorOf('name');
              }}
              maxLength={200}
              placeholder="round 2"
              autoComplete="off"
            />
          </Field>
          <Field
            id="policyModelId"
            label="Starting policy"
            error={errorOf('policyModelId')}
            hint={
              modelsList.isSuccess && !policies.length ? (
                <>
                  No policy models yet: register one in the{' '}
                  <Link className="underline" href="/admin/models">
                    model registry
                  </Link>
                  .
                </>
              ) : (
                'The policy this round improves: rejection sampling samples from it, evaluation compares against it.'
              )
            }
          >
            <select {...controlProps('policyModelId')} value={policyId} onChange={(e) => choosePolicy(e.target.value)}>
              <option value="">{modelsList.isPending ? 'loading…' : 'choose…'}</option>
              {policies.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} ({p.serving})
                </option>
              ))}
            </select>
          </Field>
          <Field
            id="datasetVersionId"
            label="Preference dataset version"
            error={errorOf('datasetVersionId')}
            hint={
              versions.isSuccess && !preferenceVersions.length ? (
                <>
                  No built preference version yet: build one under{' '}
                  <Link className="underline" href="/admin/datasets">
                    Datasets
                  </Link>
                  .
                </>
              ) : (
                'The reward model and DPO train on its train split; evaluation uses its test split.'
              )
            }
          >
            <select
              {...controlProps('datasetVersionId')}
              value={versionId}
              onChange={(e) => {
                setVersionId(e.target.value);
                clearErrorOf('datasetVersionId');
              }}
            >
              <option value="">{versions.isPending ? 'loading…' : 'choose…'}</option>
              {preferenceVersions.map((v) => (
                <option key={v.id} value={v.id}>
                  #{v.id} {v.name}
                </option>
              ))}
            </select>
          </Field>
          <Field
            id="executorId"
            label="Executor"
            error={errorOf('executorId')}
            hint={
              executorsList.isSuccess && !executorChoices.length ? (
                <>
                  No executors yet: add one with <code>npm run cli -- executor add</code>.
                </>
              ) : gpusListed !== null ? (
                `Where the GPU stages run. This local executor lists ${gpusListed} GPU(s): no stage may ask for more.`
              ) : (
                'Where the GPU stages run.'
              )
            }
          >
            <select
              {...controlProps('executorId')}
              value={executorId}
              onChange={(e) => {
                setExecutorId(e.target.value);
                clearErrorOf('executorId');
              }}
            >
              <option value="">{executorsList.isPending ? 'loading…' : 'choose…'}</option>
              {executorChoices.map((x) => (
                <option key={x.id} value={x.id} disabled={!x.enabled}>
                  {x.name} ({x.kind}
                  {x.enabled ? '' : ', disabled'})
                </option>
              ))}
            </select>
          </Field>
        </div>

        {editingJson ? (
          <p role="status" className="rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900">
            The plan JSON under Advanced was edited by hand: Preview and Launch send it as written, and the fields below are locked. Use “Update the form from the
            JSON” there to edit with the fields again, or discard the edits.
          </p>
        ) : null}

        <fieldset disabled={editingJson} className="space-y-5 disabled:opacity-60">
          <legend className="sr-only">The plan</legend>
          <div className="grid gap-4 sm:grid-cols-2">
            <Field
              id="baseModel"
              label="Base model"
              error={errorOf('baseModel')}
              hint="The reward model starts from it; it is also the policy’s weights when the policy entry has no artifact. Filled from the chosen policy."
            >
              <input
                {...text('baseModel')}
                onChange={(e) => {
                  setField('baseModel', e.target.value);
                  setTyped((t) => ({ ...t, baseModel: true }));
                }}
                placeholder="meta-llama/Llama-3.1-8B-Instruct"
                autoComplete="off"
                spellCheck={false}
              />
            </Field>
            <Field id="registerName" label="Registration name" error={errorOf('registerName')} hint="The registry name of the new policy; no model may have it yet.">
              <input
                {...text('registerName')}
                onChange={(e) => {
                  setField('registerName', e.target.value);
                  setTyped((t) => ({ ...t, registerName: true }));
                }}
                maxLength={100}
                placeholder="llama-r2-policy"
                autoComplete="off"
                spellCheck={false}
              />
            </Field>
          </div>

          <fieldset className={fieldsetClass}>
            <legend className={legendClass}>GPUs and distribution</legend>
            <Field id="rewardGpus" label="Reward model GPUs" error={errorOf('rewardGpus')} hint="GPUs per node for reward-model training.">
              <input {...text('rewardGpus')} type="number" inputMode="numeric" min={0} max={1024} step={1} />
            </Field>
            <Field id="sftGpus" label="SFT GPUs" error={errorOf('sftGpus')} hint="GPUs per node for SFT.">
              <input {...text('sftGpus')} type="number" inputMode="numeric" min={0} max={1024} step={1} />
            </Field>
            <Field id="dpoGpus" label="DPO GPUs" error={errorOf('dpoGpus')} hint="GPUs per node for DPO.">
              <input {...text('dpoGpus')} type="number" inputMode="numeric" min={0} max={1024} step={1} />
            </Field>
            <Field
              id="samplingGpus"
              label="Rejection sampling GPUs"
              error={errorOf('samplingGpus')}
              hint={form.samplingMode === 'host' ? 'GPUs of the host sampling job (vLLM tensor parallelism).' : 'Host mode only: in endpoint mode the worker calls served models.'}
            >
              <input {...text('samplingGpus')} type="number" inputMode="numeric" min={0} max={1024} step={1} disabled={form.samplingMode !== 'host'} />
            </Field>
            <Field
              id="evalGpus"
              label="Evaluation GPUs"
              error={errorOf('evalGpus')}
              hint={form.evalMode === 'host' ? 'GPUs of the host evaluation job (vLLM tensor parallelism).' : 'Host mode only: in endpoint mode the worker calls served models.'}
            >
              <input {...text('evalGpus')} type="number" inputMode="numeric" min={0} max={1024} step={1} disabled={form.evalMode !== 'host'} />
            </Field>
            <div className="hidden lg:block" aria-hidden />
            <Field
              id="strategy"
              label="Distributed strategy"
              error={errorOf('strategy')}
              hint="DDP keeps a whole copy of the training state on every GPU; ZeRO-3 and FSDP2 shard it. auto: DDP where the model fits, else ZeRO-3."
            >
              <select {...text('strategy')}>
                {distributedStrategies.map((s) => (
                  <option key={s} value={s}>
                    {strategyLabels[s]}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="nodes" label="Nodes" error={errorOf('nodes')} hint="Nodes per training stage (the GPUs above are per node); a local executor runs on one.">
              <input {...text('nodes')} type="number" inputMode="numeric" min={1} max={512} step={1} />
            </Field>
          </fieldset>

          <fieldset className={fieldsetClass}>
            <legend className={legendClass}>Rejection sampling and evaluation</legend>
            <Field
              id="samplingMode"
              label="Rejection sampling mode"
              error={errorOf('samplingMode')}
              hint="host: a batch job on the executor over the checkpoints, no server needed. endpoint: the worker calls served models."
            >
              <select {...text('samplingMode')}>
                <option value="host">{modeLabels.host}</option>
                <option value="endpoint">{modeLabels.endpoint}</option>
              </select>
            </Field>
            <Field id="evalMode" label="Evaluation mode" error={errorOf('evalMode')} hint="host: a batch job on the executor. endpoint: the worker calls the new policy’s serving endpoint (below).">
              <select {...text('evalMode')}>
                <option value="host">{modeLabels.host}</option>
                <option value="endpoint">{modeLabels.endpoint}</option>
              </select>
            </Field>
            <Field id="k" label="Samples per prompt (K)" error={errorOf('k')} hint="1–100; Llama 3: typically 10–30. The reward model keeps the best.">
              <input {...text('k')} type="number" inputMode="numeric" min={1} max={100} step={1} />
            </Field>
            {endpointScoring ? (
              <fieldset className="grid gap-4 rounded border border-slate-200 bg-slate-50 p-3 sm:col-span-2 sm:grid-cols-2 lg:col-span-3 lg:grid-cols-3" data-testid="reward-endpoint">
                <legend className="px-1 text-sm font-medium text-slate-800">Reward model endpoint (required in endpoint mode)</legend>
                <Field
                  id="rewardBaseUrl"
                  label="Reward /classify base URL"
                  error={errorOf('rewardBaseUrl')}
                  hint="Where the trained reward model will answer /classify (vLLM --runner pooling), e.g. http://gpu-2:8000/v1."
                >
                  <input {...text('rewardBaseUrl')} type="url" required placeholder="http://gpu-2:8000/v1" autoComplete="off" spellCheck={false} />
                </Field>
                <Field id="rewardApiModel" label="Reward model name at the endpoint" error={errorOf('rewardApiModel')} hint="The `model` field sent to /classify.">
                  <input {...text('rewardApiModel')} required placeholder="llama-r2-reward" autoComplete="off" spellCheck={false} />
                </Field>
                <Field id="rewardApiKeyEnv" label="Reward API key variable (optional)" error={errorOf('rewardApiKeyEnv')} hint="The name of the server’s environment variable that holds the key; never the key.">
                  <input {...text('rewardApiKeyEnv')} placeholder="REWARD_API_KEY" autoComplete="off" spellCheck={false} />
                </Field>
              </fieldset>
            ) : null}
            <Field
              id="systemPrompts"
              label="System prompts"
              className="sm:col-span-2 lg:col-span-3"
              error={errorOf('systemPrompts')}
              hint={`Separate prompts with a blank line (one prompt may span several lines); sample i of each prompt is steered by system prompt i mod n, for tone and format. Empty: none.${promptCount ? ` ${promptCount} prompt(s).` : ''}`}
            >
              <textarea {...text('systemPrompts')} rows={4} spellCheck={false} placeholder={'Answer concisely.\n\nAnswer step by step, then give the result.'} />
            </Field>
            <Field id="evalMaxPrompts" label="Evaluation prompts (max)" error={errorOf('evalMaxPrompts')} hint="Held-out prompts of the version’s test split compared by the reward model.">
              <input {...text('evalMaxPrompts')} type="number" inputMode="numeric" min={1} max={10000} step={1} />
            </Field>
            <Field id="humanProject" label="Human-evaluation project (optional)" error={errorOf('humanProject')} hint="Receives new-vs-previous comparisons for annotators to judge.">
              <select {...text('humanProject')}>
                <option value="">{projectsList.isPending ? 'loading…' : 'none'}</option>
                {projects.map((p) => (
                  <option key={p.slug} value={p.slug}>
                    {p.name} ({p.slug})
                  </option>
                ))}
                {form.humanProject && !projects.some((p) => p.slug === form.humanProject) ? <option value={form.humanProject}>{form.humanProject} (not found)</option> : null}
              </select>
            </Field>
            <Field id="humanComparisons" label="Human-evaluation comparisons" error={errorOf('humanComparisons')} hint="How many comparisons that project receives (0–10000).">
              <input {...text('humanComparisons')} type="number" inputMode="numeric" min={0} max={10000} step={1} disabled={!form.humanProject} />
            </Field>
          </fieldset>

          <fieldset className={fieldsetClass}>
            <legend className={legendClass}>Gate and serving</legend>
            <Field
              id="gateMinWinRateLow"
              label="Gate: minimum win-rate lower bound"
              error={errorOf('gateMinWinRateLow')}
              hint="The new policy is registered only when the lower bound of its 95% win-rate interval against the starting policy is above this (0–1; 0.5: better than a coin)."
            >
              <input {...text('gateMinWinRateLow')} type="number" inputMode="decimal" min={0} max={1} step={0.01} />
            </Field>
            <Field
              id="gateOverrideReason"
              label="Gate override reason (optional)"
              className="lg:col-span-2"
              error={errorOf('gateOverrideReason')}
              hint="Registers the new policy even when the gate fails, with this reason recorded. Usually empty: a failed gate can be overridden afterwards."
            >
              <input {...text('gateOverrideReason')} maxLength={2000} autoComplete="off" />
            </Field>
            <Field
              id="servingBaseUrl"
              label={`New policy’s serving URL${form.evalMode === 'endpoint' ? '' : ' (optional)'}`}
              error={errorOf('servingBaseUrl')}
              hint={
                form.evalMode === 'endpoint'
                  ? 'Required in endpoint-mode evaluation: it samples from the new policy there.'
                  : 'Where the new policy will be served (OpenAI-compatible); live generation can use it.'
              }
            >
              <input {...text('servingBaseUrl')} type="url" required={form.evalMode === 'endpoint'} placeholder="http://gpu-1:8000/v1" autoComplete="off" spellCheck={false} />
            </Field>
            <Field id="servingApiModel" label="Policy model name at that endpoint" error={errorOf('servingApiModel')} hint="The `model` field sent to the endpoint.">
              <input {...text('servingApiModel')} required={form.evalMode === 'endpoint'} placeholder="llama-r2-policy" autoComplete="off" spellCheck={false} />
            </Field>
            <Field id="servingApiKeyEnv" label="Policy API key variable (optional)" error={errorOf('servingApiKeyEnv')} hint="The name of the environment variable that holds the key.">
              <input {...text('servingApiKeyEnv')} placeholder="POLICY_API_KEY" autoComplete="off" spellCheck={false} />
            </Field>
            <Field id="deploy" label="Deploy the new policy" error={errorOf('deploy')} hint="on: once registered, the policy is served by a job on the executor (vLLM, or transformers serve) and its endpoint registered; the deployment of the starting policy is stopped.">
              <select {...text('deploy')}>
                <option value="off">off</option>
                <option value="on">on: serve it on the executor</option>
              </select>
            </Field>
            <Field id="deployGpus" label="Deployment GPUs" error={errorOf('deployGpus')} hint="vLLM tensor parallelism.">
              <input {...text('deployGpus')} type="number" inputMode="numeric" min={0} max={1024} step={1} disabled={form.deploy !== 'on'} />
            </Field>
            <Field id="deployPort" label="Deployment port" error={errorOf('deployPort')} hint="The port the server listens on, on its host.">
              <input {...text('deployPort')} type="number" inputMode="numeric" min={1024} max={65535} step={1} disabled={form.deploy !== 'on'} />
            </Field>
            <Field id="deployHost" label="Deployment host (optional for a local executor)" error={errorOf('deployHost')} hint="Where the worker reaches the server: 127.0.0.1 for a local executor; a node or Service name elsewhere.">
              <input {...text('deployHost')} disabled={form.deploy !== 'on'} placeholder="127.0.0.1" autoComplete="off" spellCheck={false} />
            </Field>
          </fieldset>
        </fieldset>

        <details className="rounded border border-slate-200 bg-slate-50 text-sm" open={advancedOpen} onToggle={(e) => setAdvancedOpen(e.currentTarget.open)}>
          <summary className="cursor-pointer px-3 py-2 font-medium text-slate-700">Advanced: the plan as JSON{editingJson ? ' (edited by hand)' : ''}</summary>
          <div className="space-y-2 border-t border-slate-200 p-3">
            <p id="plan-json-hint" className="text-xs text-slate-600">
              This is the plan Preview and Launch send. Edit it for what the form has no field for: each stage’s <code>config</code> holds your changes to the
              generated TRL config (<code>null</code> removes a key), <code>merge</code> averages checkpoints. Your edits win over the fields until you update the form
              from them.
            </p>
            <label htmlFor="round-plan-json" className="block font-medium text-slate-700">
              Plan JSON
            </label>
            <textarea
              id="round-plan-json"
              className={`${inputClass} h-80 font-mono text-xs`}
              value={planText ?? JSON.stringify(built.plan, null, 2)}
              onChange={(e) => editJson(e.target.value)}
              spellCheck={false}
              aria-describedby={['plan-json-hint', localErrors.planJson || (editingJson && jsonError) ? 'plan-json-error' : ''].filter(Boolean).join(' ')}
              aria-invalid={Boolean(localErrors.planJson)}
            />
            {localErrors.planJson || (editingJson && jsonError) ? (
              <p id="plan-json-error" role="alert" className="text-xs text-red-700">
                {localErrors.planJson ?? jsonError}
              </p>
            ) : null}
            {editingJson ? (
              <div className="flex flex-wrap gap-2">
                <button type="button" className={buttonClass} onClick={formFromJson} disabled={Boolean(jsonError)}>
                  Update the form from the JSON
                </button>
                <button
                  type="button"
                  className="rounded border border-slate-300 bg-white px-3 py-1.5 text-sm"
                  onClick={() => {
                    setPlanText(null);
                    clearErrorOf('planJson');
                  }}
                >
                  Discard JSON edits
                </button>
              </div>
            ) : null}
          </div>
        </details>

        <div className="flex flex-wrap items-center gap-3">
          <button type="button" className={buttonClass} onClick={() => void showPreview()} disabled={previewing}>
            {previewing ? 'Previewing…' : 'Preview configs and commands'}
          </button>
          <button type="submit" className={buttonClass} disabled={!previewIsCurrent || launch.isPending} aria-describedby="launch-state">
            {launch.isPending ? 'Launching…' : 'Launch'}
          </button>
          <span id="launch-state" role="status" className={`text-sm ${fieldErrorCount ? 'text-red-700' : 'text-slate-600'}`}>
            {fieldErrorCount
              ? 'Fix the fields marked in red, then preview again.'
              : previewIsCurrent
                ? 'Previewed: these values can be launched.'
                : preview
                  ? 'The values changed since the preview: preview again to launch.'
                  : 'Launch is enabled after a successful preview of these values.'}
          </span>
        </div>
      </form>

      {preview ? (
        <div className={`mt-4 ${previewIsCurrent ? '' : 'opacity-50'}`} data-testid="round-preview">
          <h3 className="mb-2 text-sm font-semibold">
            Preview{previewIsCurrent ? '' : ' (of earlier values)'}: {preview.stages.length} stages
          </h3>
          <ol className="space-y-3">
            {preview.stages.map((stage) => (
              <li key={stage.index} className="rounded border border-slate-200 p-2">
                <div className="text-sm font-medium">
                  {stage.index + 1}. {stage.kind} {stage.spec.runner === 'executor' ? `· ${String(stage.spec.gpus)} GPU(s)` : '· in the worker'}
                </div>
                {stage.spec.runner === 'executor' ? (
                  <>
                    <pre className="mt-1 overflow-x-auto rounded bg-slate-50 p-2 text-xs">{(stage.spec.command as string[]).join(' ')}</pre>
                    <pre className="mt-1 max-h-64 overflow-auto rounded bg-slate-50 p-2 text-xs">{String(stage.spec.configYaml)}</pre>
                  </>
                ) : (
                  <pre className="mt-1 overflow-x-auto rounded bg-slate-50 p-2 text-xs">{JSON.stringify(stage.spec.settings, null, 2)}</pre>
                )}
              </li>
            ))}
          </ol>
        </div>
      ) : null}
    </section>
  );
}

function isLaunchField(field: TFormField): field is TLaunchField {
  return field === 'name' || field === 'policyModelId' || field === 'datasetVersionId' || field === 'executorId';
}
