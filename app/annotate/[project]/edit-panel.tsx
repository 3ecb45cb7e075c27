'use client';

import { diffWordsWithSpace } from 'diff';
import { useMemo, useState } from 'react';
import { Markdown } from '@/app/_components/markdown';

type TTab = 'write' | 'preview' | 'changes';

/** The edit step: rewrite the chosen response's final answer, preview it, see the changes. */
export function EditPanel({ original, value, onChange, onClose, required }: { original: string; value: string; onChange: (text: string) => void; onClose: () => void; required: boolean }) {
  const [tab, setTab] = useState<TTab>('write');
  const changed = value !== original;
  return (
    <section aria-label="Edit the chosen response" className="mt-4 rounded-lg border-2 border-amber-300 bg-white">
      <div className="flex items-center gap-2 border-b border-slate-100 px-4 py-2">
        <h2 className="font-semibold">Edit the chosen response</h2>
        <span className="text-xs text-slate-500">{required ? 'required in this project' : 'optional'} · ranked above the original when changed</span>
        <div className="ml-auto flex gap-1" role="tablist">
          {(['write', 'preview', 'changes'] as const).map((t) => (
            <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => setTab(t)} className={`rounded px-2 py-1 text-sm capitalize ${tab === t ? 'bg-slate-900 text-white' : 'hover:bg-slate-100'}`}>
              {t}
            </button>
          ))}
          <button type="button" onClick={onClose} className="ml-2 rounded px-2 py-1 text-sm text-slate-500 hover:bg-slate-100" title="Esc">
            Close
          </button>
        </div>
      </div>
      <div className="p-4">
        {tab === 'write' && (
          <label className="block">
            <span className="sr-only">Edited response (markdown)</span>
            <textarea
              autoFocus
              value={value}
              onChange={(e) => onChange(e.target.value)}
              onKeyDown={(e) => e.key === 'Escape' && onClose()}
              rows={Math.min(24, Math.max(8, value.split('\n').length + 1))}
              className="w-full rounded border border-slate-300 p-2 font-mono text-sm"
            />
          </label>
        )}
        {tab === 'preview' && <Markdown text={value} />}
        {tab === 'changes' && <ChangesView original={original} edited={value} />}
        <p className="mt-2 text-xs text-slate-500">{changed ? 'Changed: the edit is saved with your judgment.' : 'No changes yet.'} Ctrl+Enter submits; Esc closes.</p>
      </div>
    </section>
  );
}

function ChangesView({ original, edited }: { original: string; edited: string }) {
  const parts = useMemo(() => diffWordsWithSpace(original, edited), [original, edited]);
  return (
    <pre className="max-h-[28rem] overflow-auto rounded bg-slate-50 p-3 text-sm whitespace-pre-wrap" data-testid="edit-diff">
      {parts.map((part, i) =>
        part.added ? (
          <ins key={i} className="bg-green-100 text-green-900 no-underline">
            {part.value}
          </ins>
        ) : part.removed ? (
          <del key={i} className="bg-red-100 text-red-900">
            {part.value}
          </del>
        ) : (
          <span key={i}>{part.value}</span>
        ),
      )}
    </pre>
  );
}
