'use client';

import { MessageBody } from '@/app/_components/messages';
import { sideLetters } from './verdict-types';

export interface TSideState {
  text: string;
  status: 'streaming' | 'done' | 'error';
  error?: string;
}

/**
 * The two answers as they stream in, side by side. Labelled "Response A" and "Response B"
 * only: which model writes which is never shown. Model output renders as markdown like
 * everywhere else (no raw HTML).
 */
export function LiveAnswers({ sides, onRetry }: { sides: TSideState[]; onRetry: (side: 0 | 1) => void }) {
  return (
    <div className="grid gap-4 md:grid-cols-2">
      {sides.map((s, i) => {
        const letter = sideLetters[i]!;
        return (
          <section key={i} role="region" aria-label={`Response ${letter}`} aria-busy={s.status === 'streaming'} data-status={s.status} className="flex min-w-0 flex-col rounded-lg border-2 border-slate-200 bg-white">
            <div className="flex items-center justify-between gap-2 border-b border-slate-100 px-4 py-2">
              <h2 className="font-semibold">Response {letter}</h2>
              <span className="text-xs text-slate-500">{s.status === 'streaming' ? 'Writing…' : s.status === 'done' ? 'Done' : 'Failed'}</span>
            </div>
            <div className="min-w-0 space-y-3 overflow-x-auto px-4 py-3">
              {s.text ? <MessageBody message={{ role: 'assistant', content: s.text }} /> : s.status === 'streaming' && <p className="text-sm text-slate-400">Waiting for the model…</p>}
              {s.status === 'error' && (
                <div role="alert" className="flex flex-wrap items-center gap-3 rounded border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
                  <span className="min-w-0 flex-1">{s.error}</span>
                  <button type="button" onClick={() => onRetry(i as 0 | 1)} className="rounded border border-red-300 bg-white px-3 py-1 font-medium text-red-700 hover:bg-red-50">
                    Retry
                  </button>
                </div>
              )}
            </div>
          </section>
        );
      })}
    </div>
  );
}
