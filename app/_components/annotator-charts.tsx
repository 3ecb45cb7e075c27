'use client';

import { BarElement, CategoryScale, Chart as ChartJS, LinearScale, Tooltip, type ChartOptions } from 'chart.js';
import { Bar } from 'react-chartjs-2';
import { strengthLabels, strengths, type TStrength } from '@/server/annotation/strengths';

ChartJS.register(CategoryScale, LinearScale, BarElement, Tooltip);

/**
 * Small charts of one annotator's figures (their own stats panel, the admin's annotator table).
 * Load this module lazily: chart.js is too heavy for the first paint of the annotation page.
 */

/** Fills its box (the box sets the height); no entry animation, so reopening a panel is calm. */
const base = { responsive: true, maintainAspectRatio: false, animation: false } as const;

/** Strongest first, darkest first. */
const strengthColors = ['#1e3a8a', '#2563eb', '#60a5fa', '#bfdbfe'];

export function StrengthBars({ counts }: { counts: Record<TStrength, number> }) {
  const total = strengths.reduce((s, level) => s + counts[level], 0);
  const options: ChartOptions<'bar'> = {
    ...base,
    indexAxis: 'y',
    scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false } } },
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { label: (item) => `${item.raw as number} (${total ? Math.round((100 * (item.raw as number)) / total) : 0}%)` } },
    },
  };
  return (
    <Bar
      role="img"
      aria-label={`Strength distribution: ${strengths.map((s) => `${strengthLabels[s]} ${counts[s]}`).join(', ')}`}
      options={options}
      data={{ labels: strengths.map((s) => strengthLabels[s]), datasets: [{ label: 'Judgments', data: strengths.map((s) => counts[s]), backgroundColor: strengthColors }] }}
    />
  );
}

export function PerDayBars({ perDay }: { perDay: { day: string; judgments: number }[] }) {
  const options: ChartOptions<'bar'> = {
    ...base,
    scales: {
      x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6 } },
      y: { beginAtZero: true, ticks: { precision: 0, maxTicksLimit: 4 } },
    },
    plugins: { legend: { display: false }, tooltip: { callbacks: { title: (items) => perDay[items[0]?.dataIndex ?? 0]?.day ?? '' } } },
  };
  const total = perDay.reduce((s, d) => s + d.judgments, 0);
  return (
    <Bar
      role="img"
      aria-label={`Judgments per day over the last ${perDay.length} days: ${total} in all`}
      options={options}
      data={{ labels: perDay.map((d) => d.day.slice(5)), datasets: [{ label: 'Judgments', data: perDay.map((d) => d.judgments), backgroundColor: '#2563eb' }] }}
    />
  );
}
