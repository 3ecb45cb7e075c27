'use client';

import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '@/app/_trpc/client';
import { strengthLabels } from '@/server/annotation/strengths';
import { flagLabels } from './verdict-types';
import type { TJudgmentFlag } from '@/db/schema';

/** The annotator's own last judgments, read-only. */
export function HistoryPanel({ project, onClose }: { project: string; onClose: () => void }) {
  const trpc = useTRPC();
  const history = useQuery(trpc.annotation.history.queryOptions({ project, limit: 10 }));
  return (
    <section aria-label="My recent judgments" className="sticky top-4 rounded-lg border border-slate-200 bg-white p-4">
      <div className="mb-2 flex items-center justify-between">
        <h2 className="font-semibold">My recent judgments</h2>
        <button type="button" onClick={onClose} className="text-sm text-slate-500 hover:text-slate-900">
          Close
        </button>
      </div>
      {history.data?.length === 0 && <p className="text-sm text-slate-500">None yet.</p>}
      <ol className="space-y-2 text-sm">
        {history.data?.map((h) => (
          <li key={h.handle} className="rounded border border-slate-100 p-2">
            <div className="line-clamp-2 text-slate-800">{h.promptPreview || '(no user message)'}</div>
            <div className="mt-1 flex flex-wrap gap-x-3 text-xs text-slate-500">
              <span>{new Date(h.createdAt).toLocaleTimeString()}</span>
              <span>{h.responses > 2 ? `ranking of ${h.responses}` : h.strength ? strengthLabels[h.strength] : ''}</span>
              {h.edited && <span>edited</span>}
              {h.flags.map((f) => (
                <span key={f}>{flagLabels[f as TJudgmentFlag] ?? f}</span>
              ))}
              <span>{Math.round(h.timeSpentMs / 1000)} s</span>
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}
