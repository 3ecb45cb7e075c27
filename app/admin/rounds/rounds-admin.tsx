'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import dynamic from 'next/dynamic';
import Link from 'next/link';
import { useEffect, useRef, useState } from 'react';
import { useTRPC } from '@/app/_trpc/client';
import { LaunchForm } from './launch-form';
import { GateBadge, HeldOutAccuracy, RegisterAnyway, StageError, type TGate } from './run-results';

// chart.js only loads when a run with metrics is shown.
const MetricChart = dynamic(() => import('./metric-chart').then((m) => m.MetricChart), { ssr: false, loading: () => <div className="h-36" /> });

const buttonClass = 'rounded bg-slate-800 px-3 py-1.5 text-sm text-white disabled:opacity-50';

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
  const roundStatus = round?.status;
  // The list polls slowly: it hears of a change the detail saw (a retry ran, the round ended) at once.
  useEffect(() => {
    if (roundStatus) void queryClient.invalidateQueries({ queryKey: trpc.rounds.list.queryKey() });
  }, [roundStatus, queryClient, trpc]);
  const failedRun = round?.status === 'failed' ? round.runs.filter((r) => r.stage === round.currentStage).at(-1) : undefined;
  // The register stage refused because the gate did not pass: the one failure an admin may overrule.
  const gateFailed = failedRun?.kind === 'register' && failedRun.status === 'failed' && /gate did not pass/.test(failedRun.error ?? '');
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
        {(round.status === 'failed' || round.status === 'cancelled') && !gateFailed ? (
          <button className={buttonClass} onClick={() => retry.mutate({ round: id })} disabled={retry.isPending}>
            Retry stage {round.currentStage + 1} ({round.stages[round.currentStage]})
          </button>
        ) : null}
      </div>
      {gateFailed ? (
        <div className="space-y-2 rounded border border-amber-200 p-3">
          <p className="text-sm">
            Evaluation did not find the new policy better than the one the round started from, so it was not registered. An admin can register it anyway, with a
            reason that is recorded with the model.
          </p>
          <RegisterAnyway pending={retry.isPending} error={retry.error?.message ?? null} onConfirm={(reason) => retry.mutate({ round: id, gateOverrideReason: reason })} />
        </div>
      ) : null}
      {cancel.error || (retry.error && !gateFailed) ? (
        <p role="alert" className="whitespace-pre-wrap break-words text-sm text-red-700">
          {(cancel.error ?? retry.error)?.message}
        </p>
      ) : null}
      {round.error && !round.runs.some((r) => r.stage === round.currentStage && r.error === round.error) ? <StageError kind={round.stages[round.currentStage] ?? 'current'} error={round.error} /> : null}
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
        const metrics = run.metrics as { eval?: unknown; heldOut?: unknown; gate?: unknown };
        const evaluation = metrics.eval;
        const evalGate = evaluation && typeof evaluation === 'object' ? (evaluation as { gate?: unknown }).gate : undefined;
        // The register stage writes the gate it applied (with any override) into its own metrics.
        const gate = (run.kind === 'register' ? metrics.gate : evalGate) as TGate | undefined;
        const heldOut = run.kind === 'reward' && metrics.heldOut && typeof metrics.heldOut === 'object' ? (metrics.heldOut as Parameters<typeof HeldOutAccuracy>[0]['heldOut']) : null;
        return (
          <article key={run.id} className="space-y-2 rounded border border-slate-200 p-3">
            <h3 className="flex flex-wrap items-center gap-x-2 gap-y-1 font-medium">
              Run {run.id} · {run.kind} <Status status={run.status} /> <span className="text-xs text-slate-600">attempt {run.attempt} · {run.gpuHours.toFixed(3)} GPU-hours{run.externalId ? ` · ${run.externalId}` : ''}</span>
            </h3>
            {run.error ? <StageError kind={run.kind} error={run.error} /> : null}
            {gate && typeof gate === 'object' ? <GateBadge gate={gate} /> : null}
            {heldOut ? <HeldOutAccuracy runId={run.id} heldOut={heldOut} /> : null}
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
export function RoundsAdmin({ initialRound = null }: { initialRound?: number | null }) {
  const trpc = useTRPC();
  const list = useQuery({ ...trpc.rounds.list.queryOptions(), refetchInterval: 5000 });
  const [selected, setSelected] = useState<number | null>(initialRound);
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
      {selected ? <RoundDetail key={selected} id={selected} /> : null}
      <LaunchForm onLaunched={setSelected} />
    </main>
  );
}
