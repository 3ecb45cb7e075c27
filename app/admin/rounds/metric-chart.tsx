'use client';

import { CategoryScale, Chart as ChartJS, LinearScale, LineElement, PointElement, Tooltip, type ChartOptions } from 'chart.js';
import { Line } from 'react-chartjs-2';

ChartJS.register(CategoryScale, LinearScale, PointElement, LineElement, Tooltip);

const base = { responsive: true, maintainAspectRatio: false, animation: false } as const;

/** One training metric by step (TRL log_history), e.g. loss or rewards/accuracies. */
export function MetricChart({ name, points }: { name: string; points: { step: number; value: number }[] }) {
  const options: ChartOptions<'line'> = {
    ...base,
    scales: {
      x: { type: 'linear', title: { display: true, text: 'step' }, ticks: { precision: 0, maxTicksLimit: 6 } },
      y: { ticks: { maxTicksLimit: 4 } },
    },
    plugins: { legend: { display: false } },
  };
  const last = points[points.length - 1];
  return (
    <figure className="rounded border border-slate-200 p-2">
      <figcaption className="mb-1 text-xs text-slate-600">
        {name}
        {last ? ` · ${last.value.toPrecision(4)} at step ${last.step}` : ''}
      </figcaption>
      <div className="h-32">
        <Line
          role="img"
          aria-label={`${name} over ${points.length} logged steps`}
          options={options}
          data={{ datasets: [{ label: name, data: points.map((p) => ({ x: p.step, y: p.value })), borderColor: '#2563eb', pointRadius: 0, borderWidth: 2 }] }}
        />
      </div>
    </figure>
  );
}
