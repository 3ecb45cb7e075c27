'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useRef, useState } from 'react';
import { useTRPC } from '@/app/_trpc/client';
import { exportFormats, type TExportFormat } from '@/server/formats/preference-formats';
import { LiveModels } from './live-models';
import { GuidelinesEditor } from './guidelines-editor';
import { SettingsPanel } from './settings-panel';
import { AnnotatorsTable } from './annotators-table';
import { MembersPanel } from './members-panel';
import { ReviewStats } from './review-stats';

export function ProjectAdmin({ project }: { project: string }) {
  const trpc = useTRPC();
  const overview = useQuery(trpc.projects.overview.queryOptions({ project }));
  if (overview.error) return <main className="mx-auto max-w-5xl px-4 py-8 text-red-700">{overview.error.message}</main>;
  if (!overview.data) return <main className="mx-auto max-w-5xl px-4 py-8 text-slate-500">Loading…</main>;
  const { project: p, counts, members } = overview.data;
  const percent = counts.judgmentsRequired ? Math.round((100 * counts.judgments) / counts.judgmentsRequired) : 0;
  return (
    <main className="mx-auto max-w-5xl space-y-6 px-4 py-8">
      <div className="flex items-baseline gap-4">
        <h1 className="text-2xl font-semibold">{p.name}</h1>
        <span className="text-sm text-slate-500">{p.slug}</span>
        <Link href={`/annotate/${p.slug}`} className="ml-auto text-sm text-blue-700 underline">
          Annotate
        </Link>
        <Link href={`/admin/projects/${p.slug}/quality`} className="text-sm text-blue-700 underline">Dashboard</Link>
        <Link href={`/admin/datasets?project=${encodeURIComponent(p.slug)}`} className="text-sm text-blue-700 underline">Datasets</Link>
      </div>

      <section className="grid grid-cols-2 gap-4 md:grid-cols-4">
        <Stat label="Comparisons" value={counts.comparisons} />
        <Stat label="Complete" value={counts.completeComparisons} />
        <Stat label="Judgments" value={counts.judgments} />
        <Stat label="Judgments per comparison" value={p.judgmentsRequired} />
      </section>
      <div>
        <div className="mb-1 flex justify-between text-sm text-slate-600">
          <span>Progress</span>
          <span>
            {counts.judgments} / {counts.judgmentsRequired} judgments ({percent}%)
          </span>
        </div>
        <div className="h-2 rounded bg-slate-200" role="progressbar" aria-valuenow={percent} aria-valuemin={0} aria-valuemax={100} aria-label="Project progress">
          <div className="h-2 rounded bg-blue-600" style={{ width: `${percent}%` }} />
        </div>
      </div>

      <SettingsPanel
        key={p.id + JSON.stringify(p)}
        project={project}
        initial={{
          judgmentsRequired: p.judgmentsRequired,
          leaseSeconds: p.leaseSeconds,
          editMode: p.editMode,
          allowTies: p.allowTies,
          rankingStrength: p.rankingStrength,
          live: p.live,
          goldRate: p.goldRate,
          goldThreshold: p.goldThreshold,
          goldMinItems: p.goldMinItems,
          pauseBelowGold: p.pauseBelowGold,
          reviewSampleRate: p.reviewSampleRate,
        }}
      />
      <GuidelinesEditor project={project} />
      <LiveModels project={project} />
      <ImportPanel project={project} />
      <ExportPanel project={project} />
      <AnnotatorsTable project={project} />
      <ReviewStats project={project} />

      <MembersPanel project={project} members={members} />
    </main>
  );
}

function Stat({ label, value }: { label: string; value: number }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4">
      <div className="text-2xl font-semibold tabular-nums">{value.toLocaleString()}</div>
      <div className="text-sm text-slate-500">{label}</div>
    </div>
  );
}

type TImportState = { kind: 'idle' } | { kind: 'uploading'; percent: number } | { kind: 'processing' } | { kind: 'done'; message: string } | { kind: 'error'; message: string };

function ImportPanel({ project }: { project: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const fileInput = useRef<HTMLInputElement>(null);
  const [state, setState] = useState<TImportState>({ kind: 'idle' });

  function upload() {
    const file = fileInput.current?.files?.[0];
    if (!file) return setState({ kind: 'error', message: 'Choose a .jsonl or .jsonl.gz file first.' });
    // XMLHttpRequest rather than fetch: it reports upload progress.
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/projects/${encodeURIComponent(project)}/import`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => e.lengthComputable && setState({ kind: 'uploading', percent: Math.round((100 * e.loaded) / e.total) });
    xhr.upload.onload = () => setState({ kind: 'processing' });
    xhr.onerror = () => setState({ kind: 'error', message: 'The upload failed: network error.' });
    xhr.onload = () => {
      let body: { imported?: number; duplicates?: number; error?: string } = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON: reported below */
      }
      if (xhr.status === 200) {
        setState({ kind: 'done', message: `Imported ${body.imported} comparison(s); ${body.duplicates} duplicate(s) skipped.` });
        void queryClient.invalidateQueries({ queryKey: trpc.projects.overview.queryKey({ project }) });
      } else {
        setState({ kind: 'error', message: body.error ?? `The import failed (HTTP ${xhr.status}).` });
      }
    };
    setState({ kind: 'uploading', percent: 0 });
    xhr.send(file);
  }

  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4">
      <h2 className="mb-1 font-semibold">Import comparisons</h2>
      <p className="mb-3 text-sm text-slate-500">
        JSONL (optionally gzipped), one comparison a line: <code>{'{"id"?, "prompt", "responses": [{"content", "model"?}, …], "metadata"?}'}</code>. A bad line rejects the whole file.
      </p>
      <div className="flex items-center gap-3">
        <label className="text-sm">
          <span className="sr-only">Comparisons file</span>
          <input ref={fileInput} type="file" accept=".jsonl,.gz,application/gzip,application/x-ndjson" className="text-sm" />
        </label>
        <button type="button" onClick={upload} disabled={state.kind === 'uploading' || state.kind === 'processing'} className="rounded bg-slate-900 px-3 py-1.5 text-sm font-medium text-white disabled:opacity-40">
          Import
        </button>
      </div>
      {state.kind === 'uploading' && (
        <div className="mt-3 h-2 rounded bg-slate-200" role="progressbar" aria-label="Upload progress" aria-valuenow={state.percent}>
          <div className="h-2 rounded bg-blue-600" style={{ width: `${state.percent}%` }} />
        </div>
      )}
      {state.kind === 'processing' && <p className="mt-3 text-sm text-slate-600">Uploaded; validating and importing…</p>}
      {state.kind === 'done' && <p className="mt-3 text-sm text-green-700" role="status">{state.message}</p>}
      {state.kind === 'error' && <p className="mt-3 text-sm text-red-700" role="alert">{state.message}</p>}
    </section>
  );
}

const formatLabels: Record<TExportFormat, string> = {
  trl: 'TRL preference JSONL',
  'trl-implicit': 'TRL implicit-prompt JSONL',
  openai: 'OpenAI preference JSONL',
  'hh-rlhf': 'HH-RLHF JSONL',
  sft: 'SFT messages JSONL',
  parquet: 'TRL preference Parquet',
};

function ExportPanel({ project }: { project: string }) {
  const trpc = useTRPC();
  const [format, setFormat] = useState<TExportFormat>('trl');
  const queryClient = useQueryClient();
  const list = useQuery({
    ...trpc.exports.list.queryOptions({ project }),
    // Poll while the worker has something to do.
    refetchInterval: (query) => (query.state.data?.some((e) => e.status === 'queued' || e.status === 'running') ? 1000 : false),
  });
  const request = useMutation(
    trpc.exports.request.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.exports.list.queryKey({ project }) }) }),
  );
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4">
      <div className="mb-3 flex items-center gap-3">
        <h2 className="font-semibold">Exports</h2>
        <label className="ml-auto text-sm">
          <span className="sr-only">Format</span>
          <select value={format} onChange={(e) => setFormat(e.target.value as TExportFormat)} className="rounded border border-slate-300 px-2 py-1.5 text-sm">
            {exportFormats.map((f) => (
              <option key={f} value={f}>
                {formatLabels[f]}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => request.mutate({ project, format })} disabled={request.isPending} className="rounded bg-slate-900 px-3 py-1.5 text-sm font-medium text-white disabled:opacity-40">
          Export {formatLabels[format]}
        </button>
      </div>
      {request.error && <p className="mb-2 text-sm text-red-700" role="alert">{request.error.message}</p>}
      {list.data && list.data.length === 0 && <p className="text-sm text-slate-500">No exports yet.</p>}
      {list.data && list.data.length > 0 && (
        <table className="w-full text-sm">
          <thead className="text-left text-slate-500">
            <tr>
              <th className="py-1">Export</th>
              <th>Requested</th>
              <th>Status</th>
              <th>Pairs</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.map((e) => (
              <tr key={e.id} className="border-t border-slate-100" data-export-status={e.status}>
                <td className="py-1.5">#{e.id} ({e.format})</td>
                <td>{new Date(e.createdAt).toLocaleString()}</td>
                <td>{e.status === 'failed' ? <span title={e.error ?? ''}>failed</span> : e.status}</td>
                <td className="tabular-nums">{e.rowCount ?? '–'}</td>
                <td className="text-right">
                  {e.status === 'succeeded' && (
                    <a href={`/api/exports/${e.id}/download`} className="text-blue-700 underline">
                      Download
                    </a>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
