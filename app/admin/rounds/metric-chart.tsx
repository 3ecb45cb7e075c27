'use client';

import { CategoryScale, Chart as ChartJS, LinearScale, LineElement, PointElement, Tooltip, type ChartOptions } from 'chart.js';
import { Line } from 'react-chartjs-2';

ChartJS.register(CategoryScale, LinearScale, PointElement, LineElement, Tooltip);

const base = { responsive: true, maintainAspectRatio: false, animation: false } as const;

/** Short, readable numbers for ticks and captions: 0.2047, 1.55, 1.5e-5. */
export function formatMetric(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs < 1e-3 || abs >= 1e5) return value.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return String(Number(value.toPrecision(4)));
}

/** One training metric by step (TRL log_history), e.g. loss or rewards/accuracies. */
export function MetricChart({ name, points }: { name: string; points: { step: number; value: number }[] }) {
  // A metric logged a few times only (eval_loss) is drawn as dots, or a lone point would not show at all.
  const sparse = points.length <= 12;
  const options: ChartOptions<'line'> = {
    ...base,
    scales: {
      x: { type: 'linear', title: { display: true, text: 'step' }, ticks: { precision: 0, maxTicksLimit: 6 } },
      y: { ticks: { maxTicksLimit: 4, callback: (value) => formatMetric(Number(value)) } },
    },
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { title: (items) => `step ${String(items[0]?.parsed.x ?? '')}`, label: (item) => `${name}: ${formatMetric(item.parsed.y ?? NaN)}` } },
    },
  };
  const last = points[points.length - 1];
  return (
    <figure className="min-w-0 rounded border border-slate-200 bg-white p-2">
      <figcaption className="mb-1 truncate text-xs text-slate-600" title={name}>
        <span className="font-medium text-slate-800">{name}</span>
        {last ? ` · ${formatMetric(last.value)} at step ${last.step}` : ''}
      </figcaption>
      <div className="h-32">
        <Line
          role="img"
          aria-label={`${name} over ${points.length} logged steps`}
          options={options}
          data={{
            datasets: [
              {
                label: name,
                data: points.map((p) => ({ x: p.step, y: p.value })),
                borderColor: '#2563eb',
                backgroundColor: '#2563eb',
                pointRadius: sparse ? 3 : 0,
                borderWidth: 2,
              },
            ],
          }}
        />
      </div>
    </figure>
  );
}
