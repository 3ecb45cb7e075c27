'use client';

import { useState, useSyncExternalStore } from 'react';

export type TVersionStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const isActive = (status: string) => status === 'queued' || status === 'running';

const badgeClasses: Record<TVersionStatus, string> = {
  queued: 'bg-slate-100 text-slate-700',
  running: 'bg-blue-100 text-blue-800',
  succeeded: 'bg-green-100 text-green-800',
  failed: 'bg-red-100 text-red-800',
  cancelled: 'bg-amber-100 text-amber-800',
};

export function StatusBadge({ status }: { status: TVersionStatus }) {
  return (
    <span data-status={status} className={`inline-block rounded px-1.5 py-0.5 text-xs font-medium ${badgeClasses[status] ?? badgeClasses.queued}`}>
      {status}
    </span>
  );
}

const kindClasses: Record<string, string> = {
  preference: 'border-indigo-200 bg-indigo-50 text-indigo-800',
  sft: 'border-teal-200 bg-teal-50 text-teal-800',
};

const kindTitles: Record<string, string> = {
  preference: 'preference pairs from judgments',
  sft: 'SFT conversations from rejection sampling',
};

/** What a version holds: preference pairs, or SFT conversations. */
export function KindBadge({ kind }: { kind: string }) {
  return (
    <span data-kind={kind} title={kindTitles[kind]} className={`inline-block rounded border px-1.5 py-0.5 text-xs font-medium ${kindClasses[kind] ?? kindClasses.preference}`}>
      {kind === 'sft' ? 'SFT' : kind}
    </span>
  );
}

/** Items (judgments, or an SFT version's conversations) done out of those to do; a queued build has no total yet. */
export function BuildProgress({
  status,
  done,
  total,
  label,
  width = 'w-40',
  what = 'judgments',
}: {
  status: TVersionStatus;
  done: number;
  total: number | null;
  label: string;
  width?: string;
  what?: string;
}) {
  if (status === 'queued' || total === null) {
    return (
      <div className={width}>
        <div className="h-1.5 overflow-hidden rounded bg-slate-200" role="progressbar" aria-label={label}>
          <div className="h-1.5 w-1/3 animate-pulse rounded bg-slate-400" />
        </div>
        <div className="mt-0.5 whitespace-nowrap text-xs text-slate-500">{status === 'queued' ? 'waiting for the worker' : `counting ${what}`}</div>
      </div>
    );
  }
  const percent = total > 0 ? Math.min(100, Math.round((100 * done) / total)) : 0;
  return (
    <div className={width}>
      <div className="h-1.5 rounded bg-slate-200" role="progressbar" aria-label={label} aria-valuenow={percent} aria-valuemin={0} aria-valuemax={100}>
        <div className="h-1.5 rounded bg-blue-600 transition-[width]" style={{ width: `${percent}%` }} />
      </div>
      <div className="mt-0.5 whitespace-nowrap text-xs tabular-nums text-slate-500">
        {done.toLocaleString()} / {total.toLocaleString()} {what} ({percent}%)
      </div>
    </div>
  );
}

/**
 * Copies text. The clipboard API exists only on secure origins (https, localhost); on plain http
 * a selected, off-screen textarea and the copy command do the same.
 */
async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Refused: fall through to the copy command.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.left = '-9999px';
  document.body.appendChild(area);
  area.select();
  try {
    return document.execCommand('copy');
  } finally {
    area.remove();
  }
}

/** Copies `text`; says so for a moment. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    if (!(await copyText(text))) return;
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  }
  return (
    <button type="button" onClick={copy} className="shrink-0 rounded border border-slate-300 px-1.5 py-0.5 text-xs text-slate-600 hover:bg-slate-50" aria-label={`${label}: ${text}`}>
      {copied ? 'Copied' : label}
    </button>
  );
}

/** A content hash: the first 12 characters; the whole on hover, copied on click. */
export function ShortHash({ hash }: { hash: string | null }) {
  const [copied, setCopied] = useState(false);
  if (!hash) return <span className="text-slate-400">–</span>;
  async function copy() {
    if (!(await copyText(hash!))) return;
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  }
  return (
    <button type="button" onClick={copy} title={`${hash} (click to copy)`} aria-label={`Copy content hash ${hash}`} className="rounded px-1 py-0.5 font-mono text-xs hover:bg-slate-100">
      {copied ? 'copied' : hash.slice(0, 12)}
    </button>
  );
}

/** A block of text to copy: a command, a URL. */
export function CopyableText({ text, label }: { text: string; label: string }) {
  return (
    <div className="flex items-start gap-2">
      <pre aria-label={label} className="min-w-0 flex-1 whitespace-pre-wrap break-all rounded bg-slate-900 px-3 py-2 text-xs text-slate-100">
        <code>{text}</code>
      </pre>
      <CopyButton text={text} />
    </div>
  );
}

const noSubscription = () => () => {};

/** This page's origin, once in the browser ('' while rendering on the server). */
export function useOrigin(): string {
  return useSyncExternalStore(
    noSubscription,
    () => window.location.origin,
    () => '',
  );
}

export const formatDate = (date: Date | string) => new Date(date).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const formatShortDate = (date: Date | string) => new Date(date).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
