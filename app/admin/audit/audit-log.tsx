'use client';

import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '@/app/_trpc/client';

const inputClass = 'w-full rounded border border-slate-300 px-2 py-1.5 text-sm';

type TFilters = { action?: string; project?: string; actor?: string };

/** A before/after value as indented JSON text (never as HTML: it may hold imported or typed text). */
function JsonBlock({ label, value }: { label: string; value: unknown }) {
  if (value === null || value === undefined) return null;
  return (
    <div className="min-w-0 flex-1">
      <div className="text-xs font-medium text-slate-500">{label}</div>
      <pre className="max-h-64 overflow-auto whitespace-pre-wrap break-words rounded bg-slate-50 p-2 text-xs">{JSON.stringify(value, null, 2)}</pre>
    </div>
  );
}

export function AuditLog() {
  const trpc = useTRPC();
  const [draft, setDraft] = useState<TFilters>({});
  const [filters, setFilters] = useState<TFilters>({});
  const actions = useQuery(trpc.audit.actions.queryOptions());
  const events = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions({ ...filters, limit: 100 }, { getNextPageParam: (page) => page.nextBefore ?? undefined }),
  );
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters(Object.fromEntries(Object.entries(draft).filter(([, v]) => v)) as TFilters);
  };
  const exportHref = `/api/audit/export?${new URLSearchParams(Object.entries(filters).filter(([, v]) => v) as [string, string][]).toString()}`;
  const rows = events.data?.pages.flatMap((p) => p.events) ?? [];

  return (
    <main className="mx-auto max-w-6xl space-y-6 px-4 py-8">
      <div className="flex items-baseline gap-4">
        <h1 className="text-2xl font-semibold">Audit log</h1>
        <a href={exportHref} className="ml-auto text-sm text-blue-700 underline" download>
          Export as JSON Lines
        </a>
      </div>
      <p className="text-sm text-slate-600">
        Every change admins made (settings, guidelines, members and roles, users, tokens, models, executors, rounds, dataset builds, gold) from the web app, the API or
        the command line, newest first. Secrets are never recorded.
      </p>
      <form onSubmit={apply} className="grid gap-3 rounded-lg border border-slate-200 bg-white p-4 md:grid-cols-4">
        <label className="text-sm">
          <span className="mb-1 block text-slate-600">Action</span>
          <select className={inputClass} value={draft.action ?? ''} onChange={(e) => setDraft({ ...draft, action: e.target.value || undefined })}>
            <option value="">any</option>
            {actions.data?.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label className="text-sm">
          <span className="mb-1 block text-slate-600">Project (slug)</span>
          <input className={inputClass} value={draft.project ?? ''} onChange={(e) => setDraft({ ...draft, project: e.target.value || undefined })} />
        </label>
        <label className="text-sm">
          <span className="mb-1 block text-slate-600">Who (email)</span>
          <input className={inputClass} value={draft.actor ?? ''} onChange={(e) => setDraft({ ...draft, actor: e.target.value || undefined })} />
        </label>
        <div className="flex items-end">
          <button type="submit" className="rounded bg-slate-900 px-3 py-1.5 text-sm text-white">
            Filter
          </button>
        </div>
      </form>
      {events.error ? (
        <p role="alert" className="text-sm text-red-700">
          {events.error.message}
        </p>
      ) : null}
      <ol className="space-y-2" data-testid="audit-events">
        {rows.map((e) => (
          <li key={e.id} className="rounded-lg border border-slate-200 bg-white p-3 text-sm">
            <details>
              <summary className="flex cursor-pointer flex-wrap items-baseline gap-x-3">
                <time className="text-slate-500" dateTime={new Date(e.at).toISOString()}>
                  {new Date(e.at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })}
                </time>
                <code className="font-medium">{e.action}</code>
                <span>{e.actor}</span>
                <span className="text-slate-500">via {e.via}</span>
                {e.project ? <span className="text-slate-500">project {e.project}</span> : null}
                {e.target ? <span className="truncate text-slate-500">{e.target}</span> : null}
              </summary>
              <div className="mt-2 flex flex-col gap-2 md:flex-row">
                <JsonBlock label="Before" value={e.before} />
                <JsonBlock label="After" value={e.after} />
              </div>
            </details>
          </li>
        ))}
      </ol>
      {events.isLoading ? <p className="text-sm text-slate-500">Loading…</p> : null}
      {!events.isLoading && rows.length === 0 ? <p className="text-sm text-slate-500">Nothing recorded yet.</p> : null}
      {events.hasNextPage ? (
        <button type="button" className="rounded border border-slate-300 px-3 py-1.5 text-sm" onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          {events.isFetchingNextPage ? 'Loading…' : 'Older'}
        </button>
      ) : null}
    </main>
  );
}
