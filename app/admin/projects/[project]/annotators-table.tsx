'use client';

import { useQuery } from '@tanstack/react-query';
import dynamic from 'next/dynamic';
import { Fragment, useMemo, useState } from 'react';
import { flagExplanation, flagLabels, percent, pValue, seconds, type TThresholds } from '@/app/_components/annotator-figures';
import { useTRPC } from '@/app/_trpc/client';
import { strengthLabels, strengths, type TStrength } from '@/server/annotation/strengths';
import type { TAnnotatorStats } from '@/server/quality/annotator-stats';

const chartBox = <div className="h-full animate-pulse rounded bg-slate-100" />;
const StrengthBars = dynamic(() => import('@/app/_components/annotator-charts').then((m) => m.StrengthBars), { ssr: false, loading: () => chartBox });
const PerDayBars = dynamic(() => import('@/app/_components/annotator-charts').then((m) => m.PerDayBars), { ssr: false, loading: () => chartBox });

const shortStrength: Record<TStrength, string> = { significantly_better: 'significant', better: 'better', slightly_better: 'slight', marginally_better: 'marginal' };

/** The most used strength level and its share of the annotator's rated judgments. */
function topStrength(s: TAnnotatorStats): { label: string; share: number } | null {
  const rated = strengths.reduce((sum, level) => sum + s.strengths[level], 0);
  if (!rated) return null;
  const top = strengths.reduce((best, level) => (s.strengths[level] > s.strengths[best] ? level : best), strengths[0]);
  return { label: shortStrength[top], share: s.strengths[top] / rated };
}

interface TColumn {
  key: string;
  label: string;
  title?: string;
  /** The sort value; null sorts last in either direction. */
  value: (s: TAnnotatorStats) => number | string | null;
  render: (s: TAnnotatorStats) => React.ReactNode;
  numeric?: boolean;
}

const columns: TColumn[] = [
  { key: 'email', label: 'Annotator', value: (s) => s.email, render: (s) => s.email },
  { key: 'judgments', label: 'Judged', numeric: true, value: (s) => s.judgments, render: (s) => s.judgments.toLocaleString() },
  { key: 'today', label: 'Today', numeric: true, value: (s) => s.today, render: (s) => s.today.toLocaleString() },
  { key: 'median', label: 'Median time', numeric: true, value: (s) => s.medianTimeMs, render: (s) => seconds(s.medianTimeMs) },
  {
    key: 'left',
    label: 'Left',
    title: 'Share of pair judgments that chose the response shown on the left; p: exact two-sided binomial test against 50%',
    numeric: true,
    value: (s) => s.position.leftRate,
    render: (s) =>
      s.position.pairs ? (
        <span title={`${s.position.left} of ${s.position.pairs} pairs`}>
          {percent(s.position.leftRate)}
          <span className="block text-xs text-slate-500">p {pValue(s.position.pValue)}</span>
        </span>
      ) : (
        '–'
      ),
  },
  {
    key: 'strength',
    label: 'Strength',
    title: 'The most used strength level and its share of the judgments with a strength',
    numeric: true,
    value: (s) => topStrength(s)?.share ?? null,
    render: (s) => {
      const top = topStrength(s);
      return top ? (
        <span title={strengths.map((l) => `${strengthLabels[l]}: ${s.strengths[l]}`).join('\n')}>
          {percent(top.share)}
          <span className="block text-xs text-slate-500">{top.label}</span>
        </span>
      ) : (
        '–'
      );
    },
  },
  { key: 'edits', label: 'Edits', title: 'Share of judgments with an edit', numeric: true, value: (s) => s.editRate, render: (s) => percent(s.editRate) },
  { key: 'skips', label: 'Skips', numeric: true, value: (s) => s.skips, render: (s) => s.skips.toLocaleString() },
  {
    key: 'gold',
    label: 'Gold',
    numeric: true,
    value: (s) => s.gold?.accuracy ?? null,
    render: (s) =>
      s.gold ? (
        <span title={`${s.gold.correct} of ${s.gold.answered} gold items correct`}>
          {percent(s.gold.accuracy)}
          <span className="block text-xs text-slate-500">of {s.gold.answered}</span>
        </span>
      ) : (
        '–'
      ),
  },
  {
    key: 'agreement',
    label: 'Agreement',
    title: "Share of (their choice, another annotator's choice on the same comparison) pairs that agree",
    numeric: true,
    value: (s) => s.agreement.rate,
    render: (s) => (s.agreement.rate === null ? '–' : <span title={`over ${s.agreement.pairs} pairs of judgments`}>{percent(s.agreement.rate)}</span>),
  },
];

type TSort = { key: string; dir: 1 | -1 };

function compare(a: number | string | null, b: number | string | null, dir: 1 | -1): number {
  if (a === null && b === null) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return (typeof a === 'string' ? a.localeCompare(String(b)) : a - (b as number)) * dir;
}

/** Every annotator of the project with their figures and anomaly flags; sortable, a row opens its charts. */
export function AnnotatorsTable({ project }: { project: string }) {
  const trpc = useTRPC();
  const all = useQuery(trpc.annotators.all.queryOptions({ project }));
  const [sort, setSort] = useState<TSort>({ key: 'flags', dir: -1 });
  const [flaggedOnly, setFlaggedOnly] = useState(false);
  const [open, setOpen] = useState<number | null>(null);

  const rows = useMemo(() => {
    const list = (all.data?.annotators ?? []).filter((s) => !flaggedOnly || s.flags.length > 0);
    const value = sort.key === 'flags' ? (s: TAnnotatorStats) => s.flags.length : columns.find((c) => c.key === sort.key)!.value;
    // Ties keep the server's order (by email).
    return [...list].sort((a, b) => compare(value(a), value(b), sort.dir));
  }, [all.data, sort, flaggedOnly]);

  const header = (key: string, label: string, title?: string, numeric?: boolean) => {
    const active = sort.key === key;
    return (
      <th key={key} scope="col" aria-sort={active ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'} className={`px-1.5 py-1 align-bottom font-medium ${numeric ? 'text-right' : ''}`}>
        <button
          type="button"
          title={title}
          onClick={() => setSort((s) => (s.key === key ? { key, dir: s.dir === 1 ? -1 : 1 } : { key, dir: key === 'email' ? 1 : -1 }))}
          className={`hover:text-slate-900 ${active ? 'text-slate-900' : ''}`}
        >
          {label}
          <span aria-hidden className="ml-0.5 inline-block w-2">{active ? (sort.dir === 1 ? '▲' : '▼') : ''}</span>
        </button>
      </th>
    );
  };

  const thresholds = all.data?.thresholds;
  const flaggedCount = all.data?.annotators.filter((s) => s.flags.length > 0).length ?? 0;

  return (
    <section aria-label="Annotators" className="rounded-lg border border-slate-200 bg-white p-4">
      <div className="mb-3 flex flex-wrap items-center gap-3">
        <h2 className="font-semibold">Annotators</h2>
        {all.data && (
          <span className="text-sm text-slate-500">
            {all.data.annotators.length} annotator(s), {flaggedCount} flagged
          </span>
        )}
        <label className="ml-auto flex items-center gap-2 text-sm text-slate-600">
          <input type="checkbox" checked={flaggedOnly} onChange={(e) => setFlaggedOnly(e.target.checked)} />
          Flagged only
        </label>
      </div>
      {all.error && <p className="text-sm text-red-700" role="alert">{all.error.message}</p>}
      {!all.data && !all.error && <p className="text-sm text-slate-500">Loading…</p>}
      {all.data && rows.length === 0 && <p className="text-sm text-slate-500">{flaggedOnly ? 'Nobody is flagged.' : 'No annotators yet.'}</p>}
      {all.data && rows.length > 0 && thresholds && (
        <div className="overflow-x-auto">
          <table className="w-full text-sm">
            <thead className="text-left text-slate-500">
              <tr>
                {columns.map((c) => header(c.key, c.label, c.title, c.numeric))}
                {header('flags', 'Flags', 'Anomaly flags; hover a badge for its rule')}
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => (
                <Fragment key={s.annotatorId}>
                  <tr className={`border-t border-slate-100 ${s.flags.length ? 'bg-amber-50/40' : ''}`} data-annotator={s.email}>
                    {columns.map((c) => (
                      <td key={c.key} className={`whitespace-nowrap px-1.5 py-1.5 ${c.numeric ? 'text-right tabular-nums' : ''}`}>
                        {c.key === 'email' ? (
                          <button type="button" aria-expanded={open === s.annotatorId} onClick={() => setOpen((o) => (o === s.annotatorId ? null : s.annotatorId))} className="text-left text-blue-700 hover:underline">
                            {s.email}
                          </button>
                        ) : (
                          c.render(s)
                        )}
                      </td>
                    ))}
                    <td className="px-1.5 py-1.5">
                      <span className="flex flex-wrap gap-1">
                        {s.flags.map((f) => (
                          <span key={f} title={flagExplanation(f, thresholds)} className="whitespace-nowrap rounded-full border border-amber-300 bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-900" data-flag={f}>
                            {flagLabels[f]}
                          </span>
                        ))}
                      </span>
                    </td>
                  </tr>
                  {open === s.annotatorId && (
                    <tr className="border-t border-slate-100 bg-slate-50">
                      <td colSpan={columns.length + 1} className="px-2 py-3">
                        <Details s={s} thresholds={thresholds} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Details({ s, thresholds }: { s: TAnnotatorStats; thresholds: TThresholds }) {
  return (
    <div className="grid gap-4 md:grid-cols-[2fr_1fr]">
      <div>
        <h3 className="mb-1 text-xs font-medium uppercase tracking-wide text-slate-500">Judgments per day, last 30 days</h3>
        <div className="h-32">
          <PerDayBars perDay={s.perDay} />
        </div>
      </div>
      <div>
        <h3 className="mb-1 text-xs font-medium uppercase tracking-wide text-slate-500">Strengths</h3>
        <div className="h-32">
          <StrengthBars counts={s.strengths} />
        </div>
      </div>
      <p className="text-xs text-slate-600 md:col-span-2">
        {s.name ? `${s.name} · ` : ''}
        {s.position.pairs ? `${s.position.left} of ${s.position.pairs} pairs chose left (binomial p ${pValue(s.position.pValue)}). ` : ''}
        {s.edits} edit(s), {s.skips} skip(s). {s.firstAt ? `First judgment ${new Date(s.firstAt).toLocaleDateString()}, last ${new Date(s.lastAt!).toLocaleString()}.` : 'No judgments yet.'}
      </p>
      {s.flags.length > 0 && (
        <ul className="list-inside list-disc text-xs text-amber-900 md:col-span-2">
          {s.flags.map((f) => (
            <li key={f}>
              <strong>{flagLabels[f]}</strong>: {flagExplanation(f, thresholds)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
