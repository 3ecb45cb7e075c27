/** A metric over training steps, from TRL's `trainer_state.json`. */
export interface TSeries {
  name: string;
  points: { step: number; value: number }[];
}

export interface TTrainingMetrics {
  series: TSeries[];
  /** The last value of each series, for lists. */
  last: Record<string, number>;
  globalStep: number | null;
  maxSteps: number | null;
  epoch: number | null;
}

/** The series shown for a run, in display order; any other numeric log key is kept too. */
export const trackedMetrics = ['loss', 'eval_loss', 'rewards/accuracies', 'rewards/margins', 'eval_rewards/accuracies', 'eval_accuracy', 'learning_rate', 'grad_norm'] as const;

const ignoredKeys = new Set(['step', 'epoch', 'total_flos', 'train_runtime', 'train_samples_per_second', 'train_steps_per_second', 'eval_runtime', 'eval_samples_per_second', 'eval_steps_per_second']);

/**
 * Parses TRL's trainer state: `log_history` is a list of entries, each with `step` and the
 * values logged at that step (training entries have `loss`, evaluation entries `eval_loss`,
 * the final one `train_loss`). Non-numeric and non-finite values are skipped, not fatal: a
 * half-written file from a live run still gives what it has.
 */
export function parseTrainerState(state: unknown): TTrainingMetrics {
  const root = (state && typeof state === 'object' ? state : {}) as Record<string, unknown>;
  const history = Array.isArray(root.log_history) ? (root.log_history as unknown[]) : [];
  const byName = new Map<string, { step: number; value: number }[]>();
  for (const entry of history) {
    if (!entry || typeof entry !== 'object') continue;
    const record = entry as Record<string, unknown>;
    const step = typeof record.step === 'number' && Number.isFinite(record.step) ? record.step : null;
    if (step === null) continue;
    for (const [name, value] of Object.entries(record)) {
      if (ignoredKeys.has(name) || typeof value !== 'number' || !Number.isFinite(value)) continue;
      let points = byName.get(name);
      if (!points) byName.set(name, (points = []));
      points.push({ step, value });
    }
  }
  const order = (name: string) => {
    const i = (trackedMetrics as readonly string[]).indexOf(name);
    return i === -1 ? trackedMetrics.length : i;
  };
  const series = [...byName.entries()]
    .map(([name, points]) => ({ name, points: points.sort((a, b) => a.step - b.step) }))
    .sort((a, b) => order(a.name) - order(b.name) || (a.name < b.name ? -1 : 1));
  const last: Record<string, number> = {};
  for (const s of series) last[s.name] = s.points[s.points.length - 1]!.value;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return { series, last, globalStep: num(root.global_step), maxSteps: num(root.max_steps), epoch: num(root.epoch) };
}

/** GPU-seconds of a run: GPUs × (finished, or now while it runs, − started). Not started: 0. */
export function runGpuSeconds(run: { gpus: number; startedAt: Date | null; finishedAt: Date | null }, now: Date = new Date()): number {
  if (!run.startedAt || run.gpus <= 0) return 0;
  const end = run.finishedAt ?? now;
  return Math.max(0, (end.getTime() - run.startedAt.getTime()) / 1000) * run.gpus;
}

export function gpuHours(gpuSeconds: number): number {
  return gpuSeconds / 3600;
}

/** A round's GPU-hours: the sum over its runs (every attempt's time is in the run's gpuSeconds). */
export function roundGpuHours(runs: { gpuSeconds: number }[]): number {
  return gpuHours(runs.reduce((sum, r) => sum + r.gpuSeconds, 0));
}

/**
 * Wilson score interval for a win rate: stays inside [0, 1] and is sensible for small samples
 * and rates near 0 or 1, where the normal approximation is not. z = 1.96 for 95%.
 */
export function wilsonInterval(successes: number, trials: number, z = 1.959963984540054): { low: number; high: number } {
  if (trials <= 0) return { low: 0, high: 1 };
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denominator;
  // At 0 or n successes the bound is exactly 0 or 1; rounding would otherwise leave 1 - 1e-16.
  return { low: successes === 0 ? 0 : Math.max(0, centre - half), high: successes === trials ? 1 : Math.min(1, centre + half) };
}
