'use client';

import { useState } from 'react';

const reasons = ['I cannot judge this topic', 'Both responses are empty or broken', 'Too long to judge well', 'Other'];

/** Skip with a reason: the comparison goes to someone else and never comes back to you. */
export function SkipDialog({ onSkip, onCancel }: { onSkip: (reason: string) => void; onCancel: () => void }) {
  const [choice, setChoice] = useState(reasons[0]!);
  const [other, setOther] = useState('');
  const reason = choice === 'Other' ? other.trim() : choice;
  return (
    <div role="dialog" aria-label="Skip this comparison" className="fixed inset-0 z-20 flex items-center justify-center bg-slate-900/30" onKeyDown={(e) => e.key === 'Escape' && onCancel()}>
      <form
        className="w-full max-w-md rounded-lg bg-white p-5 shadow-xl"
        onSubmit={(e) => {
          e.preventDefault();
          if (reason) onSkip(reason);
        }}
      >
        <h2 className="mb-3 text-lg font-semibold">Skip this comparison</h2>
        <fieldset className="space-y-2">
          <legend className="mb-1 text-sm text-slate-600">Why?</legend>
          {reasons.map((r, i) => (
            <label key={r} className="flex items-center gap-2 text-sm">
              <input type="radio" name="reason" value={r} checked={choice === r} onChange={() => setChoice(r)} autoFocus={i === 0} />
              {r}
            </label>
          ))}
          {choice === 'Other' && (
            <input aria-label="Other reason" value={other} onChange={(e) => setOther(e.target.value)} autoFocus className="w-full rounded border border-slate-300 px-2 py-1 text-sm" maxLength={500} />
          )}
        </fieldset>
        <div className="mt-4 flex justify-end gap-2">
          <button type="button" onClick={onCancel} className="rounded px-3 py-1.5 text-sm hover:bg-slate-100">
            Cancel
          </button>
          <button type="submit" disabled={!reason} className="rounded bg-slate-900 px-3 py-1.5 text-sm font-medium text-white disabled:opacity-40">
            Skip
          </button>
        </div>
      </form>
    </div>
  );
}
