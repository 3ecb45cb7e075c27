'use client';

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { strengthLabels, strengths } from '@/server/annotation/strengths';

const pct = (value: number | null | undefined) => (typeof value === 'number' && Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : '–');

/** A failed stage's error as the executor or the stage wrote it: plain text (React escapes it). */
export function StageError({ kind, error }: { kind: string; error: string }) {
  return (
    <div role="alert" className="rounded border border-red-200 bg-red-50 p-2 text-sm text-red-800" data-testid="stage-error">
      <p className="font-medium">The {kind} stage failed:</p>
      <p className="whitespace-pre-wrap break-words">{error}</p>
    </div>
  );
}

interface THeldOut {
  pairs?: number;
  accuracy?: number | null;
  byStrength?: Record<string, { pairs?: number; accuracy?: number }>;
}

/** Strength levels strongest first, then whatever else the scores were grouped by (unrated pairs). */
function strengthOrder(keys: string[]): string[] {
  const known = strengths.filter((s) => keys.includes(s)) as string[];
  return [...known, ...keys.filter((k) => !known.includes(k)).sort()];
}

/** The reward model's accuracy on the version's held-out pairs, overall and by preference strength. */
export function HeldOutAccuracy({ runId, heldOut }: { runId: number; heldOut: THeldOut }) {
  const byStrength = heldOut.byStrength && typeof heldOut.byStrength === 'object' ? heldOut.byStrength : {};
  const cell = 'px-2 py-1';
  return (
    <div>
      <p id={`held-out-${runId}`} className="text-sm font-medium">
        Held-out accuracy <span className="text-xs font-normal text-slate-600">(chosen scored above rejected, on the version’s test pairs)</span>
      </p>
      <table className="text-sm" aria-labelledby={`held-out-${runId}`}>
        <thead>
          <tr className="text-left text-slate-600">
            <th scope="col" className={cell}>
              Strength
            </th>
            <th scope="col" className={`${cell} text-right`}>
              Pairs
            </th>
            <th scope="col" className={`${cell} text-right`}>
              Accuracy
            </th>
          </tr>
        </thead>
        <tbody className="tabular-nums">
          {strengthOrder(Object.keys(byStrength)).map((key) => (
            <tr key={key} className="border-t border-slate-100">
              <th scope="row" className={`${cell} text-left font-normal`}>
                {strengthLabels[key as keyof typeof strengthLabels] ?? (key === 'unrated' ? 'Unrated' : key)}
              </th>
              <td className={`${cell} text-right`}>{byStrength[key]?.pairs ?? '–'}</td>
              <td className={`${cell} text-right`}>{pct(byStrength[key]?.accuracy)}</td>
            </tr>
          ))}
          <tr className="border-t border-slate-300 font-medium">
            <th scope="row" className={`${cell} text-left`}>
              All
            </th>
            <td className={`${cell} text-right`}>{heldOut.pairs ?? '–'}</td>
            <td className={`${cell} text-right`}>{pct(heldOut.accuracy)}</td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

export interface TGate {
  passed?: boolean;
  winRateLow?: number | null;
  threshold?: number;
  reason?: string;
  override?: { reason?: string; by?: number };
}

/** The registration gate's verdict: passed or failed, with the lower bound against the threshold. */
export function GateBadge({ gate }: { gate: TGate }) {
  const passed = gate.passed === true;
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm" data-testid="gate">
      <span className={`rounded px-2 py-0.5 text-xs font-semibold ${passed ? 'bg-green-100 text-green-800' : 'bg-red-100 text-red-800'}`}>{passed ? 'Gate passed' : 'Gate failed'}</span>
      <span className="tabular-nums">
        {typeof gate.winRateLow === 'number' ? `win-rate lower bound ${pct(gate.winRateLow)} ${passed ? '>' : '≤'} threshold ${pct(gate.threshold)}` : `nothing measured; threshold ${pct(gate.threshold)}`}
      </span>
      {gate.reason ? <span className="text-xs text-slate-600">({gate.reason})</span> : null}
      {gate.override?.reason ? (
        <p className="w-full text-sm text-amber-800">
          Registered anyway: <span className="whitespace-pre-wrap break-words">{gate.override.reason}</span>
        </p>
      ) : null}
    </div>
  );
}

/**
 * "Register anyway…": after a failed gate, an admin can register the new policy with a reason,
 * which the register stage records with the model.
 */
export function RegisterAnyway({ pending, error, onConfirm }: { pending: boolean; error: string | null; onConfirm: (reason: string) => void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState(false);
  const textareaRef = useRef<HTMLTextAreaElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const wasOpen = useRef(false);
  // Opened on purpose to type the reason: the cursor goes there, and back to the button on cancel.
  useEffect(() => {
    if (open) textareaRef.current?.focus();
    else if (wasOpen.current) buttonRef.current?.focus();
    wasOpen.current = open;
  }, [open]);
  if (!open) {
    return (
      <button ref={buttonRef} type="button" className="rounded border border-amber-500 bg-amber-50 px-3 py-1.5 text-sm text-amber-900" onClick={() => setOpen(true)}>
        Register anyway…
      </button>
    );
  }
  function submit(event: FormEvent) {
    event.preventDefault();
    if (!reason.trim()) {
      setMissing(true);
      return;
    }
    onConfirm(reason.trim());
  }
  return (
    <form
      onSubmit={submit}
      noValidate
      className="w-full space-y-2 rounded border border-amber-300 bg-amber-50 p-3"
      aria-label="Register anyway"
      onKeyDown={(e) => {
        if (e.key === 'Escape') setOpen(false);
      }}
    >
      <label htmlFor="gate-override-reason" className="block text-sm font-medium text-amber-900">
        Why register the new policy although the gate did not pass?
      </label>
      <textarea
        id="gate-override-reason"
        className="w-full rounded border border-slate-300 bg-white px-2 py-1.5 text-sm aria-[invalid=true]:border-red-500"
        rows={3}
        maxLength={2000}
        value={reason}
        onChange={(e) => {
          setReason(e.target.value);
          setMissing(false);
        }}
        aria-describedby="gate-override-hint"
        aria-invalid={missing}
        ref={textareaRef}
      />
      <p id="gate-override-hint" className="text-xs text-slate-600">
        The reason is recorded with the model and the register stage runs again.
      </p>
      {missing ? (
        <p role="alert" className="text-xs text-red-700">
          Give a reason.
        </p>
      ) : null}
      {error ? (
        <p role="alert" className="whitespace-pre-wrap break-words text-sm text-red-700">
          {error}
        </p>
      ) : null}
      <div className="flex gap-2">
        <button type="submit" className="rounded bg-amber-700 px-3 py-1.5 text-sm text-white disabled:opacity-50" disabled={pending}>
          {pending ? 'Registering…' : 'Register anyway'}
        </button>
        <button type="button" className="rounded border border-slate-300 bg-white px-3 py-1.5 text-sm" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
