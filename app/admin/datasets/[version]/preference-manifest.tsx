'use client';

import Link from 'next/link';
import type { TVersionManifest } from '@/server/datasets/version-files';
import { formatDate } from '../version-bits';
import { Card, DropRow, Downloads, HashAndFiles, SpecBlock, Stat } from './detail-parts';
import { NamedBars, StrengthPairsChart, topEntries } from './version-charts';

const formatDescriptions: Record<string, string> = {
  trl: 'TRL, explicit prompt (DPO)',
  'trl-implicit': 'TRL, prompt inside chosen and rejected (reward model)',
  openai: 'OpenAI preference fine-tuning (pairs with one-message answers)',
  'hh-rlhf': 'Anthropic HH-RLHF transcripts',
  sft: 'SFT messages: each judgment’s best response',
  'sft-completion': 'SFT prompt/completion: each judgment’s best response as the completion',
  parquet: 'TRL pairs as Parquet',
};

/** A preference version: pair counts, what the filters dropped, charts of the pairs, downloads in every format, lineage. */
export function PreferenceManifest({ manifest, versionId, name, formats, splits }: { manifest: TVersionManifest; versionId: number; name: string; formats: string[]; splits: string[] }) {
  const { counts, dropped, statistics } = manifest;
  const empty = counts.pairs === 0;
  const models = topEntries(statistics.winsByModel, 12);
  const projects = topEntries(statistics.byProject, 12);
  const splitPairs: Record<string, number> = { train: counts.train, test: counts.test, all: counts.pairs };
  return (
    <>
      <section className="grid grid-cols-2 gap-4 md:grid-cols-5" aria-label="Counts">
        <Stat label="Pairs" value={counts.pairs} />
        <Stat label="Train pairs" value={counts.train} note={`${counts.trainPrompts.toLocaleString()} prompts`} />
        <Stat label="Test pairs" value={counts.test} note={`${counts.testPrompts.toLocaleString()} prompts`} />
        <Stat label="Prompts" value={counts.prompts} />
        <Stat label="Judgments" value={counts.judgments} />
      </section>

      {empty && (
        <p role="status" className="rounded-lg border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-900">
          The selection was empty: no judgment passed the filters, so every file of this version has no lines. See what the filters dropped below, loosen the
          spec and build another version.
        </p>
      )}

      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="What the filters dropped" note="pairs left out; flagged, gold and rejected judgments never become pairs">
          <table className="w-full text-sm" aria-label="Dropped pairs">
            <tbody>
              <DropRow label="Strength or similar responses" value={dropped.strength} />
              <DropRow label="Unrated (no strength)" value={dropped.unrated} />
              <DropRow label="Models not selected" value={dropped.model} />
              <DropRow label="Semantic dedup" value={dropped.dedup} note={`${dropped.dedupPrompts.toLocaleString()} prompts`} />
            </tbody>
          </table>
        </Card>
        <Card title="Mean lengths" note="per pair, as in Llama 3’s preference data table">
          <table className="w-full text-sm" aria-label="Mean lengths">
            <tbody>
              <DropRow label="Prompt characters" value={statistics.mean.promptChars} />
              <DropRow label="Chosen response characters" value={statistics.mean.chosenChars} />
              <DropRow label="Rejected response characters" value={statistics.mean.rejectedChars} />
              <DropRow label="Messages per prompt" value={statistics.mean.promptMessages} />
            </tbody>
          </table>
        </Card>
      </div>

      {!empty && (
        <div className="grid gap-4 lg:grid-cols-2">
          <Card title="Pairs by strength" note="the chosen response’s preference over the rejected one">
            <div className="h-56">
              <StrengthPairsChart byStrength={statistics.byStrength} />
            </div>
          </Card>
          <Card title="Wins by model" note="pairs won: the chosen response’s model (edits and human answers by origin)">
            <div style={{ height: `${Math.max(112, 28 * models.length + 48)}px` }}>
              <NamedBars entries={models} what="pairs won" color="#2563eb" title="Wins by model" />
            </div>
          </Card>
          <Card title="Pairs by project">
            <div style={{ height: `${Math.max(112, 28 * projects.length + 48)}px` }}>
              <NamedBars entries={projects} what="pairs" color="#0f766e" title="Pairs by project" />
            </div>
          </Card>
          <Card title="Pairs by relation" note="which responses a pair compares">
            <table className="w-full text-sm" aria-label="Pairs by relation">
              <tbody>
                {Object.entries(statistics.byRelation)
                  .sort((a, b) => b[1] - a[1])
                  .map(([relation, n]) => (
                    <DropRow key={relation} label={relation} value={n} mono />
                  ))}
              </tbody>
            </table>
          </Card>
        </div>
      )}

      <Downloads
        versionId={versionId}
        name={name}
        formats={formats}
        splits={splits}
        splitCounts={splitPairs}
        unit="pairs"
        descriptions={formatDescriptions}
        note="streamed from the artifact store; the test split holds out whole prompts"
      />

      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Lineage">
          <p className="mb-2 text-sm text-slate-600">
            {manifest.lineage.judgments.toLocaleString()} judgment(s) from {manifest.lineage.projects.length} project(s), recorded in{' '}
            <code className="text-xs">{manifest.lineage.judgmentTable}</code>.
          </p>
          <ul className="space-y-1 text-sm">
            {manifest.lineage.projects.map((p) => (
              <li key={p.id} className="flex items-baseline gap-2">
                <Link href={`/admin/projects/${encodeURIComponent(p.slug)}`} className="min-w-0 truncate text-blue-700 underline">
                  {p.name}
                </Link>
                <span className="text-xs text-slate-500">{p.slug}</span>
                <span className="ml-auto tabular-nums text-slate-600">{(statistics.byProject[p.slug] ?? 0).toLocaleString()} pairs</span>
              </li>
            ))}
          </ul>
          <dl className="mt-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 border-t border-slate-100 pt-3 text-sm">
            <dt className="text-slate-500">Built by</dt>
            <dd className="min-w-0 truncate">{manifest.builtBy ? (manifest.builtBy.name ? `${manifest.builtBy.name} (${manifest.builtBy.email})` : manifest.builtBy.email) : '–'}</dd>
            <dt className="text-slate-500">Requested</dt>
            <dd>{formatDate(manifest.requestedAt)}</dd>
            <dt className="text-slate-500">Built</dt>
            <dd>{formatDate(manifest.builtAt)}</dd>
          </dl>
        </Card>
        <HashAndFiles
          hash={manifest.contentHash}
          note="sha256 over the canonical spec and the pairs file: the same spec over the same judgments gives the same hash"
          files={manifest.files}
        />
      </div>

      <Card title="Spec" note="normalised: defaults filled in, lists sorted">
        <SpecBlock spec={manifest.spec} />
      </Card>
    </>
  );
}
