'use client';

import { BarElement, CategoryScale, Chart as ChartJS, Filler, Legend, LinearScale, LineElement, PointElement, Tooltip, type ChartOptions } from 'chart.js';
import { Bar, Line } from 'react-chartjs-2';
import { strengthLabels, strengths, type TStrength } from '@/server/annotation/strengths';

ChartJS.register(CategoryScale, LinearScale, BarElement, LineElement, PointElement, Filler, Tooltip, Legend);

const blue = '#2563eb';
const slate = '#cbd5e1';
const green = '#16a34a';

/** Every chart: fills its box (the box sets the height), no entry animation on reloads. */
const base = { responsive: true, maintainAspectRatio: false, animation: false } as const;

/** Judgments against the judgments required, and comparisons complete against all. */
export function ProgressChart({ counts }: { counts: { comparisons: number; completeComparisons: number; judgments: number; judgmentsRequired: number } }) {
  const judgmentsDone = Math.min(counts.judgments, counts.judgmentsRequired);
  const options: ChartOptions<'bar'> = {
    ...base,
    indexAxis: 'y',
    scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } },
    plugins: { legend: { position: 'bottom' } },
  };
  return (
    <Bar
      aria-label={`Progress: ${counts.judgments} of ${counts.judgmentsRequired} judgments, ${counts.completeComparisons} of ${counts.comparisons} comparisons complete`}
      role="img"
      options={options}
      data={{
        labels: ['Judgments', 'Comparisons'],
        datasets: [
          { label: 'Done', data: [judgmentsDone, counts.completeComparisons], backgroundColor: blue },
          { label: 'To do', data: [counts.judgmentsRequired - judgmentsDone, counts.comparisons - counts.completeComparisons], backgroundColor: slate },
        ],
      }}
    />
  );
}

/** Consecutive days from the first to the last, so that quiet days show as gaps, not disappear. */
export function fillDays(rows: { day: string; judgments: number }[]): { day: string; judgments: number }[] {
  if (rows.length === 0) return [];
  const byDay = new Map(rows.map((r) => [r.day, r.judgments]));
  const out: { day: string; judgments: number }[] = [];
  const last = Date.parse(`${rows[rows.length - 1]!.day}T00:00:00Z`);
  for (let t = Date.parse(`${rows[0]!.day}T00:00:00Z`); t <= last && out.length < 400; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push({ day, judgments: byDay.get(day) ?? 0 });
  }
  return out;
}

export function PerDayChart({ perDay }: { perDay: { day: string; judgments: number }[] }) {
  const days = fillDays(perDay);
  const options: ChartOptions<'bar'> = {
    ...base,
    scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    plugins: { legend: { display: false } },
  };
  return (
    <Bar
      aria-label={`Judgments per day over ${days.length} day(s)`}
      role="img"
      options={options}
      data={{ labels: days.map((d) => d.day.slice(5)), datasets: [{ label: 'Judgments', data: days.map((d) => d.judgments), backgroundColor: blue }] }}
    />
  );
}

export function StrengthChart({ counts }: { counts: Record<TStrength, number> }) {
  const options: ChartOptions<'bar'> = {
    ...base,
    scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    plugins: { legend: { display: false } },
  };
  return (
    <Bar
      aria-label={`Strength distribution: ${strengths.map((s) => `${strengthLabels[s]} ${counts[s]}`).join(', ')}`}
      role="img"
      options={options}
      data={{
        labels: strengths.map((s) => strengthLabels[s]),
        // Strongest first, darkest first.
        datasets: [{ label: 'Judgments', data: strengths.map((s) => counts[s]), backgroundColor: ['#1e3a8a', '#2563eb', '#60a5fa', '#bfdbfe'] }],
      }}
    />
  );
}

/** Weekly raw agreement (share of judgment pairs on the same comparison that chose alike). */
export function AgreementChart({ weeks }: { weeks: { week: string; raw: number; pairs: number }[] }) {
  const options: ChartOptions<'line'> = {
    ...base,
    scales: { y: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } } },
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { label: (item) => `${(item.raw as number).toFixed(1)}% agreement, ${weeks[item.dataIndex]?.pairs ?? 0} pair(s)` } },
    },
  };
  return (
    <Line
      aria-label={`Raw agreement by week over ${weeks.length} week(s)`}
      role="img"
      options={options}
      data={{
        labels: weeks.map((w) => `wk of ${w.week.slice(5)}`),
        datasets: [{ label: 'Raw agreement', data: weeks.map((w) => 100 * w.raw), borderColor: green, backgroundColor: 'rgba(22, 163, 74, 0.15)', fill: true, tension: 0.2, pointRadius: 3 }],
      }}
    />
  );
}
