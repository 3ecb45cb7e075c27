'use client';

import { useQuery } from '@tanstack/react-query';
import type { inferRouterOutputs } from '@trpc/server';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { useTRPC } from '@/app/_trpc/client';
import { strengthLabels, strengths } from '@/server/annotation/strengths';
import type { TAppRouter } from '@/server/root';
import { AgreementChart, PerDayChart, ProgressChart, StrengthChart } from './charts';
import { DataStatsTable } from './data-stats-table';

type TDashboard = inferRouterOutputs<TAppRouter>['quality']['dashboard'];
type TInterval = { estimate: number; low: number; high: number } | null;

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
/** Brackets and a true minus sign: "-11–870" with a dash between reads as a range of negatives. */
const interval = (low: string, high: string) => `[${low.replace('-', '−')}, ${high.replace('-', '−')}]`;

/** The project dashboard: progress, activity, strengths, agreement, gold, the model leaderboard and the data table. */
export function QualityDashboard({ project, name }: { project: string; name: string }) {
  const trpc = useTRPC();
  const dashboard = useQuery(trpc.quality.dashboard.queryOptions({ project }));
  const d = dashboard.data;
  return (
    <main className="mx-auto max-w-6xl space-y-6 px-4 py-8" data-dashboard-ready={d ? 'true' : 'false'}>
      <div className="flex items-baseline gap-4">
        <h1 className="text-2xl font-semibold">{name}</h1>
        <span className="text-sm text-slate-500">{project} · dashboard</span>
        <Link href={`/admin/projects/${project}`} className="ml-auto text-sm text-blue-700 underline">
          Manage project
        </Link>
      </div>

      {dashboard.error && <p className="text-red-700">{dashboard.error.message}</p>}
      {!d && !dashboard.error && <p className="text-slate-500">Computing statistics…</p>}
      {d && <DashboardBody d={d} />}
      <div className="grid gap-4 lg:grid-cols-2">
        <DataStatsTable project={project} />
      </div>
    </main>
  );
}

function DashboardBody({ d }: { d: TDashboard }) {
  const { counts } = d;
  const progress = counts.judgmentsRequired ? Math.min(1, counts.judgments / counts.judgmentsRequired) : 0;
  return (
    <>
      <section className="grid grid-cols-2 gap-4 md:grid-cols-5" aria-label="Counts">
        <Stat label="Comparisons" value={counts.comparisons.toLocaleString()} />
        <Stat label="Complete" value={counts.completeComparisons.toLocaleString()} />
        <Stat label="Judgments" value={counts.judgments.toLocaleString()} />
        <Stat label="Skipped" value={counts.skipped.toLocaleString()} />
        <Stat label="Progress" value={percent(progress)} />
      </section>

      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Project progress" note={`${counts.judgments.toLocaleString()} of ${counts.judgmentsRequired.toLocaleString()} judgments required`}>
          <div className="h-40">
            <ProgressChart counts={counts} />
          </div>
        </Card>
        <Card title="Judgments per day" note="last 90 days">
          {d.perDay.length === 0 ? <Empty /> : <div className="h-40"><PerDayChart perDay={d.perDay} /></div>}
        </Card>
        <Card title="Strength distribution" note="chosen over rejected, pair judgments">
          {strengths.every((s) => d.strengths[s] === 0) ? <Empty /> : <div className="h-48"><StrengthChart counts={d.strengths} /></div>}
        </Card>
        <Card title="Agreement over time" note="weekly raw agreement between annotators on the same comparison">
          {d.agreementByWeek.length === 0 ? <Empty what="No comparison has two judgments yet." /> : <div className="h-48"><AgreementChart weeks={d.agreementByWeek} /></div>}
        </Card>
        <Card title="Agreement" note={`${d.agreement.units.toLocaleString()} comparison(s) with two or more judgments; 95% bootstrap intervals`}>
          <dl className="grid grid-cols-2 gap-3 text-sm">
            <Measure label="Raw agreement" value={d.agreement.raw} asPercent />
            <Measure label="Fleiss’ κ" value={d.agreement.fleissKappa} />
            <Measure label="Cohen’s κ" value={d.agreement.cohensKappa} hint="two annotators only" />
            <Measure label="Krippendorff’s α" value={d.agreement.krippendorffAlpha} />
          </dl>
          {d.agreement.byStrength.length > 0 && (
            <table className="mt-3 w-full text-sm tabular-nums">
              <caption className="mb-1 text-left text-xs text-slate-500">By strength: how often the other annotators of a comparison picked the same side</caption>
              <tbody>
                {[...d.agreement.byStrength].sort((a, b) => b.level - a.level).map((s) => (
                  <tr key={s.level} className="border-t border-slate-100">
                    {/* Level 4 is the strongest, the first of `strengths`. */}
                    <td className="py-1">{strengthLabels[strengths[4 - s.level]!]}</td>
                    <td className="text-right">{percent(s.agreement)}</td>
                    <td className="text-right text-slate-500">n = {s.n.toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Card title="Gold accuracy" note={`${d.gold.items.toLocaleString()} gold item(s)`}>
          {d.gold.annotators.length === 0 ? (
            <Empty what="No answers to gold items yet." />
          ) : (
            <table className="w-full text-sm tabular-nums">
              <thead className="text-left text-slate-500">
                <tr>
                  <th className="py-1 font-medium">Annotator</th>
                  <th className="text-right font-medium">Answered</th>
                  <th className="text-right font-medium">Correct</th>
                  <th className="text-right font-medium">Accuracy</th>
                </tr>
              </thead>
              <tbody>
                {d.gold.annotators.map((a) => (
                  <tr key={a.annotatorId} className={`border-t border-slate-100 ${a.flagged ? 'text-red-700' : ''}`}>
                    <td className="py-1">
                      {a.email}
                      {a.flagged && <span className="ml-2 rounded bg-red-100 px-1.5 text-xs">below threshold</span>}
                    </td>
                    <td className="text-right">{a.answered}</td>
                    <td className="text-right">{a.correct}</td>
                    <td className="text-right">{percent(a.accuracy)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Leaderboard board={d.leaderboard} />
      </div>
    </>
  );
}

function Leaderboard({ board }: { board: TDashboard['leaderboard'] }) {
  if (board.models.length === 0) {
    return (
      <Card title="Models" note="per-model win rates" wide>
        <Empty what="Needs judgments between at least two models." />
      </Card>
    );
  }
  // Matrices are indexed like `names`; rows and columns follow the ranking.
  const ranked = [...board.models].sort((a, b) => a.rank - b.rank);
  const index = (model: string) => board.names.indexOf(model);
  return (
    <Card title="Models" note="Bradley-Terry ratings with 95% bootstrap intervals; win rate of the row model against the column model (ties count half)" wide>
      <div className="grid gap-4 xl:grid-cols-2">
        <table className="w-full text-sm tabular-nums">
          <thead className="text-left text-slate-500">
            <tr>
              <th className="py-1 font-medium">#</th>
              <th className="font-medium">Model</th>
              <th className="text-right font-medium">Rating</th>
              <th className="text-right font-medium">95% CI</th>
              <th className="text-right font-medium">Elo</th>
              <th className="text-right font-medium">W / L / T</th>
            </tr>
          </thead>
          <tbody>
            {ranked.map((m) => (
              <tr key={m.name} className="border-t border-slate-100">
                <td className="py-1">{m.rank}</td>
                <td className="max-w-48 truncate" title={m.name}>
                  {m.name}
                </td>
                <td className="text-right">{m.rating.toFixed(0)}</td>
                <td className="text-right text-slate-500">{interval(m.low.toFixed(0), m.high.toFixed(0))}</td>
                <td className="text-right">{m.elo.toFixed(0)}</td>
                <td className="text-right">
                  {m.wins} / {m.losses} / {m.ties}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="overflow-x-auto">
          <table className="text-xs tabular-nums" aria-label="Win rates: row model against column model">
            <thead>
              <tr>
                <th />
                {ranked.map((m) => (
                  <th key={m.name} className="max-w-24 truncate px-1 pb-1 font-medium text-slate-600" title={m.name}>
                    {m.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {ranked.map((row) => (
                <tr key={row.name}>
                  <th className="max-w-32 truncate pr-2 text-right font-medium text-slate-600" title={row.name}>
                    {row.name}
                  </th>
                  {ranked.map((col) => {
                    const [i, j] = [index(row.name), index(col.name)];
                    const rate = i === j ? null : (board.winRates[i]?.[j] ?? null);
                    const battles = board.battles[i]?.[j] ?? 0;
                    return (
                      <td
                        key={col.name}
                        className="h-9 w-14 border border-white text-center"
                        style={{ background: heat(rate), color: rate !== null && Math.abs(rate - 0.5) > 0.3 ? 'white' : undefined }}
                        title={rate === null ? '' : `${row.name} beats ${col.name} ${percent(rate)} of ${battles} battle(s)`}
                      >
                        {rate === null ? '' : `${Math.round(100 * rate)}%`}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </Card>
  );
}

/** Red below 50 %, blue above, white at even; grey where the two never met. */
function heat(rate: number | null): string {
  if (rate === null) return '#f1f5f9';
  const t = Math.min(1, Math.abs(rate - 0.5) * 2);
  const [r, g, b] = rate >= 0.5 ? [37, 99, 235] : [220, 38, 38];
  const mix = (c: number) => Math.round(255 + (c - 255) * t);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

function Card({ title, note, wide, children }: { title: string; note?: string; wide?: boolean; children: ReactNode }) {
  return (
    <section aria-label={title} className={`rounded-lg border border-slate-200 bg-white p-4 ${wide ? 'lg:col-span-2' : ''}`}>
      <h2 className="font-semibold">{title}</h2>
      {note && <p className="mb-3 text-xs text-slate-500">{note}</p>}
      {children}
    </section>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4">
      <div className="text-2xl font-semibold tabular-nums">{value}</div>
      <div className="text-sm text-slate-500">{label}</div>
    </div>
  );
}

function Measure({ label, value, asPercent, hint }: { label: string; value: TInterval; asPercent?: boolean; hint?: string }) {
  const show = (x: number) => (asPercent ? percent(x) : x.toFixed(3)).replace('-', '−');
  return (
    <div>
      <dt className="text-slate-500">{label}</dt>
      <dd className="tabular-nums">
        {value ? (
          <>
            <span className="text-lg font-semibold">{show(value.estimate)}</span>{' '}
            <span className="text-xs text-slate-500">{interval(show(value.low), show(value.high))}</span>
          </>
        ) : (
          <span className="text-slate-400" title={hint}>
            –
          </span>
        )}
      </dd>
    </div>
  );
}

function Empty({ what = 'No judgments yet.' }: { what?: string }) {
  return <p className="py-6 text-center text-sm text-slate-500">{what}</p>;
}
