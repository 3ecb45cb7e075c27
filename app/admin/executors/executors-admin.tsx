'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useState } from 'react';
import { useTRPC } from '@/app/_trpc/client';
import type { TConnectionResult, TExecutorInfo } from '@/server/executors/executors';
import { ExecutorForm } from './executor-form';
import { ConnectionResult, ExecutorRuns, formatGpuHours } from './executor-panels';

const smallButton = 'rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50 disabled:opacity-40';

type TTest = { pending: boolean; result?: TConnectionResult; error?: string };

/**
 * Platform admins: where GPU work runs. Each executor with what its runs used (GPU-hours over 7
 * and 30 days and all time, active runs), the variables it needs, add/edit/enable/disable/delete,
 * a connection test that contacts the engine (checks and queues), and its recent runs.
 */
export function ExecutorsAdmin({ kinds }: { kinds: string[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.executors.list.queryOptions());
  const usage = useQuery(trpc.executors.usage.queryOptions());
  const refresh = () =>
    Promise.all([queryClient.invalidateQueries({ queryKey: trpc.executors.list.queryKey() }), queryClient.invalidateQueries({ queryKey: trpc.executors.usage.queryKey() })]);
  const update = useMutation(trpc.executors.update.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.executors.delete.mutationOptions({ onSuccess: refresh }));
  const testConnection = useMutation(trpc.executors.testConnection.mutationOptions());

  const [form, setForm] = useState<{ editing: TExecutorInfo | null } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [confirmingDelete, setConfirmingDelete] = useState<number | null>(null);
  const [rowErrors, setRowErrors] = useState<Record<number, string>>({});
  const [tests, setTests] = useState<Record<number, TTest>>({});
  const [runsOpen, setRunsOpen] = useState<Record<number, boolean>>({});

  const usageOf = (id: number) => usage.data?.find((u) => u.executorId === id);
  const setRowError = (id: number, message: string | null) =>
    setRowErrors((all) => {
      const next = { ...all };
      if (message) next[id] = message;
      else delete next[id];
      return next;
    });

  const openForm = (editing: TExecutorInfo | null) => {
    setDone(null);
    setForm({ editing });
  };

  const toggle = (e: TExecutorInfo) => {
    setDone(null);
    setRowError(e.id, null);
    update.mutate(
      { id: e.id, enabled: !e.enabled },
      { onSuccess: (saved) => setDone(`${saved.enabled ? 'Enabled' : 'Disabled'} ${saved.name}.`), onError: (error) => setRowError(e.id, error.message) },
    );
  };

  const destroy = (e: TExecutorInfo) => {
    setDone(null);
    setRowError(e.id, null);
    remove.mutate(
      { id: e.id },
      {
        onSuccess: () => setDone(`Deleted ${e.name}.`),
        onError: (error) => setRowError(e.id, error.message),
        onSettled: () => setConfirmingDelete(null),
      },
    );
  };

  const test = async (e: TExecutorInfo) => {
    setTests((all) => ({ ...all, [e.id]: { pending: true } }));
    try {
      const result = await testConnection.mutateAsync({ id: e.id });
      setTests((all) => ({ ...all, [e.id]: { pending: false, result } }));
    } catch (error) {
      setTests((all) => ({ ...all, [e.id]: { pending: false, error: (error as Error).message } }));
    }
  };

  return (
    <main className="mx-auto max-w-6xl space-y-6 px-4 py-8">
      <div className="flex items-baseline justify-between gap-4">
        <h1 className="text-2xl font-semibold">Executors</h1>
        {!form ? (
          <button type="button" onClick={() => openForm(null)} className="rounded bg-slate-900 px-3 py-1.5 text-sm font-medium text-white">
            Add executor
          </button>
        ) : null}
      </div>
      <p className="text-sm text-slate-600">
        Where rounds run their GPU work: a process on the worker&apos;s host, a Ray cluster, Kubernetes Jobs or a Slurm cluster. The connection test runs from this
        web server; the worker is what submits, so a variable missing here may still be set there. GPU-hours are what the engines reported for each run (a run
        counts in the window in which it ended; a running one counts up to now).
      </p>

      {form ? (
        <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="executor-form-title">
          <h2 id="executor-form-title" className="mb-3 font-semibold">
            {form.editing ? `Edit ${form.editing.name}` : 'Add an executor'}
          </h2>
          <ExecutorForm
            key={form.editing?.id ?? 'new'}
            kinds={kinds}
            editing={form.editing}
            onCancel={() => setForm(null)}
            onSaved={(message) => {
              setForm(null);
              setDone(message);
              void refresh();
            }}
          />
        </section>
      ) : null}

      <section className="rounded-lg border border-slate-200 bg-white p-4">
        {list.error ? (
          <p role="alert" className="text-sm text-red-700">
            {list.error.message}
          </p>
        ) : null}
        {usage.error ? (
          <p role="alert" className="text-sm text-red-700">
            GPU-hours: {usage.error.message}
          </p>
        ) : null}
        <p role="status" className="mb-2 text-sm text-green-800 empty:mb-0">
          {done ?? ''}
        </p>
        {list.data && list.data.length === 0 ? <p className="text-sm text-slate-500">No executors yet: add one to run rounds.</p> : null}
        {list.data && list.data.length > 0 ? (
          <table className="w-full text-sm [&_td]:px-2 [&_td]:py-1.5 [&_td:first-child]:pl-0 [&_th]:px-2 [&_th]:py-1 [&_th:first-child]:pl-0">
            <thead className="text-left align-bottom whitespace-nowrap text-slate-500">
              <tr>
                <th scope="col" rowSpan={2}>
                  Name
                </th>
                <th scope="col" rowSpan={2}>
                  Kind
                </th>
                <th scope="col" rowSpan={2}>
                  Status
                </th>
                <th scope="colgroup" colSpan={3} className="text-center font-medium">
                  GPU-hours
                </th>
                <th scope="col" rowSpan={2} className="text-right">
                  Active runs
                </th>
                <th scope="col" rowSpan={2}>
                  Variables
                </th>
                <th scope="col" rowSpan={2}>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
              <tr className="text-xs">
                <th scope="col" className="text-right font-normal">
                  7 days
                </th>
                <th scope="col" className="text-right font-normal">
                  30 days
                </th>
                <th scope="col" className="text-right font-normal">
                  all time
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((e) => {
                const u = usageOf(e.id);
                const t = tests[e.id];
                const open = runsOpen[e.id] ?? false;
                return (
                  <Fragment key={e.id}>
                    <tr className="border-t border-slate-100 align-top" data-executor={e.name}>
                      <td className="font-medium whitespace-nowrap">{e.name}</td>
                      <td>{e.kind}</td>
                      <td>
                        {e.enabled ? (
                          <span className="rounded bg-green-50 px-1.5 py-0.5 text-xs text-green-800">enabled</span>
                        ) : (
                          <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">disabled</span>
                        )}
                      </td>
                      <td className="text-right tabular-nums">{u ? formatGpuHours(u.gpuHours7d) : ''}</td>
                      <td className="text-right tabular-nums">{u ? formatGpuHours(u.gpuHours30d) : ''}</td>
                      <td className="text-right tabular-nums">{u ? formatGpuHours(u.gpuHoursTotal) : ''}</td>
                      <td className="text-right tabular-nums" title={u ? `${u.runs.total} run(s) in all` : undefined}>
                        {u ? u.runs.active : ''}
                      </td>
                      <td className="text-xs">
                        {e.missingEnv.length ? (
                          <span className="text-amber-800" title="The worker needs these variables; this web server does not have them.">
                            ⚠ not set here: <code>{e.missingEnv.map((n) => `$${n}`).join(' ')}</code>
                          </span>
                        ) : e.secretEnv.length ? (
                          <span className="text-slate-600">
                            <code>{e.secretEnv.map((n) => `$${n}`).join(' ')}</code> set
                          </span>
                        ) : (
                          <span className="text-slate-400">none</span>
                        )}
                      </td>
                      <td className="text-right">
                        {confirmingDelete === e.id ? (
                          <span className="inline-flex flex-wrap items-center justify-end gap-2">
                            <span className="text-xs text-slate-600">Delete {e.name}? Its finished runs keep their history.</span>
                            <button type="button" disabled={remove.isPending} className="rounded bg-red-700 px-2 py-0.5 text-xs font-medium text-white disabled:opacity-40" onClick={() => destroy(e)}>
                              Delete
                            </button>
                            <button type="button" className="text-xs text-slate-600 hover:text-slate-900" onClick={() => setConfirmingDelete(null)}>
                              Cancel
                            </button>
                          </span>
                        ) : (
                          <span className="inline-flex justify-end gap-1.5 whitespace-nowrap">
                            <button type="button" className={smallButton} aria-label={`Test connection: ${e.name}`} disabled={t?.pending} onClick={() => void test(e)}>
                              {t?.pending ? 'Testing…' : 'Test connection'}
                            </button>
                            <button
                              type="button"
                              className={smallButton}
                              aria-label={`Runs: ${e.name}`}
                              aria-expanded={open}
                              aria-controls={`executor-${e.id}-runs`}
                              onClick={() => setRunsOpen((all) => ({ ...all, [e.id]: !open }))}
                            >
                              Runs
                            </button>
                            <button type="button" className={smallButton} aria-label={`Edit: ${e.name}`} onClick={() => openForm(e)}>
                              Edit
                            </button>
                            <button type="button" className={smallButton} aria-label={`${e.enabled ? 'Disable' : 'Enable'}: ${e.name}`} disabled={update.isPending} onClick={() => toggle(e)}>
                              {e.enabled ? 'Disable' : 'Enable'}
                            </button>
                            <button type="button" className={smallButton} aria-label={`Delete: ${e.name}`} onClick={() => setConfirmingDelete(e.id)}>
                              Delete…
                            </button>
                          </span>
                        )}
                      </td>
                    </tr>
                    {rowErrors[e.id] || t || open ? (
                      <tr>
                        <td colSpan={9} className="space-y-3 pb-3!">
                          {rowErrors[e.id] ? (
                            <p role="alert" className="whitespace-pre-wrap break-words rounded border border-red-200 bg-red-50 p-2 text-sm text-red-800">
                              {rowErrors[e.id]}
                            </p>
                          ) : null}
                          {t && !t.pending ? (
                            <div className="rounded border border-slate-200 bg-slate-50 p-3" aria-label={`Connection test of ${e.name}`} role="region">
                              {t.result ? (
                                <ConnectionResult result={t.result} />
                              ) : (
                                <p role="alert" className="whitespace-pre-wrap break-words text-sm text-red-700">
                                  {t.error}
                                </p>
                              )}
                            </div>
                          ) : null}
                          {open ? (
                            <div id={`executor-${e.id}-runs`} className="rounded border border-slate-200 p-3">
                              <h3 className="mb-2 text-sm font-semibold">Recent runs on {e.name}</h3>
                              <ExecutorRuns executorId={e.id} executorName={e.name} />
                            </div>
                          ) : null}
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        ) : null}
      </section>
    </main>
  );
}
