'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState, type ReactNode } from 'react';
import { useTRPC } from '@/app/_trpc/client';
import type { TVersionManifest } from '@/server/datasets/version-files';
import { versionFileName } from '../file-name';
import { orderedSpec } from '../spec-form';
import { BuildProgress, CopyableText, CopyButton, formatDate, isActive, StatusBadge, useOrigin, type TVersionStatus } from '../version-bits';
import { NamedBars, StrengthPairsChart, topEntries } from './version-charts';

const formatDescriptions: Record<string, string> = {
  trl: 'TRL, explicit prompt (DPO)',
  'trl-implicit': 'TRL, prompt inside chosen and rejected (reward model)',
  openai: 'OpenAI preference fine-tuning',
  'hh-rlhf': 'Anthropic HH-RLHF transcripts',
  sft: 'SFT messages: each judgment’s best response',
  parquet: 'TRL pairs as Parquet',
};

const splitLabels: Record<string, string> = { train: 'Train', test: 'Test', all: 'All' };

const bytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

const downloadHref = (id: number, format: string, split: string) => `/api/datasets/${id}/download?format=${encodeURIComponent(format)}&split=${encodeURIComponent(split)}`;

/** One version for people: build progress while it runs, then its manifest, charts and downloads. */
export function VersionDetail({ versionId, formats, splits }: { versionId: number; formats: string[]; splits: string[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const version = useQuery({
    ...trpc.datasets.get.queryOptions({ version: versionId }),
    refetchInterval: (query) => (query.state.data && isActive(query.state.data.status) ? 1000 : false),
  });
  const cancel = useMutation(
    trpc.datasets.cancel.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.datasets.get.queryKey({ version: versionId }) }) }),
  );
  const v = version.data;
  const status = v?.status as TVersionStatus | undefined;
  const manifest = v?.status === 'succeeded' ? (v.manifest as unknown as TVersionManifest | null) : null;
  return (
    <main className="mx-auto max-w-6xl space-y-6 px-4 py-8" data-version-status={v?.status ?? 'loading'}>
      <div className="flex flex-wrap items-baseline gap-x-4 gap-y-1">
        <h1 className="min-w-0 break-words text-2xl font-semibold">{v ? v.name : 'Dataset version'}</h1>
        <span className="text-sm text-slate-500">version #{versionId}</span>
        {status && <StatusBadge status={status} />}
        <Link href="/admin/datasets" className="ml-auto text-sm text-blue-700 underline">
          All versions
        </Link>
      </div>

      {version.error && (
        <p className="text-red-700" role="alert">
          {version.error.message}
        </p>
      )}
      {!v && !version.error && <p className="text-slate-500">Loading…</p>}

      {v && status && isActive(status) && (
        <Card title="Building">
          <div className="flex flex-wrap items-center gap-4">
            <BuildProgress status={status} done={v.progressDone} total={v.progressTotal} label="Build progress" width="w-80 max-w-full" />
            <button
              type="button"
              onClick={() => cancel.mutate({ version: versionId })}
              disabled={cancel.isPending}
              className="rounded border border-slate-300 px-3 py-1 text-sm font-medium hover:bg-slate-50 disabled:opacity-40"
            >
              Cancel build
            </button>
            {cancel.error && (
              <span className="text-sm text-red-700" role="alert">
                {cancel.error.message}
              </span>
            )}
          </div>
        </Card>
      )}
      {v?.status === 'failed' && (
        <Card title="The build failed">
          <pre className="whitespace-pre-wrap break-words text-sm text-red-800">{v.error ?? 'no error recorded'}</pre>
        </Card>
      )}
      {v?.status === 'cancelled' && <p className="text-slate-600">This build was cancelled before it finished: there are no files. Build the spec again to get a version.</p>}

      {v && manifest && <Manifest manifest={manifest} versionId={versionId} name={v.name} formats={formats} splits={splits} />}
      {v && !manifest && (
        <Card title="Spec">
          <SpecBlock spec={v.spec} />
        </Card>
      )}
    </main>
  );
}

function Manifest({ manifest, versionId, name, formats, splits }: { manifest: TVersionManifest; versionId: number; name: string; formats: string[]; splits: string[] }) {
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

      <Downloads versionId={versionId} name={name} formats={formats} splits={splits} splitPairs={splitPairs} />

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
        <Card title="Content hash" note="sha256 over the canonical spec and the pairs file: the same spec over the same judgments gives the same hash">
          <div className="flex items-start gap-2">
            <code className="min-w-0 flex-1 break-all rounded bg-slate-50 px-2 py-1 text-xs" data-testid="content-hash">
              {manifest.contentHash}
            </code>
            <CopyButton text={manifest.contentHash} />
          </div>
          <h3 className="mb-1 mt-4 text-sm font-medium">Files</h3>
          <table className="w-full text-sm" aria-label="Files">
            <tbody>
              {manifest.files.map((f) => (
                <tr key={f.key} className="border-t border-slate-100 align-top">
                  <td className="py-1.5 pr-3">
                    <code className="break-all text-xs">{f.key}</code>
                    <div className="text-xs text-slate-500">{f.description}</div>
                  </td>
                  <td className="whitespace-nowrap py-1.5 text-right tabular-nums text-slate-600">{bytes(f.bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      </div>

      <Card title="Spec" note="normalised: defaults filled in, lists sorted">
        <SpecBlock spec={manifest.spec} />
      </Card>
    </>
  );
}

function Downloads({ versionId, name, formats, splits, splitPairs }: { versionId: number; name: string; formats: string[]; splits: string[]; splitPairs: Record<string, number> }) {
  const origin = useOrigin();
  const [format, setFormat] = useState(formats[0] ?? 'trl');
  const [split, setSplit] = useState(splits[0] ?? 'train');
  const fileName = versionFileName({ id: versionId, name }, format, split);
  const restUrl = `${origin || ''}/api/v1/datasets/${versionId}/download?format=${encodeURIComponent(format)}&split=${encodeURIComponent(split)}`;
  return (
    <Card title="Download" note="streamed from the artifact store; the test split holds out whole prompts">
      <div className="overflow-x-auto">
        <table className="w-full text-sm" aria-label="Downloads">
          <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
            <tr>
              <th className="py-1.5 pr-3 font-medium">Format</th>
              {splits.map((s) => (
                <th key={s} className="pr-3 font-medium">
                  {splitLabels[s] ?? s} <span className="font-normal normal-case tracking-normal">({(splitPairs[s] ?? 0).toLocaleString()} pairs)</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {formats.map((f) => (
              <tr key={f} className="border-t border-slate-100">
                <td className="py-1.5 pr-3">
                  <code className="text-xs font-medium">{f}</code> <span className="text-slate-500">{formatDescriptions[f] ?? ''}</span>
                </td>
                {splits.map((s) => (
                  <td key={s} className="pr-3">
                    <a
                      href={downloadHref(versionId, f, s)}
                      download={versionFileName({ id: versionId, name }, f, s)}
                      className="inline-block rounded border border-slate-300 px-2 py-0.5 text-xs font-medium text-blue-700 hover:bg-slate-50"
                      aria-label={`Download ${f} ${s}`}
                      data-download={`${f}:${s}`}
                    >
                      Download
                    </a>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <div className="mt-4 space-y-3 border-t border-slate-100 pt-4">
        <div className="flex flex-wrap items-center gap-3 text-sm">
          <span className="font-medium">The same download from a script</span>
          <label className="flex items-center gap-1.5">
            <span className="text-slate-600">Format</span>
            <select value={format} onChange={(e) => setFormat(e.target.value)} className="rounded border border-slate-300 px-2 py-1 text-sm">
              {formats.map((f) => (
                <option key={f}>{f}</option>
              ))}
            </select>
          </label>
          <label className="flex items-center gap-1.5">
            <span className="text-slate-600">Split</span>
            <select value={split} onChange={(e) => setSplit(e.target.value)} className="rounded border border-slate-300 px-2 py-1 text-sm">
              {splits.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        </div>
        <div>
          <div className="mb-1 text-xs text-slate-500">Command line, on the server (reads the database and the artifact store directly)</div>
          <CopyableText label="CLI command" text={`npm run cli -- dataset export --version ${versionId} --format ${format} --split ${split} --out ${fileName}`} />
        </div>
        <div>
          <div className="mb-1 text-xs text-slate-500">
            REST, with an API token: <code>GET /api/v1/datasets/{versionId}/download?format={format}&amp;split={split}</code>
          </div>
          <CopyableText label="REST URL" text={restUrl} />
          <div className="mb-1 mt-2 text-xs text-slate-500">With curl</div>
          <CopyableText label="curl command" text={`curl -fL -H "Authorization: Bearer $PAIRWISE_TOKEN" -o ${fileName} "${restUrl}"`} />
        </div>
      </div>
    </Card>
  );
}

function SpecBlock({ spec }: { spec: unknown }) {
  const text = JSON.stringify(orderedSpec(spec), null, 2);
  return (
    <div className="flex items-start gap-2">
      <pre aria-label="Version spec" className="max-h-96 min-w-0 flex-1 overflow-auto rounded bg-slate-50 px-3 py-2 text-xs">
        {text}
      </pre>
      <CopyButton text={text} />
    </div>
  );
}

function Card({ title, note, children }: { title: string; note?: string; children: ReactNode }) {
  return (
    <section className="min-w-0 rounded-lg border border-slate-200 bg-white p-4" aria-label={title}>
      <h2 className="font-semibold">{title}</h2>
      {note && <p className="mb-3 text-xs text-slate-500">{note}</p>}
      {!note && <div className="mb-3" />}
      {children}
    </section>
  );
}

function Stat({ label, value, note }: { label: string; value: number; note?: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4" data-stat={label}>
      <div className="text-2xl font-semibold tabular-nums">{value.toLocaleString()}</div>
      <div className="text-sm text-slate-500">
        {label}
        {note && <span className="text-xs text-slate-400"> · {note}</span>}
      </div>
    </div>
  );
}

function DropRow({ label, value, note, mono }: { label: string; value: number; note?: string; mono?: boolean }) {
  return (
    <tr className="border-t border-slate-100 first:border-0">
      <td className="py-1.5 pr-3">{mono ? <code className="text-xs">{label}</code> : label}</td>
      <td className="py-1.5 text-right tabular-nums">
        {value.toLocaleString()}
        {note && <span className="ml-1 text-xs text-slate-500">({note})</span>}
      </td>
    </tr>
  );
}
