'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import type { inferRouterOutputs } from '@trpc/server';
import { useTRPC } from '@/app/_trpc/client';
import type { TAppRouter } from '@/server/root';

type TDataStats = inferRouterOutputs<TAppRouter>['dataStats']['get'];
type TRow = TDataStats['total'];

/** How long the table polls for the worker after "Count tokens" before saying it is still waiting. */
const WAIT_FOR_WORKER_MS = 120_000;

const decimal = (n: number | null) => (n === null ? '–' : n.toLocaleString(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 }));

/** Llama 3's preference-data table (overall and per topic), with the "Count tokens" job. */
export function DataStatsTable({ project }: { project: string }) {
  const trpc = useTRPC();
  const count = useMutation(trpc.dataStats.countTokens.mutationOptions());
  // When the last "Count tokens" was queued (tanstack records it), null before any.
  const countingSince = count.isSuccess ? count.submittedAt : null;
  const stats = useQuery({
    ...trpc.dataStats.get.queryOptions({ project }),
    // Poll while the job the button queued has rows left to fill.
    refetchInterval: (query) => {
      const left = query.state.data ? query.state.data.uncounted.prompts + query.state.data.uncounted.responses : 0;
      return countingSince !== null && left > 0 && query.state.dataUpdatedAt - countingSince < WAIT_FOR_WORKER_MS ? 1500 : false;
    },
  });
  const data = stats.data;
  const uncounted = data ? data.uncounted.prompts + data.uncounted.responses : 0;
  const waitingTooLong = countingSince !== null && uncounted > 0 && stats.dataUpdatedAt - countingSince >= WAIT_FOR_WORKER_MS;
  const counting = countingSince !== null && uncounted > 0 && !waitingTooLong;

  return (
    <section aria-labelledby="data-stats-heading" className="rounded-lg border border-slate-200 bg-white p-4 lg:col-span-2">
      <div className="mb-3 flex flex-wrap items-center gap-3">
        <h2 id="data-stats-heading" className="font-semibold">
          Data statistics
        </h2>
        {data && (
          <span className="text-xs text-slate-500" data-tokenizer-kind={data.tokenizer.kind}>
            {data.tokenizer.kind === 'approximate' ? (
              <>
                Approximate token counts (ceil(characters / 4)); set <code>PAIRWISE_TOKENIZER</code> for a real tokenizer.
              </>
            ) : (
              <>
                Tokenizer: <code>{data.tokenizer.name}</code>
              </>
            )}
          </span>
        )}
        <button
          type="button"
          onClick={() => count.mutate({ project })}
          disabled={count.isPending || counting}
          className="ml-auto rounded bg-slate-900 px-3 py-1.5 text-sm font-medium text-white disabled:opacity-40"
        >
          Count tokens
        </button>
      </div>
      {stats.error && <p className="text-sm text-red-700">{stats.error.message}</p>}
      {count.error && (
        <p className="mb-2 text-sm text-red-700" role="alert">
          {count.error.message}
        </p>
      )}
      {!data && !stats.error && <p className="text-sm text-slate-500">Loading…</p>}
      {data && (
        <>
          <div className="overflow-x-auto">
            <table className="w-full text-sm tabular-nums">
              <thead className="text-left text-slate-500">
                <tr className="align-bottom">
                  <th className="pr-3 pb-1 font-medium">Topic</th>
                  <th className="pr-3 pb-1 text-right font-medium">Comparisons</th>
                  <th className="pr-3 pb-1 text-right font-medium">% of comparisons</th>
                  <th className="pr-3 pb-1 text-right font-medium">Avg. # turns per dialog</th>
                  <th className="pr-3 pb-1 text-right font-medium">Avg. # tokens per example</th>
                  <th className="pr-3 pb-1 text-right font-medium">Avg. # tokens in prompt</th>
                  <th className="pb-1 text-right font-medium">Avg. # tokens per response</th>
                </tr>
              </thead>
              <tbody>
                {data.byTopic.map((row) => (
                  <StatsRow key={row.topic ?? '(none)'} row={row} label={row.topic ?? '(no topic)'} />
                ))}
                <StatsRow row={data.total} label="Total" strong />
              </tbody>
            </table>
          </div>
          <p className="mt-2 text-xs text-slate-500" role="status">
            {uncounted === 0
              ? data.total.comparisons === 0
                ? 'No comparisons yet.'
                : 'Every prompt and response is counted.'
              : `${data.uncounted.prompts.toLocaleString()} prompt(s) and ${data.uncounted.responses.toLocaleString()} response(s) not counted yet; token averages cover the ${data.total.countedComparisons.toLocaleString()} fully counted comparison(s).`}
            {counting && ' Counting…'}
            {waitingTooLong && ' Still waiting for the worker: is it running?'}
          </p>
        </>
      )}
    </section>
  );
}

function StatsRow({ row, label, strong }: { row: TRow; label: string; strong?: boolean }) {
  return (
    <tr className={`border-t border-slate-100 ${strong ? 'font-semibold' : ''}`}>
      <td className="py-1.5 pr-3">{label}</td>
      <td className="pr-3 text-right">{row.comparisons.toLocaleString()}</td>
      <td className="pr-3 text-right">{(100 * row.share).toFixed(1)}%</td>
      <td className="pr-3 text-right">{decimal(row.avgTurns)}</td>
      <td className="pr-3 text-right">{decimal(row.avgTokensPerExample)}</td>
      <td className="pr-3 text-right">{decimal(row.avgPromptTokens)}</td>
      <td className="text-right">{decimal(row.avgResponseTokens)}</td>
    </tr>
  );
}
