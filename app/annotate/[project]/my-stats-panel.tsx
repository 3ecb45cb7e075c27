'use client';

import { useQuery } from '@tanstack/react-query';
import dynamic from 'next/dynamic';
import type { ReactNode } from 'react';
import { percent, seconds } from '@/app/_components/annotator-figures';
import { useTRPC } from '@/app/_trpc/client';

// chart.js loads only when the panel opens: the annotation page itself stays light.
const chartBox = <div className="h-full animate-pulse rounded bg-slate-100" />;
const StrengthBars = dynamic(() => import('@/app/_components/annotator-charts').then((m) => m.StrengthBars), { ssr: false, loading: () => chartBox });
const PerDayBars = dynamic(() => import('@/app/_components/annotator-charts').then((m) => m.PerDayBars), { ssr: false, loading: () => chartBox });

/** The annotator's own figures in this project (never anyone else's). */
export function MyStatsPanel({ project, onClose }: { project: string; onClose: () => void }) {
  const trpc = useTRPC();
  const mine = useQuery(trpc.annotators.mine.queryOptions({ project }));
  const s = mine.data?.stats;
  const flags = new Set(s?.flags ?? []);
  const rated = s ? Object.values(s.strengths).reduce((a, b) => a + b, 0) : 0;

  return (
    <section aria-label="My stats" className="sticky top-4 rounded-lg border border-slate-200 bg-white p-4">
      <div className="mb-3 flex items-center justify-between">
        <h2 className="font-semibold">My stats</h2>
        <button type="button" onClick={onClose} className="text-sm text-slate-500 hover:text-slate-900">
          Close
        </button>
      </div>
      {mine.error && <p className="text-sm text-red-700" role="alert">{mine.error.message}</p>}
      {!s && !mine.error && <p className="text-sm text-slate-500">Loading…</p>}
      {s && s.judgments === 0 && <p className="text-sm text-slate-500">No judgments yet: your figures appear here once you have judged a few comparisons.</p>}
      {s && s.judgments > 0 && (
        <div className="space-y-4 text-sm">
          <dl className="grid grid-cols-3 gap-2 text-center">
            <Figure label="today" value={s.today.toLocaleString()} />
            <Figure label="in total" value={s.judgments.toLocaleString()} />
            <Figure label="median time" value={seconds(s.medianTimeMs)} testId="my-median" />
          </dl>
          {flags.has('too_fast') && <Note>That is quick. Please read both responses in full before you decide.</Note>}

          <Block title="Last 30 days">
            <div className="h-24">
              <PerDayBars perDay={s.perDay} />
            </div>
          </Block>

          {s.position.pairs > 0 && (
            <Block title="Side">
              <p data-testid="my-left-rate">
                You chose the left response in <strong>{percent(s.position.leftRate)}</strong> of {s.position.pairs.toLocaleString()} pairs.
              </p>
              {flags.has('same_side') ? (
                <Note>
                  That is far from half. Which side a response appears on is random, so a fair judge picks left about half the time: look at the content, not the position.
                </Note>
              ) : (
                <p className="text-xs text-slate-500">Sides are shuffled, so about half is expected.</p>
              )}
            </Block>
          )}

          {rated > 0 && (
            <Block title="Strength of your preferences">
              <div className="h-28">
                <StrengthBars counts={s.strengths} />
              </div>
              {flags.has('same_strength') && <Note>You nearly always give the same strength. Use the whole scale: some differences are slight, some significant.</Note>}
            </Block>
          )}

          <dl className="space-y-1">
            <Row label="Edited">{`${s.edits.toLocaleString()} (${percent(s.editRate)})`}</Row>
            <Row label="Skipped">{s.skips.toLocaleString()}</Row>
          </dl>
        </div>
      )}
    </section>
  );
}

function Figure({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="rounded border border-slate-100 p-2">
      <dd className="text-lg font-semibold tabular-nums" data-testid={testId}>
        {value}
      </dd>
      <dt className="text-xs text-slate-500">{label}</dt>
    </div>
  );
}

function Block({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div>
      <h3 className="mb-1 text-xs font-medium uppercase tracking-wide text-slate-500">{title}</h3>
      {children}
    </div>
  );
}

function Row({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="flex justify-between gap-3">
      <dt className="text-slate-500">{label}</dt>
      <dd className="text-right tabular-nums" data-testid={testId}>
        {children}
      </dd>
    </div>
  );
}

function Note({ children }: { children: ReactNode }) {
  return (
    <p role="note" className="mt-1 rounded border border-amber-200 bg-amber-50 px-2 py-1 text-xs text-amber-900">
      {children}
    </p>
  );
}
