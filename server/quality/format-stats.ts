import type { TInterval } from './agreement-report';
import type { TProjectStats } from './project-stats';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const num = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const ci = (i: TInterval | null) => (i ? `${num(i.estimate)}  [${num(i.low)}, ${num(i.high)}]` : 'n/a (needs comparisons with two or more judgments)');

/** The project figures as a short text report for the terminal. */
export function formatStats(slug: string, s: TProjectStats): string {
  const lines = [
    `project ${slug}`,
    `  comparisons ${s.counts.comparisons} (${s.counts.completeComparisons} complete, ${s.counts.goldItems} gold), judgments ${s.counts.judgments} of ${s.counts.judgmentsRequired} required, skips ${s.counts.skipped}`,
    `  strengths: ${Object.entries(s.strengths).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `agreement over ${s.agreement.units} comparisons with 2+ judgments (95% intervals)`,
    `  raw agreement        ${ci(s.agreement.raw)}`,
    `  Fleiss' kappa        ${ci(s.agreement.fleissKappa)}`,
    `  Cohen's kappa        ${ci(s.agreement.cohensKappa)}`,
    `  Krippendorff's alpha ${ci(s.agreement.krippendorffAlpha)} (ordinal, -4..4)`,
    `gold accuracy`,
    ...s.gold.annotators.map((g) => `  ${g.email.padEnd(32)} ${g.correct}/${g.answered} ${pct(g.accuracy)}${g.flagged ? '  FLAGGED' : ''}`),
    `leaderboard (Bradley-Terry, 95% bootstrap intervals, ${s.leaderboard.rounds} rounds)`,
    ...s.leaderboard.models.map((m) => `  ${String(m.rank).padStart(2)}. ${m.name.padEnd(28)} ${m.rating.toFixed(0)}  [${m.low.toFixed(0)}, ${m.high.toFixed(0)}]  Elo ${m.elo.toFixed(0)}  battles ${m.battles}`),
  ];
  if (s.gold.annotators.length === 0) lines.splice(lines.indexOf('gold accuracy') + 1, 0, '  no gold answers yet');
  if (s.leaderboard.models.length === 0) lines.push('  no battles between different models yet');
  return lines.join('\n');
}
