'use client';

import Link from 'next/link';
import type { TModelLineage, TScoreSummary, TSftVersionManifest } from '@/server/sampling/sft-version';
import { formatDate } from '../version-bits';
import { Card, Downloads, HashAndFiles, SpecBlock, Stat } from './detail-parts';

/** What an SFT version downloads as: its conversations as JSON lines (whole, or split into prompt and completion) or Parquet, the other formats need pairs. */
const sftFormats = ['sft', 'sft-completion', 'parquet'];
/** Every conversation is train data: there is no test split. */
const sftSplits = ['train', 'all'];

const formatDescriptions: Record<string, string> = {
  sft: 'SFT messages: each prompt with its best-scored sample',
  'sft-completion': 'SFT prompt/completion: the best-scored sample as the completion (TRL trains on it only, any chat template)',
  parquet: 'SFT messages as Parquet (a messages column)',
};

const formatScore = (x: number | null) => (x === null ? '–' : Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toFixed(3));

/** An SFT version written by rejection sampling: conversation counts, reward scores, lineage (run and models), downloads as sft or parquet. */
export function SftManifest({ manifest, versionId, name, formats }: { manifest: TSftVersionManifest; versionId: number; name: string; formats: string[] }) {
  const { counts, scores, lineage } = manifest;
  const empty = counts.conversations === 0;
  const perPrompt = counts.prompts > 0 ? counts.samples / counts.prompts : 0;
  return (
    <>
      <section className="grid grid-cols-2 gap-4 md:grid-cols-3" aria-label="Counts">
        <Stat label="Conversations" value={counts.conversations} note="all train data" />
        <Stat label="Prompts" value={counts.prompts} />
        <Stat label="Samples scored" value={counts.samples} note={perPrompt ? `${Number(perPrompt.toFixed(1)).toLocaleString()} per prompt` : undefined} />
      </section>

      {empty && (
        <p role="status" className="rounded-lg border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-900">
          The run scored no prompt, so this version has no conversations: its files have no lines.
        </p>
      )}

      <Card title="Reward scores" note={`raw scores of the reward model ${lineage.rewardModel.name}; each prompt keeps its best-scored sample`}>
        <ScoreTable best={scores.best} all={scores.all} />
      </Card>

      <Downloads
        versionId={versionId}
        name={name}
        formats={formats.filter((f) => sftFormats.includes(f))}
        splits={sftSplits}
        splitCounts={{ train: counts.train, all: counts.conversations }}
        unit="conversations"
        descriptions={formatDescriptions}
        note="streamed from the artifact store; every conversation is train data, so train and all are the same lines"
      />

      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Lineage" note="written by rejection sampling: the policy’s samples scored by the reward model">
          <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-2 text-sm">
            <dt className="text-slate-500">Run</dt>
            <dd data-lineage="run">
              #{lineage.run.id} <span className="text-slate-500">({lineage.run.kind.replace(/_/g, ' ')}, attempt {lineage.run.attempt})</span>
            </dd>
            <dt className="text-slate-500">Round</dt>
            <dd data-lineage="round">
              {lineage.run.roundId === null ? (
                <span className="text-slate-500">none: run on its own</span>
              ) : (
                <Link href="/admin/rounds" className="text-blue-700 underline">
                  round #{lineage.run.roundId}
                </Link>
              )}
            </dd>
            <dt className="text-slate-500">Policy model</dt>
            <dd className="min-w-0" data-lineage="policy">
              <ModelLine model={lineage.policyModel} />
            </dd>
            <dt className="text-slate-500">Reward model</dt>
            <dd className="min-w-0" data-lineage="reward">
              <ModelLine model={lineage.rewardModel} />
            </dd>
            <dt className="text-slate-500">Built</dt>
            <dd>{formatDate(manifest.builtAt)}</dd>
          </dl>
          <h3 className="mb-1 mt-4 border-t border-slate-100 pt-3 text-sm font-medium">Source prompts</h3>
          {lineage.sourcePrompts.projects.length === 0 ? (
            <p className="text-sm text-slate-500">No prompts.</p>
          ) : (
            <ul className="space-y-1 text-sm">
              {lineage.sourcePrompts.projects.map((p) => (
                <li key={p.id} className="flex items-baseline gap-2">
                  <Link href={`/admin/projects/${encodeURIComponent(p.slug)}`} className="min-w-0 truncate text-blue-700 underline">
                    {p.name}
                  </Link>
                  <span className="text-xs text-slate-500">{p.slug}</span>
                  <span className="ml-auto tabular-nums text-slate-600">{p.prompts.toLocaleString()} prompts</span>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <HashAndFiles
          hash={manifest.contentHash}
          note="sha256 over the canonical spec and the conversations file: the same run over the same prompts and samples gives the same hash"
          files={manifest.files}
        />
      </div>

      <Card title="Spec" note="the rejection-sampling spec of the run">
        <SpecBlock spec={manifest.spec} />
      </Card>
    </>
  );
}

function ModelLine({ model }: { model: TModelLineage }) {
  return (
    <div className="min-w-0">
      <Link href="/admin/models" className="font-medium text-blue-700 underline" title={`model #${model.id}`}>
        {model.name}
      </Link>{' '}
      <span className="text-xs text-slate-500">
        #{model.id} · {model.serving}
      </span>
      <div className="truncate text-xs text-slate-500" title={model.artifactUri ?? model.apiModel}>
        <code>{model.apiModel}</code>
        {model.artifactUri && (
          <>
            {' '}
            · <code>{model.artifactUri}</code>
          </>
        )}
      </div>
    </div>
  );
}

/** Count, mean, min and max of the best samples and of all samples, with each range drawn on one shared scale. */
function ScoreTable({ best, all }: { best: TScoreSummary; all: TScoreSummary }) {
  const rows: [string, TScoreSummary][] = [
    ['Best sample per prompt', best],
    ['All samples', all],
  ];
  const known = rows.flatMap(([, s]) => (s.min === null || s.max === null ? [] : [s.min, s.max]));
  const lo = known.length ? Math.min(...known) : 0;
  const hi = known.length ? Math.max(...known) : 0;
  const at = (x: number) => (hi > lo ? (100 * (x - lo)) / (hi - lo) : 50);
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-sm" aria-label="Reward scores">
        <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th className="py-1.5 pr-3 font-medium">Samples</th>
            <th className="pr-3 text-right font-medium">Count</th>
            <th className="pr-3 text-right font-medium">Mean</th>
            <th className="pr-3 text-right font-medium">Min</th>
            <th className="pr-3 text-right font-medium">Max</th>
            <th className="w-1/3 font-medium">
              <span className="sr-only">Range</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([label, s]) => (
            <tr key={label} className="border-t border-slate-100" data-scores={label}>
              <td className="py-1.5 pr-3">{label}</td>
              <td className="pr-3 text-right tabular-nums">{s.count.toLocaleString()}</td>
              <td className="pr-3 text-right font-medium tabular-nums">{formatScore(s.mean)}</td>
              <td className="pr-3 text-right tabular-nums text-slate-600">{formatScore(s.min)}</td>
              <td className="pr-3 text-right tabular-nums text-slate-600">{formatScore(s.max)}</td>
              <td aria-hidden="true">
                {s.min !== null && s.max !== null && s.mean !== null && (
                  <div className="relative h-3 min-w-24 rounded bg-slate-100" title={`${formatScore(s.min)} … ${formatScore(s.max)}, mean ${formatScore(s.mean)}`}>
                    <div className="absolute inset-y-0.5 rounded bg-blue-300" style={{ left: `${at(s.min)}%`, width: `${Math.max(0.5, at(s.max) - at(s.min))}%` }} />
                    <div className="absolute inset-y-0 w-0.5 bg-blue-900" style={{ left: `calc(${at(s.mean)}% - 1px)` }} />
                  </div>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {known.length > 0 && (
        <p className="mt-2 text-xs text-slate-500">
          Bars: each row’s range from {formatScore(lo)} to {formatScore(hi)}; the dark mark is the mean.
        </p>
      )}
    </div>
  );
}
