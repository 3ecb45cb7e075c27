'use client';

import { useState, type ReactNode } from 'react';
import { versionFileName } from '../file-name';
import { orderedSpec } from '../spec-form';
import { CopyableText, CopyButton, useOrigin } from '../version-bits';

const splitLabels: Record<string, string> = { train: 'Train', test: 'Test', all: 'All' };

export const bytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

const downloadHref = (id: number, format: string, split: string) => `/api/datasets/${id}/download?format=${encodeURIComponent(format)}&split=${encodeURIComponent(split)}`;

/** A version's content hash, copyable, and its files with their sizes. */
export function HashAndFiles({ hash, note, files }: { hash: string; note: string; files: { key: string; bytes: number; description: string }[] }) {
  return (
    <Card title="Content hash" note={note}>
      <div className="flex items-start gap-2">
        <code className="min-w-0 flex-1 break-all rounded bg-slate-50 px-2 py-1 text-xs" data-testid="content-hash">
          {hash}
        </code>
        <CopyButton text={hash} />
      </div>
      <h3 className="mb-1 mt-4 text-sm font-medium">Files</h3>
      <table className="w-full text-sm" aria-label="Files">
        <tbody>
          {files.map((f) => (
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
  );
}

export function Downloads({
  versionId,
  name,
  formats,
  splits,
  splitCounts,
  unit,
  descriptions,
  note,
}: {
  versionId: number;
  name: string;
  formats: string[];
  splits: string[];
  /** Lines per split, shown in the column headers as `(N <unit>)`. */
  splitCounts: Record<string, number>;
  unit: string;
  descriptions: Record<string, string>;
  note: string;
}) {
  const origin = useOrigin();
  const [format, setFormat] = useState(formats[0] ?? '');
  const [split, setSplit] = useState(splits[0] ?? '');
  const fileName = versionFileName({ id: versionId, name }, format, split);
  const restUrl = `${origin || ''}/api/v1/datasets/${versionId}/download?format=${encodeURIComponent(format)}&split=${encodeURIComponent(split)}`;
  return (
    <Card title="Download" note={note}>
      <div className="overflow-x-auto">
        <table className="w-full text-sm" aria-label="Downloads">
          <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
            <tr>
              <th className="py-1.5 pr-3 font-medium">Format</th>
              {splits.map((s) => (
                <th key={s} className="pr-3 font-medium">
                  {splitLabels[s] ?? s} <span className="font-normal normal-case tracking-normal">({(splitCounts[s] ?? 0).toLocaleString()} {unit})</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {formats.map((f) => (
              <tr key={f} className="border-t border-slate-100">
                <td className="py-1.5 pr-3">
                  <code className="text-xs font-medium">{f}</code> <span className="text-slate-500">{descriptions[f] ?? ''}</span>
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

export function SpecBlock({ spec }: { spec: unknown }) {
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

export function Card({ title, note, children }: { title: string; note?: string; children: ReactNode }) {
  return (
    <section className="min-w-0 rounded-lg border border-slate-200 bg-white p-4" aria-label={title}>
      <h2 className="font-semibold">{title}</h2>
      {note && <p className="mb-3 text-xs text-slate-500">{note}</p>}
      {!note && <div className="mb-3" />}
      {children}
    </section>
  );
}

export function Stat({ label, value, note }: { label: string; value: number; note?: string }) {
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

export function DropRow({ label, value, note, mono }: { label: string; value: number; note?: string; mono?: boolean }) {
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
