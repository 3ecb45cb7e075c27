'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Conversation, MessageBody, ResponseMessage } from '@/app/_components/messages';
import { StrengthButtons } from '@/app/_components/strength-buttons';
import { trpcCode, useTRPC } from '@/app/_trpc/client';
import type { TJudgmentFlag } from '@/db/schema';
import { strengthLabels, strengths, type TStrength } from '@/server/annotation/strengths';
import type { TReviewItem, TReviewReason } from '@/server/quality/reviews';
import { flagLabels } from '@/app/annotate/[project]/verdict-types';

type TDecision = 'accept' | 'reject' | 'correct';
interface TReviewVerdict {
  decision: TDecision;
  correctedChoice?: 0 | 1;
  correctedStrength?: TStrength;
  note?: string;
}

const sideNames = ['First response', 'Second response'] as const;

const reasonStyles: Record<TReviewReason, { label: string; className: string }> = {
  flagged: { label: 'Flagged', className: 'bg-amber-100 text-amber-900 border-amber-300' },
  conflict: { label: 'Conflict', className: 'bg-red-100 text-red-800 border-red-300' },
  sampled: { label: 'Sampled', className: 'bg-slate-100 text-slate-700 border-slate-300' },
};

function isTypingTarget(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === 'TEXTAREA' || el.tagName === 'INPUT' || el.tagName === 'SELECT' || el.isContentEditable);
}

/**
 * The reviewer's queue, one judgment at a time. Decisions are saved in the background while the
 * next judgment shows; a failed save brings the judgment back. N moves a judgment to the back.
 */
export function ReviewClient({ project, projectName }: { project: string; projectName: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const queue = useQuery({ ...trpc.reviews.queue.queryOptions({ project, limit: 20 }), staleTime: 0 });
  const submit = useMutation(trpc.reviews.submit.mutationOptions());
  // Decided here (saved or being saved): never shown again, even if a refetch still lists them.
  const [done, setDone] = useState<ReadonlySet<number>>(new Set());
  // Skipped with N, in skip order: they go to the back of the queue.
  const [skipped, setSkipped] = useState<number[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [saved, setSaved] = useState(0);

  const order = useMemo(() => {
    const open = (queue.data ?? []).filter((item) => !done.has(item.judgmentId));
    const rank = (id: number) => skipped.indexOf(id);
    return [...open.filter((i) => rank(i.judgmentId) < 0), ...open.filter((i) => rank(i.judgmentId) >= 0).sort((a, b) => rank(a.judgmentId) - rank(b.judgmentId))];
  }, [queue.data, done, skipped]);
  const current = order[0] ?? null;

  const refetch = useCallback(() => queryClient.invalidateQueries({ queryKey: trpc.reviews.queue.queryKey({ project, limit: 20 }) }), [queryClient, trpc, project]);

  // Top the queue up from the server before it runs dry.
  const remaining = order.length;
  const fetching = queue.isFetching;
  useEffect(() => {
    if (queue.data && queue.data.length >= 20 && remaining < 5 && !fetching) void refetch();
  }, [remaining, fetching, queue.data, refetch]);

  const onDecide = useCallback(
    (item: TReviewItem, verdict: TReviewVerdict) => {
      setDone((d) => new Set(d).add(item.judgmentId));
      setError(null);
      setNotice(null);
      submit.mutateAsync({ project, judgmentId: item.judgmentId, ...verdict }).then(
        () => setSaved((n) => n + 1),
        (e: unknown) => {
          if (trpcCode(e) === 'CONFLICT') {
            setNotice('That judgment had already been reviewed by someone else; moved on.');
            return;
          }
          setDone((d) => {
            const next = new Set(d);
            next.delete(item.judgmentId);
            return next;
          });
          setError(`Your review could not be saved: ${(e as Error).message}`);
        },
      );
    },
    [submit, project],
  );

  const onSkip = useCallback((item: TReviewItem) => {
    setSkipped((s) => [...s.filter((id) => id !== item.judgmentId), item.judgmentId]);
  }, []);

  let body;
  if (queue.error) body = <p className="text-red-700">{queue.error.message}</p>;
  else if (!queue.data) body = <p className="text-slate-500">Loading…</p>;
  else if (!current) {
    body = (
      <section className="mt-16 text-center">
        <h2 className="text-2xl font-semibold">Queue empty</h2>
        <p className="mt-2 text-slate-600">Nothing flagged, conflicting or sampled is waiting for review in this project right now.</p>
        <div className="mt-6 flex justify-center gap-3">
          <button type="button" onClick={() => void refetch()} className="rounded border border-slate-300 px-4 py-2 text-sm hover:bg-white">
            Check again
          </button>
          <Link href="/projects" className="rounded bg-slate-900 px-4 py-2 text-sm font-medium text-white">
            Back to projects
          </Link>
        </div>
      </section>
    );
  } else body = <ReviewItem key={current.judgmentId} item={current} onDecide={onDecide} onSkip={onSkip} canSkip={order.length > 1} />;

  return (
    <main className="mx-auto max-w-[96rem] px-4 py-6" data-judgment={current?.judgmentId}>
      <div className="mb-4 flex flex-wrap items-center gap-3">
        <h1 className="text-lg font-semibold">Review · {projectName}</h1>
        {queue.data && (
          <span className="text-sm text-slate-600" data-testid="review-progress">
            {order.length}
            {queue.data.length >= 20 ? '+' : ''} waiting · {saved} reviewed this session
          </span>
        )}
        <span className="ml-auto text-xs text-slate-500">
          <kbd>A</kbd> accept · <kbd>R</kbd> reject · <kbd>C</kbd> correct, then <kbd>←</kbd>/<kbd>→</kbd> and <kbd>1</kbd>–<kbd>4</kbd> · <kbd>Enter</kbd> confirm · <kbd>N</kbd> next · <kbd>Esc</kbd> clear
        </span>
      </div>
      {error && (
        <p role="alert" className="mb-4 rounded border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
          {error}
        </p>
      )}
      {notice && (
        <p role="status" className="mb-4 rounded border border-slate-200 bg-slate-50 px-3 py-2 text-sm text-slate-700">
          {notice}
        </p>
      )}
      {body}
    </main>
  );
}

/** One judgment under review; keyed by judgment, so every judgment starts with no decision. */
function ReviewItem({ item, onDecide, onSkip, canSkip }: { item: TReviewItem; onDecide: (item: TReviewItem, verdict: TReviewVerdict) => void; onSkip: (item: TReviewItem) => void; canSkip: boolean }) {
  const [decision, setDecision] = useState<TDecision | null>(null);
  const [choice, setChoice] = useState<0 | 1 | null>(null);
  const [strength, setStrength] = useState<TStrength | null>(null);
  const [note, setNote] = useState('');

  const sameAsAnnotator = decision === 'correct' && choice === item.chosen && strength === item.strength;
  const complete = decision === 'accept' || decision === 'reject' || (decision === 'correct' && choice !== null && strength !== null && !sameAsAnnotator);

  const confirm = useCallback(() => {
    if (!complete || !decision) return;
    const trimmed = note.trim() || undefined;
    onDecide(item, decision === 'correct' ? { decision, correctedChoice: choice!, correctedStrength: strength!, note: trimmed } : { decision, note: trimmed });
  }, [complete, decision, note, onDecide, item, choice, strength]);

  const startCorrection = useCallback(() => {
    setDecision('correct');
    setChoice(null);
    setStrength(null);
  }, []);

  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (event.altKey || event.metaKey) return;
      if (isTypingTarget(event.target)) {
        if (event.key === 'Enter' && event.ctrlKey) {
          event.preventDefault();
          confirm();
        } else if (event.key === 'Escape') (event.target as HTMLElement).blur();
        return;
      }
      if (event.ctrlKey) return;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      if (key === 'a') setDecision('accept');
      else if (key === 'r') setDecision('reject');
      else if (key === 'c') startCorrection();
      else if (decision === 'correct' && key === 'ArrowLeft') setChoice(0);
      else if (decision === 'correct' && key === 'ArrowRight') setChoice(1);
      else if (decision === 'correct' && key >= '1' && key <= '4') setStrength(strengths[Number(key) - 1]!);
      else if (key === 'Enter') confirm();
      else if (key === 'n') onSkip(item);
      else if (key === 'Escape') setDecision(null);
      else return;
      event.preventDefault();
    }
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [decision, confirm, startCorrection, onSkip, item]);

  const decisionButton = (value: TDecision, label: string, hotkey: string, active: string) => (
    <button
      type="button"
      aria-pressed={decision === value}
      onClick={() => (value === 'correct' ? startCorrection() : setDecision(value))}
      className={`rounded px-3 py-1.5 text-sm font-medium ${decision === value ? active : 'border border-slate-300 hover:bg-slate-50'}`}
    >
      {label} <kbd className="ml-1 text-xs opacity-70">{hotkey}</kbd>
    </button>
  );

  return (
    <>
      <section aria-label="Judgment under review" className="mb-4 flex flex-wrap items-center gap-x-4 gap-y-2 rounded-lg border border-slate-200 bg-white px-4 py-3 text-sm">
        <span className="flex gap-1.5" data-testid="reasons">
          {item.reasons.map((reason) => (
            <span key={reason} className={`rounded border px-2 py-0.5 text-xs font-semibold ${reasonStyles[reason].className}`}>
              {reasonStyles[reason].label}
            </span>
          ))}
        </span>
        <span>
          Judged by <strong>{item.annotator.email}</strong>
        </span>
        <span className="text-slate-600">
          {sideNames[item.chosen]} · {item.strength ? strengthLabels[item.strength] : 'no strength'}
        </span>
        <span className="text-slate-600" data-testid="votes">
          Votes {item.votes[0]} – {item.votes[1]}
        </span>
        <span className="text-slate-500">{Math.round(item.timeSpentMs / 1000)} s</span>
        <span className="text-slate-500">
          Judgment #{item.judgmentId}
          {item.externalId ? ` · ${item.externalId}` : ''}
        </span>
        {item.flags.length > 0 && (
          <span className="flex flex-wrap gap-1.5">
            {item.flags.map((flag) => (
              <span key={flag} className="rounded bg-amber-50 px-2 py-0.5 text-xs text-amber-900">
                {flagLabels[flag as TJudgmentFlag] ?? flag}
              </span>
            ))}
          </span>
        )}
        {item.rationale && <blockquote className="w-full border-l-4 border-slate-200 pl-3 text-slate-700 italic">{item.rationale}</blockquote>}
      </section>

      <section aria-label="Conversation" className="mb-4">
        <Conversation messages={item.prompt} />
      </section>

      <div className="grid gap-4 md:grid-cols-2">
        {item.responses.map((response, i) => {
          const annotatorChose = item.chosen === i;
          const corrected = decision === 'correct' && choice === i;
          return (
            <section
              key={i}
              role="region"
              aria-label={sideNames[i]}
              data-annotator-choice={annotatorChose || undefined}
              className={`flex min-w-0 flex-col rounded-lg border-2 bg-white ${corrected ? 'border-green-600 ring-2 ring-green-200' : annotatorChose ? 'border-blue-600 ring-2 ring-blue-200' : 'border-slate-200'}`}
            >
              <div className="flex flex-wrap items-center gap-2 border-b border-slate-100 px-4 py-2">
                <h2 className="font-semibold">{sideNames[i]}</h2>
                {annotatorChose && <span className="rounded bg-blue-600 px-2 py-0.5 text-xs font-medium text-white">Annotator’s choice · {item.strength ? strengthLabels[item.strength] : ''}</span>}
                {corrected && <span className="rounded bg-green-600 px-2 py-0.5 text-xs font-medium text-white">Your correction{strength ? ` · ${strengthLabels[strength]}` : ''}</span>}
                {decision === 'correct' && (
                  <button type="button" aria-pressed={choice === i} onClick={() => setChoice(i as 0 | 1)} className="ml-auto rounded border border-slate-300 px-2 py-1 text-xs hover:bg-slate-50">
                    This is better <kbd className="ml-1 opacity-70">{i === 0 ? '←' : '→'}</kbd>
                  </button>
                )}
              </div>
              <div className="min-w-0 space-y-3 overflow-x-auto px-4 py-3">
                {response.messages.map((message, j) => (
                  <ResponseMessage key={j} message={message} several={response.messages.length > 1} />
                ))}
              </div>
              {annotatorChose && item.edit && (
                <div className="border-t border-dashed border-blue-200 bg-blue-50/40 px-4 py-3">
                  <div className="mb-1 text-xs font-semibold tracking-wide text-blue-800 uppercase">Annotator’s edit of this response</div>
                  <MessageBody message={item.edit.findLast((m) => m.role === 'assistant') ?? item.edit[item.edit.length - 1]!} />
                </div>
              )}
            </section>
          );
        })}
      </div>

      <div className="sticky bottom-0 mt-4 space-y-3 rounded-lg border border-slate-200 bg-white/95 p-4 shadow-sm backdrop-blur">
        <div className="flex flex-wrap items-center gap-2">
          <span className="mr-2 text-sm text-slate-600">Decision:</span>
          {decisionButton('accept', 'Accept', 'A', 'bg-green-700 text-white')}
          {decisionButton('reject', 'Reject', 'R', 'bg-red-700 text-white')}
          {decisionButton('correct', 'Correct', 'C', 'bg-blue-700 text-white')}
          {decision === 'reject' && <span className="text-sm text-red-700">Rejected judgments are left out of consensus and datasets.</span>}
        </div>
        {decision === 'correct' && (
          <fieldset className="flex flex-wrap items-center gap-2">
            <legend className="sr-only">Corrected strength</legend>
            <span className="mr-2 text-sm text-slate-600">{choice === null ? 'Choose the better response (← / →), then how much better:' : `${sideNames[choice]} is…`}</span>
            <StrengthButtons value={strength} onChange={setStrength} selectedClass="bg-blue-700 text-white" />
            {sameAsAnnotator && <span className="text-sm text-amber-800">That is the annotator’s verdict: accept it instead.</span>}
          </fieldset>
        )}
        <div className="flex items-end gap-3">
          <label className="flex-1">
            <span className="mb-1 block text-xs text-slate-500">Note for the admins (optional; Ctrl+Enter confirms from here)</span>
            <textarea value={note} onChange={(e) => setNote(e.target.value)} rows={1} className="w-full rounded border border-slate-300 px-2 py-1 text-sm" />
          </label>
          <button type="button" disabled={!canSkip} onClick={() => onSkip(item)} className="rounded border border-slate-300 px-3 py-2 text-sm hover:bg-slate-50 disabled:opacity-40">
            Next <kbd className="ml-1 text-xs opacity-70">N</kbd>
          </button>
          <button type="button" disabled={!complete} onClick={confirm} className="rounded bg-slate-900 px-5 py-2 font-medium text-white disabled:cursor-not-allowed disabled:opacity-40">
            Confirm <kbd className="ml-1 text-xs opacity-70">Enter</kbd>
          </button>
        </div>
      </div>
    </>
  );
}
