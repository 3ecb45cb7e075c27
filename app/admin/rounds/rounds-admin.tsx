'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import dynamic from 'next/dynamic';
import Link from 'next/link';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useTRPC } from '@/app/_trpc/client';

// chart.js only loads when a run with metrics is shown.
const MetricChart = dynamic(() => import('./metric-chart').then((m) => m.MetricChart), { ssr: false, loading: () => <div className="h-36" /> });

const inputClass = 'w-full rounded border border-slate-300 px-2 py-1.5 text-sm';
const buttonClass = 'rounded bg-slate-800 px-3 py-1.5 text-sm text-white disabled:opacity-50';

/** The plan a new round starts from: the Llama 3 defaults, which the preview expands into exact configs. */
function defaultPlan(baseModel: string) {
  return {
    baseModel,
    reward: { gpus: 8, config: {} },
    rejectionSampling: { k: 10, concurrency: 8 },
    sft: { gpus: 8, config: {} },
    dpo: { gpus: 8, config: {} },
    merge: { enabled: false, gpus: 0, config: {}, models: [{ source: 'dpo', weight: 0.5 }, { source: 'sft', weight: 0.5 }] },
    eval: { maxPrompts: 200, humanComparisons: 100 },
    register: { name: '' },
  };
}

const statusColors: Record<string, string> = {
  pending: 'bg-slate-100 text-slate-700',
  submitted: 'bg-amber-100 text-amber-800',
  running: 'bg-blue-100 text-blue-800',
  succeeded: 'bg-green-100 text-green-800',
  failed: 'bg-red-100 text-red-800',
  cancelled: 'bg-slate-200 text-slate-600',
  planned: 'bg-slate-100 text-slate-700',
};

function Status({ status }: { status: string }) {
  return <span className={`rounded px-1.5 py-0.5 text-xs font-medium ${statusColors[status] ?? ''}`}>{status}</span>;
}

const hintClass = 'mt-1 block text-xs text-slate-500';

/** The automatic evaluation's headline numbers; the full record stays one click away. */
function EvalSummary({ evaluation }: { evaluation: Record<string, unknown> }) {
  const num = (key: string) => (typeof evaluation[key] === 'number' ? (evaluation[key] as number) : null);
  const pct = (value: number | null) => (value === null ? '–' : `${(value * 100).toFixed(1)}%`);
  const interval = evaluation.interval as { low?: number; high?: number; level?: number } | undefined;
  const human = evaluation.human as { project?: string; comparisons?: number } | undefined;
  const note = [evaluation.skipped, evaluation.automatic].find((v): v is string => typeof v === 'string') ?? null;
  const pValue = num('pValue');
  return (
    <div className="space-y-2">
      {note ? <p className="text-sm text-slate-600">{/^skipped/.test(note) ? note : `Skipped: ${note}`}</p> : null}
      {num('prompts') === null ? null : (
      <dl className="grid grid-cols-2 gap-2 text-sm sm:grid-cols-4">
        <div className="rounded bg-slate-50 p-2">
          <dt className="text-xs text-slate-500">Win rate (ties as half)</dt>
          <dd className="font-medium">{pct(num('winRateWithTies'))}</dd>
        </div>
        <div className="rounded bg-slate-50 p-2">
          <dt className="text-xs text-slate-500">Win rate over decided{interval?.level ? ` · ${Math.round(interval.level * 100)}% interval` : ''}</dt>
          <dd className="font-medium">
            {pct(num('winRate'))}
            {num('winRate') !== null && typeof interval?.low === 'number' && typeof interval.high === 'number' ? ` [${pct(interval.low)}, ${pct(interval.high)}]` : ''}
          </dd>
        </div>
        <div className="rounded bg-slate-50 p-2">
          <dt className="text-xs text-slate-500">Wins / losses / ties</dt>
          <dd className="font-medium">
            {num('wins') ?? '–'} / {num('losses') ?? '–'} / {num('ties') ?? '–'} <span className="text-xs font-normal text-slate-500">of {num('prompts') ?? '–'} prompts</span>
          </dd>
        </div>
        <div className="rounded bg-slate-50 p-2">
          <dt className="text-xs text-slate-500">p-value (vs a coin)</dt>
          <dd className="font-medium">{pValue === null ? '–' : pValue < 0.001 ? pValue.toExponential(1) : pValue.toFixed(3)}</dd>
        </div>
      </dl>
      )}
      {human?.project ? (
        <p className="text-sm">
          Human evaluation: {human.comparisons ?? 0} comparisons in{' '}
          <Link className="underline" href={`/admin/projects/${encodeURIComponent(human.project)}`}>
            {human.project}
          </Link>
        </p>
      ) : null}
      <details>
        <summary className="cursor-pointer text-sm">Full evaluation record</summary>
        <pre className="overflow-x-auto rounded bg-slate-50 p-2 text-xs">{JSON.stringify(evaluation, null, 2)}</pre>
      </details>
    </div>
  );
}

const activeRunStatuses: string[] = ['pending', 'submitted', 'running'];

const chartedMetrics = ['loss', 'eval_loss', 'rewards/accuracies', 'rewards/margins', 'learning_rate', 'grad_norm'];

type TLaunchInput = { name: string; policyModelId: number; datasetVersionId: number; executorId: number; plan: Record<string, unknown> };

function LaunchForm({ onLaunched }: { onLaunched: (id: number) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const modelsList = useQuery(trpc.models.list.queryOptions());
  const versions = useQuery(trpc.datasets.list.queryOptions({ limit: 100 }));
  const executorsList = useQuery(trpc.executors.list.queryOptions());
  const [name, setName] = useState('');
  const [policyId, setPolicyId] = useState('');
  const [versionId, setVersionId] = useState('');
  const [executorId, setExecutorId] = useState('');
  const [planText, setPlanText] = useState(() => JSON.stringify(defaultPlan(''), null, 2));
  const [error, setError] = useState<string | null>(null);
  const [preview, setPreview] = useState<{ index: number; kind: string; spec: Record<string, unknown> }[] | null>(null);
  const launch = useMutation(
    trpc.rounds.launch.mutationOptions({
      onSuccess: (round) => {
        void queryClient.invalidateQueries({ queryKey: trpc.rounds.list.queryKey() });
        onLaunched(round.id);
      },
      onError: (e) => setError(e.message),
    }),
  );
  const policies = (modelsList.data ?? []).filter((m) => m.kind === 'policy');
  const preferenceVersions = (versions.data ?? []).filter((v) => v.status === 'succeeded' && v.kind === 'preference');

  function input(): TLaunchInput | null {
    setError(null);
    let plan: Record<string, unknown>;
    try {
      plan = JSON.parse(planText) as Record<string, unknown>;
    } catch (e) {
      setError(`the plan is not valid JSON: ${(e as Error).message}`);
      return null;
    }
    if (!policyId || !versionId || !executorId) {
      setError('choose the policy, the dataset version and the executor');
      return null;
    }
    return { name, policyModelId: Number(policyId), datasetVersionId: Number(versionId), executorId: Number(executorId), plan };
  }

  async function showPreview() {
    const data = input();
    if (!data) return;
    try {
      const result = await queryClient.fetchQuery(trpc.rounds.preview.queryOptions(data as never));
      setPreview(result.stages as never);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const data = input();
    if (data) launch.mutate(data as never);
  }

  /** A changed input makes the shown preview stale: it goes until asked for again. */
  function edit(set: (value: string) => void, value: string) {
    set(value);
    setPreview(null);
  }

  function choosePolicy(id: string) {
    setPolicyId(id);
    setPreview(null);
    const policy = policies.find((p) => String(p.id) === id);
    try {
      const plan = JSON.parse(planText) as Record<string, unknown>;
      if (!policy) return;
      // The blanks of the default plan get values from the policy; whatever the admin wrote stays.
      const register = (plan.register ?? {}) as Record<string, unknown>;
      const next = {
        ...plan,
        baseModel: plan.baseModel || (policy.baseModel ?? policy.artifactUri ?? ''),
        register: { ...register, name: register.name || `${policy.name}-next` },
      };
      setPlanText(JSON.stringify(next, null, 2));
    } catch {
      // the admin's text stays as it is
    }
  }

  return (
    <form onSubmit={submit} className="space-y-3 rounded border border-slate-200 p-4">
      <h2 className="font-semibold">Launch a round</h2>
      <div className="grid gap-3 sm:grid-cols-2">
        <label className="text-sm">
          Name
          <input className={inputClass} value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label className="text-sm">
          Starting policy
          <select className={inputClass} value={policyId} onChange={(e) => choosePolicy(e.target.value)}>
            <option value="">{modelsList.isPending ? 'loading…' : 'choose…'}</option>
            {policies.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name} ({p.serving})
              </option>
            ))}
          </select>
          {modelsList.isSuccess && !policies.length ? (
            <span className={hintClass}>
              No policy models yet: register one in the{' '}
              <Link className="underline" href="/admin/models">
                model registry
              </Link>
              .
            </span>
          ) : null}
        </label>
        <label className="text-sm">
          Preference dataset version
          <select className={inputClass} value={versionId} onChange={(e) => edit(setVersionId, e.target.value)}>
            <option value="">{versions.isPending ? 'loading…' : 'choose…'}</option>
            {preferenceVersions.map((v) => (
              <option key={v.id} value={v.id}>
                #{v.id} {v.name}
              </option>
            ))}
          </select>
          {versions.isSuccess && !preferenceVersions.length ? (
            <span className={hintClass}>
              No built preference version yet: build one under{' '}
              <Link className="underline" href="/admin/datasets">
                Datasets
              </Link>
              .
            </span>
          ) : null}
        </label>
        <label className="text-sm">
          Executor
          <select className={inputClass} value={executorId} onChange={(e) => edit(setExecutorId, e.target.value)}>
            <option value="">{executorsList.isPending ? 'loading…' : 'choose…'}</option>
            {(executorsList.data ?? []).map((x: { id: number; name: string; kind: string }) => (
              <option key={x.id} value={x.id}>
                {x.name} ({x.kind})
              </option>
            ))}
          </select>
          {executorsList.isSuccess && !executorsList.data.length ? (
            <span className={hintClass}>
              No executors yet: add one with <code>npm run cli -- executor add</code>.
            </span>
          ) : null}
        </label>
      </div>
      <label className="block text-sm">
        Plan (Llama 3 defaults; each stage’s <code>config</code> holds your changes to the generated config, <code>null</code> removes a key)
        <textarea className={`${inputClass} h-72 font-mono text-xs`} value={planText} onChange={(e) => edit(setPlanText, e.target.value)} spellCheck={false} />
      </label>
      {error ? (
        <p role="alert" className="whitespace-pre-wrap break-words text-sm text-red-700">
          {error}
        </p>
      ) : null}
      <div className="flex gap-2">
        <button type="button" className={buttonClass} onClick={() => void showPreview()}>
          Preview configs and commands
        </button>
        <button type="submit" className={buttonClass} disabled={launch.isPending}>
          Launch
        </button>
      </div>
      {preview ? (
        <ol className="space-y-3">
          {preview.map((stage) => (
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
      ) : null}
    </form>
  );
}

/** A run's log tail as plain text; while the run is active it stays scrolled to the newest lines. */
function LogTail({ text, live, failed }: { text: string; live: boolean; failed: boolean }) {
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const pre = ref.current;
    if (pre && live) pre.scrollTop = pre.scrollHeight;
  }, [text, live]);
  return (
    <details open={live || failed}>
      <summary className="cursor-pointer text-sm">Log (tail){live ? ' · following' : ''}</summary>
      <pre ref={ref} className="max-h-72 overflow-auto whitespace-pre-wrap break-words rounded bg-slate-900 p-2 text-xs text-slate-100">
        {text}
      </pre>
    </details>
  );
}

function RoundDetail({ id }: { id: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const detail = useQuery({
    ...trpc.rounds.get.queryOptions({ round: id }),
    // Logs and metrics follow the run while it is active.
    // A cancelled round's run stays active until the executor has stopped it: followed until then too.
    refetchInterval: (query) => {
      const data = query.state.data;
      if (!data) return false;
      return data.status === 'running' || data.runs.some((r) => activeRunStatuses.includes(r.status)) ? 2000 : false;
    },
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.rounds.get.queryKey({ round: id }) });
    void queryClient.invalidateQueries({ queryKey: trpc.rounds.list.queryKey() });
  };
  const cancel = useMutation(trpc.rounds.cancel.mutationOptions({ onSuccess: refresh }));
  const retry = useMutation(trpc.rounds.retry.mutationOptions({ onSuccess: refresh }));
  const round = detail.data;
  if (detail.isError && !round) return <p className="text-sm text-red-700">Round {id} could not be loaded: {detail.error.message}</p>;
  if (!round) return <p className="text-sm text-slate-600">Loading round {id}…</p>;
  return (
    <section className="space-y-4">
      <div className="flex flex-wrap items-center gap-3">
        <h2 className="text-lg font-semibold">
          {round.name} <Status status={round.status} />
        </h2>
        <span className="text-sm text-slate-600">{round.gpuHours.toFixed(2)} GPU-hours</span>
        {round.status === 'running' ? (
          <button
            className={buttonClass}
            onClick={() => {
              if (window.confirm(`Cancel round “${round.name}”? The active run is stopped on the executor.`)) cancel.mutate({ round: id });
            }}
            disabled={cancel.isPending}
          >
            Cancel
          </button>
        ) : null}
        {round.status === 'failed' || round.status === 'cancelled' ? (
          <button className={buttonClass} onClick={() => retry.mutate({ round: id })} disabled={retry.isPending}>
            Retry stage {round.currentStage + 1} ({round.stages[round.currentStage]})
          </button>
        ) : null}
      </div>
      {cancel.error || retry.error ? (
        <p role="alert" className="whitespace-pre-wrap break-words text-sm text-red-700">
          {(cancel.error ?? retry.error)?.message}
        </p>
      ) : null}
      {round.error && !round.runs.some((r) => r.stage === round.currentStage && r.error === round.error) ? <p className="whitespace-pre-wrap break-words text-sm text-red-700">{round.error}</p> : null}
      <ol className="flex flex-wrap items-center gap-1 text-sm" aria-label="Stages">
        {round.stages.map((kind, index) => {
          const run = round.runs.find((r) => r.stage === index);
          return (
            <li key={`${index}-${kind}`} className="flex items-center gap-1">
              <span className={`rounded border px-2 py-1 ${index === round.currentStage ? 'border-slate-800' : 'border-slate-200'}`}>
                {kind} <Status status={run?.status ?? 'planned'} />
              </span>
              {index < round.stages.length - 1 ? <span aria-hidden>→</span> : null}
            </li>
          );
        })}
      </ol>
      {round.runs.map((run) => {
        const spec = run.spec as { command?: string[]; configYaml?: string };
        const series = (run.training?.series ?? []).filter((s) => chartedMetrics.includes(s.name));
        const evaluation = (run.metrics as { eval?: unknown }).eval;
        return (
          <article key={run.id} className="space-y-2 rounded border border-slate-200 p-3">
            <h3 className="flex flex-wrap items-center gap-x-2 gap-y-1 font-medium">
              Run {run.id} · {run.kind} <Status status={run.status} /> <span className="text-xs text-slate-600">attempt {run.attempt} · {run.gpuHours.toFixed(3)} GPU-hours{run.externalId ? ` · ${run.externalId}` : ''}</span>
            </h3>
            {run.error ? <p className="whitespace-pre-wrap break-words text-sm text-red-700">{run.error}</p> : null}
            {spec.command ? <pre className="overflow-x-auto rounded bg-slate-50 p-2 text-xs">{spec.command.join(' ')}</pre> : null}
            {spec.configYaml ? (
              <details>
                <summary className="cursor-pointer text-sm">config.yaml</summary>
                <pre className="max-h-64 overflow-auto rounded bg-slate-50 p-2 text-xs">{spec.configYaml}</pre>
              </details>
            ) : null}
            {series.length ? (
              <div className="grid gap-2 sm:grid-cols-2 lg:grid-cols-3">
                {series.map((s) => (
                  <MetricChart key={s.name} name={s.name} points={s.points} />
                ))}
              </div>
            ) : spec.command && (run.status === 'running' || run.status === 'submitted') ? (
              <p className="text-sm text-slate-600">No training metrics yet: they are read from the trainer’s trainer_state.json once it is written; the log below shows the progress meanwhile.</p>
            ) : null}
            {evaluation && typeof evaluation === 'object' ? <EvalSummary evaluation={evaluation as Record<string, unknown>} /> : null}
            {run.outputVersionId ? (
              <p className="text-sm">
                Wrote dataset version{' '}
                <Link className="underline" href={`/admin/datasets/${run.outputVersionId}`}>
                  #{run.outputVersionId}
                </Link>
              </p>
            ) : null}
            {run.outputModel ? (
              <p className="text-sm">
                Registered: {run.outputModel.name} ({run.outputModel.kind}, {run.outputModel.serving})
              </p>
            ) : null}
            {run.logTail ? <LogTail text={run.logTail} live={run.status === 'running' || run.status === 'submitted'} failed={run.status === 'failed'} /> : null}
            {run.artifacts.length ? (
              <details>
                <summary className="cursor-pointer text-sm">Artifacts ({run.artifacts.length})</summary>
                <ul className="text-xs">
                  {run.artifacts.map((a) => (
                    <li key={a.key}>
                      <code>{a.uri}</code> · {a.bytes} bytes
                    </li>
                  ))}
                </ul>
              </details>
            ) : null}
          </article>
        );
      })}
    </section>
  );
}

/** Training rounds for platform admins: launch with the exact configs shown, follow stages, logs and metrics. */
export function RoundsAdmin() {
  const trpc = useTRPC();
  const list = useQuery({ ...trpc.rounds.list.queryOptions(), refetchInterval: 5000 });
  const [selected, setSelected] = useState<number | null>(null);
  const cell = 'py-1.5 pr-4 align-middle';
  return (
    <main className="mx-auto max-w-6xl space-y-6 p-6">
      <div className="flex items-baseline justify-between">
        <h1 className="text-2xl font-semibold">Training rounds</h1>
        <Link href="/admin/models" className="text-sm underline">
          Model registry
        </Link>
      </div>
      <section>
        <h2 className="mb-2 font-semibold">Rounds</h2>
        {list.isPending ? (
          <p className="text-sm text-slate-600">Loading rounds…</p>
        ) : list.isError && !list.data ? (
          <p className="text-sm text-red-700">Rounds could not be loaded: {list.error.message}</p>
        ) : list.data.length ? (
          <div className="overflow-x-auto">
            <table className="w-full text-sm">
              <thead>
                <tr className="text-left text-slate-600">
                  <th className={cell}>Name</th>
                  <th className={cell}>Status</th>
                  <th className={cell}>Stage</th>
                  <th className={`${cell} text-right`}>GPU-hours</th>
                  <th className={cell}>Started</th>
                  <th className={cell}>Finished</th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((r) => (
                  <tr key={r.id} className={`cursor-pointer border-t border-slate-100 hover:bg-slate-50 ${selected === r.id ? 'bg-slate-100' : ''}`} onClick={() => setSelected(r.id)}>
                    <td className={`${cell} max-w-xs break-words`}>
                      <button type="button" className="text-left underline" onClick={() => setSelected(r.id)} aria-pressed={selected === r.id}>
                        {r.name}
                      </button>
                    </td>
                    <td className={cell}>
                      <Status status={r.status} />
                    </td>
                    <td className={cell}>
                      {Math.min(r.currentStage + 1, r.stages.length)}/{r.stages.length} {r.stages[r.currentStage] ?? ''}
                    </td>
                    <td className={`${cell} text-right tabular-nums`}>{r.gpuHours.toFixed(2)}</td>
                    <td className={`${cell} whitespace-nowrap`}>{r.startedAt ? new Date(r.startedAt).toLocaleString() : '–'}</td>
                    <td className={`${cell} whitespace-nowrap`}>{r.finishedAt ? new Date(r.finishedAt).toLocaleString() : '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="text-sm text-slate-600">No rounds yet: launch one below.</p>
        )}
      </section>
      {selected ? <RoundDetail id={selected} /> : null}
      <LaunchForm onLaunched={setSelected} />
    </main>
  );
}
