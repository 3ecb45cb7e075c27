'use client';

import { BarElement, CategoryScale, Chart as ChartJS, LinearScale, Tooltip, type ChartOptions } from 'chart.js';
import { Bar } from 'react-chartjs-2';
import { strengthLabels, strengths, type TStrength } from '@/server/annotation/strengths';

ChartJS.register(CategoryScale, LinearScale, BarElement, Tooltip);

/** Fills its box (the box sets the height); no entry animation while the page polls. */
const base = { responsive: true, maintainAspectRatio: false, animation: false } as const;

/** Strongest first, darkest first; unrated pairs in grey. */
const strengthColors = ['#1e3a8a', '#2563eb', '#60a5fa', '#bfdbfe'];
const unratedColor = '#94a3b8';

const share = (n: number, total: number) => (total ? `${Math.round((100 * n) / total)}%` : '0%');

/** Labels of data (model and project names) can be long: cut them on the axis, whole in the tooltip. */
const cut = (label: string, max = 28) => (label.length > max ? `${label.slice(0, max - 1)}…` : label);

export function StrengthPairsChart({ byStrength }: { byStrength: Record<string, number> }) {
  const levels: (TStrength | 'unrated')[] = [...strengths, ...(byStrength.unrated ? (['unrated'] as const) : [])];
  const values = levels.map((s) => byStrength[s] ?? 0);
  const total = values.reduce((a, b) => a + b, 0);
  const labels = levels.map((s) => (s === 'unrated' ? 'Unrated' : strengthLabels[s]));
  const options: ChartOptions<'bar'> = {
    ...base,
    scales: { x: { grid: { display: false } }, y: { beginAtZero: true, ticks: { precision: 0 } } },
    plugins: { legend: { display: false }, tooltip: { callbacks: { label: (item) => `${item.raw as number} pairs (${share(item.raw as number, total)})` } } },
  };
  return (
    <Bar
      role="img"
      aria-label={`Pairs by strength: ${labels.map((l, i) => `${l} ${values[i]}`).join(', ')}`}
      options={options}
      data={{ labels, datasets: [{ label: 'Pairs', data: values, backgroundColor: levels.map((s, i) => (s === 'unrated' ? unratedColor : strengthColors[i])) }] }}
    />
  );
}

/** The `limit` largest entries, the rest summed into one bar. */
export function topEntries(counts: Record<string, number>, limit: number): [string, number][] {
  const sorted = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (sorted.length <= limit) return sorted;
  const rest = sorted.slice(limit - 1);
  return [...sorted.slice(0, limit - 1), [`${rest.length} others`, rest.reduce((s, [, n]) => s + n, 0)]];
}

/** Horizontal bars for named counts (wins by model, pairs by project); the caller sizes the box from `entries.length`. */
export function NamedBars({ entries, what, color, title }: { entries: [string, number][]; what: string; color: string; title: string }) {
  const total = entries.reduce((s, [, n]) => s + n, 0);
  const options: ChartOptions<'bar'> = {
    ...base,
    indexAxis: 'y',
    scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false }, ticks: { callback: (_v, i) => cut(entries[i]?.[0] ?? '') } } },
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { title: (items) => entries[items[0]?.dataIndex ?? 0]?.[0] ?? '', label: (item) => `${item.raw as number} ${what} (${share(item.raw as number, total)})` } },
    },
  };
  return (
    <Bar
      role="img"
      aria-label={`${title}: ${entries.map(([name, n]) => `${name} ${n}`).join(', ')}`}
      options={options}
      data={{ labels: entries.map(([name]) => name), datasets: [{ label: what, data: entries.map(([, n]) => n), backgroundColor: color }] }}
    />
  );
}
