'use client';

import { useInfiniteQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from '@/app/_trpc/client';
import type { TConnectionResult, TExecutorQueue } from '@/server/executors/executors';

/** GPU-hours as people read them: 0, 0.04, 3.5, 1,240. */
export function formatGpuHours(hours: number): string {
  if (hours === 0) return '0';
  if (hours < 0.1) return hours.toFixed(2);
  return hours.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: hours < 100 ? 1 : 0 });
}

function when(date: Date | null): string {
  return date ? date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '';
}

const dash = <span className="text-slate-400">—</span>;
const pair = (part: number | undefined, whole: number | undefined) => (whole === undefined ? dash : `${part ?? '—'} / ${whole}`);

function QueuesTable({ queues }: { queues: TExecutorQueue[] }) {
  return (
    <table className="mt-3 w-full text-xs [&_td]:px-2 [&_td]:py-1 [&_td:first-child]:pl-0 [&_th]:px-2 [&_th:first-child]:pl-0" aria-label="Queues">
      <thead className="text-left whitespace-nowrap text-slate-500">
        <tr>
          <th scope="col" className="py-1">
            Partition / queue
          </th>
          <th scope="col">State</th>
          <th scope="col">Nodes idle / total</th>
          <th scope="col">GPUs free / total</th>
          <th scope="col">Time limit</th>
          <th scope="col">Jobs running / pending</th>
        </tr>
      </thead>
      <tbody>
        {queues.map((q) => (
          <tr key={q.name} className="border-t border-slate-100">
            <td className="py-1 font-mono">
              {q.name}
              {q.isDefault ? <span className="ml-1 font-sans text-slate-500">(default)</span> : null}
            </td>
            <td>{q.state}</td>
            <td>{pair(q.idleNodes, q.nodes)}</td>
            <td>{pair(q.gpusFree, q.gpus)}</td>
            <td>{q.timeLimit ?? dash}</td>
            <td>{q.running === undefined && q.pending === undefined ? dash : `${q.running ?? '—'} / ${q.pending ?? '—'}`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** What the connection test found: each check with its detail (the engine's own words, shown as text), then the queues. */
export function ConnectionResult({ result }: { result: TConnectionResult }) {
  return (
    <div data-testid="connection-result">
      <p role="status" className={`text-sm font-medium ${result.ok ? 'text-green-800' : 'text-red-700'}`}>
        {result.ok ? 'Every check passed.' : 'Some checks failed.'}
      </p>
      <ul className="mt-2 space-y-1 text-sm">
        {result.checks.map((c, i) => (
          <li key={`${c.check}-${i}`} className="flex items-start gap-2">
            <span className={`shrink-0 rounded px-1.5 py-0.5 text-xs ${c.ok ? 'bg-green-50 text-green-800' : 'bg-red-50 text-red-800'}`}>{c.ok ? 'ok' : 'failed'}</span>
            <span className="shrink-0 font-medium">{c.check}</span>
            <span className="min-w-0 whitespace-pre-wrap break-words text-slate-700">{c.detail}</span>
          </li>
        ))}
      </ul>
      {result.queues?.length ? <QueuesTable queues={result.queues} /> : null}
    </div>
  );
}

const statusClass: Record<string, string> = {
  succeeded: 'bg-green-50 text-green-800',
  failed: 'bg-red-50 text-red-800',
  running: 'bg-blue-50 text-blue-800',
  submitted: 'bg-blue-50 text-blue-800',
  cancelled: 'bg-slate-100 text-slate-600',
  pending: 'bg-slate-100 text-slate-600',
};

/** One executor's runs, newest first, ten at a time, with the GPU-hours each used. */
export function ExecutorRuns({ executorId, executorName }: { executorId: number; executorName: string }) {
  const trpc = useTRPC();
  const runs = useInfiniteQuery(trpc.executors.recentRuns.infiniteQueryOptions({ executorId, limit: 10 }, { getNextPageParam: (page) => page.nextCursor ?? undefined }));
  const rows = runs.data?.pages.flatMap((p) => p.items) ?? [];
  if (runs.error)
    return (
      <p role="alert" className="text-sm text-red-700">
        {runs.error.message}
      </p>
    );
  if (runs.isPending) return <p className="text-sm text-slate-500">Loading runs…</p>;
  if (rows.length === 0) return <p className="text-sm text-slate-500">No runs on {executorName} yet.</p>;
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-xs [&_td]:px-2 [&_td]:py-1 [&_td:first-child]:pl-0 [&_th]:px-2 [&_th:first-child]:pl-0" aria-label={`Runs on ${executorName}`}>
        <thead className="text-left whitespace-nowrap text-slate-500">
          <tr>
            <th scope="col" className="py-1">
              Run
            </th>
            <th scope="col">Round</th>
            <th scope="col">Kind</th>
            <th scope="col">Status</th>
            <th scope="col">Attempt</th>
            <th scope="col">External id</th>
            <th scope="col" className="text-right">
              GPU-hours
            </th>
            <th scope="col">Started</th>
            <th scope="col">Finished</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} className="border-t border-slate-100 align-top">
              <td className="py-1">#{r.id}</td>
              <td>
                {r.roundId ? (
                  <Link href={`/admin/rounds?round=${r.roundId}`} className="text-blue-700 underline">
                    {r.roundName ?? `round ${r.roundId}`}
                  </Link>
                ) : (
                  dash
                )}
                {r.stage !== null ? <span className="ml-1 whitespace-nowrap text-slate-500">stage {r.stage}</span> : null}
              </td>
              <td>{r.kind}</td>
              <td>
                <span className={`rounded px-1.5 py-0.5 ${statusClass[r.status] ?? ''}`}>{r.status}</span>
              </td>
              <td>{r.attempt}</td>
              <td className="font-mono whitespace-nowrap">{r.externalId ?? dash}</td>
              <td className="text-right tabular-nums">{formatGpuHours(r.gpuHours)}</td>
              <td className="whitespace-nowrap">{r.startedAt ? when(r.startedAt) : dash}</td>
              <td className="whitespace-nowrap">{r.finishedAt ? when(r.finishedAt) : dash}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {runs.hasNextPage ? (
        <button type="button" disabled={runs.isFetchingNextPage} onClick={() => void runs.fetchNextPage()} className="mt-2 rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50 disabled:opacity-40">
          {runs.isFetchingNextPage ? 'Loading…' : 'Older runs'}
        </button>
      ) : null}
    </div>
  );
}
