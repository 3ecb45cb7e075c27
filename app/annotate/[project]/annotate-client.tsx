'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Conversation, MessageBody } from '@/app/_components/messages';
import { useTRPC } from '@/app/_trpc/client';
import { strengthLabels, strengths, type TStrength } from '@/server/annotation/strengths';
import type { TLeasedComparison } from '@/server/annotation/lease';

const sides = ['A', 'B'] as const;

function isTypingTarget(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === 'TEXTAREA' || el.tagName === 'INPUT' || el.tagName === 'SELECT' || el.isContentEditable);
}

export function AnnotateClient({ project, projectName }: { project: string; projectName: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [queue, setQueue] = useState<TLeasedComparison[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [showHelp, setShowHelp] = useState(false);
  // Submitted locally but maybe not yet on the server: never show these again.
  const submitted = useRef(new Set<number>());

  const progress = useQuery(trpc.annotation.progress.queryOptions({ project }));
  const lease = useMutation(trpc.annotation.lease.mutationOptions());
  const submit = useMutation(trpc.annotation.submit.mutationOptions());

  const refill = useCallback(async () => {
    try {
      const { items } = await lease.mutateAsync({ project, want: 2 });
      setQueue((current) => {
        const fresh = items.filter((item) => !submitted.current.has(item.assignmentId));
        // Keep what is on screen in place; append what is new.
        const kept = (current ?? []).filter((item) => fresh.some((f) => f.assignmentId === item.assignmentId));
        const added = fresh.filter((f) => !kept.some((k) => k.assignmentId === f.assignmentId));
        return [...kept, ...added];
      });
    } catch (e) {
      setError(`Could not load the next comparison: ${(e as Error).message}`);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [project]);

  useEffect(() => {
    void refill();
  }, [refill]);

  const current = queue?.[0] ?? null;

  const doSubmit = useCallback(
    (item: TLeasedComparison, verdict: TVerdict) => {
      submitted.current.add(item.assignmentId);
      // The next comparison is already here: show it now, save in the background.
      setQueue((q) => (q ?? []).filter((i) => i.assignmentId !== item.assignmentId));
      setError(null);
      submit.mutate(
        { assignmentId: item.assignmentId, clientSubmissionId: crypto.randomUUID(), ...verdict },
        {
          onSuccess: () => {
            void queryClient.invalidateQueries({ queryKey: trpc.annotation.progress.queryKey({ project }) });
            void refill();
          },
          onError: (e) => {
            // Not saved: the lease is still ours unless it expired and went to someone else, so show it again.
            submitted.current.delete(item.assignmentId);
            setError(`Your judgment could not be saved: ${e.message}`);
            void refill();
          },
        },
      );
    },
    [submit, queryClient, trpc, project, refill],
  );

  const toggleHelp = useCallback(() => setShowHelp((s) => !s), []);

  const header = (
    <div className="mb-4 flex flex-wrap items-center gap-4">
      <h1 className="text-lg font-semibold">{projectName}</h1>
      {progress.data && (
        <span className="text-sm text-slate-600" data-testid="progress">
          {progress.data.today} today · {progress.data.total} in total
        </span>
      )}
      <button type="button" onClick={toggleHelp} className="ml-auto rounded border border-slate-300 px-2 py-1 text-sm text-slate-600 hover:bg-white">
        Keyboard help (?)
      </button>
    </div>
  );

  if (queue === null) {
    return (
      <main className="mx-auto max-w-7xl px-4 py-6">
        {header}
        {error ? <ErrorBanner message={error} /> : <p className="text-slate-500">Loading…</p>}
      </main>
    );
  }

  if (!current) {
    const waiting = lease.isPending || submit.isPending;
    return (
      <main className="mx-auto max-w-7xl px-4 py-6">
        {header}
        {error && <ErrorBanner message={error} />}
        {waiting ? (
          <p className="text-slate-500">Loading the next comparison…</p>
        ) : (
          <section className="mt-16 text-center">
            <h2 className="text-2xl font-semibold">All done</h2>
            <p className="mt-2 text-slate-600">There is nothing left for you to judge in this project right now. Thank you!</p>
            <Link href="/projects" className="mt-6 inline-block rounded bg-slate-900 px-4 py-2 text-sm font-medium text-white">
              Back to projects
            </Link>
          </section>
        )}
      </main>
    );
  }

  return (
    <main className="mx-auto max-w-7xl px-4 py-6" data-assignment={current.assignmentId}>
      {header}
      {error && <ErrorBanner message={error} />}
      {showHelp && <KeyboardHelp onClose={() => setShowHelp(false)} />}
      <JudgeComparison key={current.assignmentId} item={current} onSubmit={doSubmit} onToggleHelp={toggleHelp} />
    </main>
  );
}

interface TVerdict {
  chosenPosition: 0 | 1;
  strength: TStrength;
  rationale?: string;
  timeSpentMs: number;
}

/** One comparison on screen. Keyed by assignment, so its choices start empty for each new one. */
function JudgeComparison({ item, onSubmit, onToggleHelp }: { item: TLeasedComparison; onSubmit: (item: TLeasedComparison, verdict: TVerdict) => void; onToggleHelp: () => void }) {
  const [chosen, setChosen] = useState<0 | 1 | null>(null);
  const [strength, setStrength] = useState<TStrength | null>(null);
  const [rationale, setRationale] = useState('');
  const shownAt = useRef(0);
  useEffect(() => {
    shownAt.current = performance.now();
  }, []);

  const canSubmit = chosen !== null && strength !== null;
  const submitNow = useCallback(() => {
    if (chosen === null || strength === null) return;
    onSubmit(item, { chosenPosition: chosen, strength, rationale: rationale.trim() || undefined, timeSpentMs: Math.round(performance.now() - shownAt.current) });
  }, [chosen, strength, rationale, item, onSubmit]);

  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (event.altKey || event.metaKey) return;
      if (isTypingTarget(event.target)) {
        if (event.key === 'Enter' && event.ctrlKey) {
          event.preventDefault();
          submitNow();
        }
        return;
      }
      if (event.ctrlKey) return;
      const key = event.key;
      if (key === 'a' || key === 'A' || key === 'ArrowLeft') setChosen(0);
      else if (key === 'b' || key === 'B' || key === 'ArrowRight') setChosen(1);
      else if (key >= '1' && key <= '4') setStrength(strengths[Number(key) - 1]!);
      else if (key === 'Enter') submitNow();
      else if (key === '?') onToggleHelp();
      else return;
      event.preventDefault();
    }
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [submitNow, onToggleHelp]);

  return (
    <>
      <section aria-label="Conversation" className="mb-4">
        <Conversation messages={item.prompt} />
      </section>

      <div className="grid gap-4 md:grid-cols-2">
        {item.responses.map((response, i) => {
          const side = sides[i]!;
          const selected = chosen === i;
          return (
            <section
              key={i}
              role="region"
              aria-label={`Response ${side}`}
              className={`flex min-w-0 flex-col rounded-lg border-2 bg-white ${selected ? 'border-blue-600 ring-2 ring-blue-200' : 'border-slate-200'}`}
            >
              <div className="flex items-center justify-between border-b border-slate-100 px-4 py-2">
                <h2 className="font-semibold">Response {side}</h2>
                <button
                  type="button"
                  aria-pressed={selected}
                  onClick={() => setChosen(i as 0 | 1)}
                  className={`rounded px-3 py-1 text-sm font-medium ${selected ? 'bg-blue-600 text-white' : 'border border-slate-300 hover:bg-slate-50'}`}
                >
                  {side} is better <kbd className="ml-1 text-xs opacity-70">{i === 0 ? 'A / ←' : 'B / →'}</kbd>
                </button>
              </div>
              <div className="min-w-0 space-y-3 overflow-x-auto px-4 py-3">
                {response.messages.map((message, j) => (
                  <MessageBody key={j} message={message} />
                ))}
              </div>
            </section>
          );
        })}
      </div>

      <div className="sticky bottom-0 mt-4 rounded-lg border border-slate-200 bg-white/95 p-4 shadow-sm backdrop-blur">
        <fieldset className="flex flex-wrap items-center gap-2">
          <legend className="sr-only">Strength of preference</legend>
          <span className="mr-2 text-sm text-slate-600">{chosen === null ? 'Choose a response, then how much better it is:' : `Response ${sides[chosen]} is…`}</span>
          {strengths.map((s, i) => (
            <button
              key={s}
              type="button"
              aria-pressed={strength === s}
              onClick={() => setStrength(s)}
              className={`rounded px-3 py-1.5 text-sm ${strength === s ? 'bg-blue-600 text-white' : 'border border-slate-300 hover:bg-slate-50'}`}
            >
              <kbd className="mr-1 text-xs opacity-70">{i + 1}</kbd>
              {strengthLabels[s]}
            </button>
          ))}
        </fieldset>
        <div className="mt-3 flex items-end gap-3">
          <label className="flex-1">
            <span className="mb-1 block text-xs text-slate-500">Rationale (optional; Ctrl+Enter submits from here)</span>
            <textarea value={rationale} onChange={(e) => setRationale(e.target.value)} rows={1} className="w-full rounded border border-slate-300 px-2 py-1 text-sm" />
          </label>
          <button type="button" disabled={!canSubmit} onClick={submitNow} className="rounded bg-slate-900 px-5 py-2 font-medium text-white disabled:cursor-not-allowed disabled:opacity-40">
            Submit <kbd className="ml-1 text-xs opacity-70">Enter</kbd>
          </button>
        </div>
      </div>
    </>
  );
}

function ErrorBanner({ message }: { message: string }) {
  return (
    <p role="alert" className="mb-4 rounded border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
      {message}
    </p>
  );
}

function KeyboardHelp({ onClose }: { onClose: () => void }) {
  const rows: [string, string][] = [
    ['A or ←', 'choose Response A (left)'],
    ['B or →', 'choose Response B (right)'],
    ['1 – 4', 'significantly better, better, slightly better, marginally better'],
    ['Enter', 'submit and go to the next comparison'],
    ['?', 'show or hide this help'],
  ];
  return (
    <div role="dialog" aria-label="Keyboard help" className="mb-4 rounded-lg border border-slate-200 bg-white p-4 text-sm shadow">
      <div className="mb-2 flex items-center justify-between">
        <h2 className="font-semibold">Keyboard</h2>
        <button type="button" onClick={onClose} className="text-slate-500 hover:text-slate-900">
          Close
        </button>
      </div>
      <table>
        <tbody>
          {rows.map(([key, what]) => (
            <tr key={key}>
              <td className="pr-4 font-mono">{key}</td>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
