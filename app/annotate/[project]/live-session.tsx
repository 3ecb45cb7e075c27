'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Conversation } from '@/app/_components/messages';
import { useTRPC } from '@/app/_trpc/client';
import type { TMessage } from '@/db/schema';
import type { TAnnotatorItem } from '@/server/annotation/handles';
import type { TLiveSession } from '@/server/live/session';
import { GuidelinesPanel, useGuidelines } from './guidelines-panel';
import { JudgeComparison } from './judge-comparison';
import { KeyboardHelp } from './keyboard-help';
import { LiveAnswers, type TSideState } from './live-answers';
import { LiveComposer } from './live-composer';
import { readLiveSide } from './live-stream';
import type { TClientVerdict, TRules } from './verdict-types';

type TPhase =
  | { kind: 'compose' }
  | { kind: 'answering'; turnId: number; prompt: TMessage[]; sides: TSideState[]; finalizeError?: string }
  | { kind: 'judging'; turnId: number; item: TAnnotatorItem };

const SIDES = [0, 1] as const;
// Deltas are drawn at most this often: re-rendering markdown per token would be wasted work.
const FLUSH_MS = 40;

/**
 * Live generation: the annotator writes a message, two models answer side by side as they
 * stream, the annotator judges (and may edit), then continues the conversation on top of the
 * preferred answer. The server holds every step, so a reload resumes where it stopped.
 */
export function LiveSession({ project, projectName, rules }: { project: string; projectName: string; rules: TRules }) {
  const trpc = useTRPC();
  // Read once per visit: from then on the page's own state leads (it asks again after each
  // judgment); gcTime 0 drops it on leaving, so coming back never starts from an old session.
  const session = useQuery({ ...trpc.live.session.queryOptions({ project }), staleTime: Infinity, gcTime: 0 });
  if (session.error) {
    return (
      <main className="mx-auto max-w-[96rem] px-4 py-6">
        <p role="alert" className="rounded border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
          Could not load your conversation: {session.error.message}
        </p>
      </main>
    );
  }
  if (!session.data) return <main className="mx-auto max-w-[96rem] px-4 py-6 text-slate-500">Loading…</main>;
  return <LiveConversation project={project} projectName={projectName} rules={rules} initial={session.data} />;
}

function streamingSides(): TSideState[] {
  return SIDES.map(() => ({ text: '', status: 'streaming' as const }));
}

function LiveConversation({ project, projectName, rules, initial }: { project: string; projectName: string; rules: TRules; initial: TLiveSession }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const startTurn = useMutation(trpc.live.startTurn.mutationOptions({ retry: false }));
  const finalize = useMutation(trpc.live.finalizeTurn.mutationOptions());
  const submit = useMutation(trpc.annotation.submit.mutationOptions());
  const guidelines = useGuidelines(project);

  const [phase, setPhase] = useState<TPhase>(() =>
    initial.pending ? { kind: 'answering', turnId: initial.pending.turnId, prompt: initial.pending.prompt, sides: streamingSides() } : { kind: 'compose' },
  );
  const [conversation, setConversation] = useState<TMessage[]>(initial.conversation);
  const [continuesTurnId, setContinuesTurnId] = useState<number | null>(initial.continuesTurnId);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [showHelp, setShowHelp] = useState(false);
  const streams = useRef<(AbortController | null)[]>([null, null]);
  const finalizing = useRef<number | null>(null);
  // One submission id per assignment: a retried save of the same judgment is stored once.
  const submissionIds = useRef(new Map<string, string>());

  const updateSide = useCallback((turnId: number, side: 0 | 1, update: (s: TSideState) => TSideState) => {
    setPhase((p) => (p.kind === 'answering' && p.turnId === turnId ? { ...p, sides: p.sides.map((s, i) => (i === side ? update(s) : s)) } : p));
  }, []);

  /** Streams one side (its state already says "streaming"); the other side and the prompt are left as they are. */
  const streamSide = useCallback(
    (turnId: number, side: 0 | 1) => {
      streams.current[side]?.abort();
      const controller = new AbortController();
      streams.current[side] = controller;
      let pending = '';
      let timer: ReturnType<typeof setTimeout> | null = null;
      const flush = () => {
        timer = null;
        const add = pending;
        pending = '';
        if (add) updateSide(turnId, side, (s) => ({ ...s, text: s.text + add }));
      };
      void readLiveSide(turnId, side, {
        signal: controller.signal,
        onDelta: (text) => {
          pending += text;
          timer ??= setTimeout(flush, FLUSH_MS);
        },
      }).then((outcome) => {
        if (controller.signal.aborted) return;
        if (timer) clearTimeout(timer);
        flush();
        updateSide(turnId, side, (s) => (outcome.ok ? { ...s, status: 'done' } : { ...s, status: 'error', error: outcome.message }));
      });
    },
    [updateSide],
  );

  const retrySide = useCallback(
    (turnId: number, side: 0 | 1) => {
      updateSide(turnId, side, () => ({ text: '', status: 'streaming' }));
      streamSide(turnId, side);
    },
    [updateSide, streamSide],
  );

  const compose = useCallback((data: { conversation: TMessage[]; continuesTurnId: number | null }) => {
    setConversation(data.conversation);
    setContinuesTurnId(data.continuesTurnId);
    setPhase({ kind: 'compose' });
  }, []);

  // A turn pending at load (a reload mid-answer): stored sides come back at once, the rest stream again.
  const [resumeTurnId] = useState(initial.pending?.turnId);
  useEffect(() => {
    const controllers = streams.current;
    if (resumeTurnId !== undefined) for (const side of SIDES) streamSide(resumeTurnId, side);
    return () => controllers.forEach((c) => c?.abort());
  }, [resumeTurnId, streamSide]);

  // Both answers complete: turn them into a comparison to judge.
  useEffect(() => {
    if (phase.kind !== 'answering' || phase.finalizeError !== undefined || phase.sides.some((s) => s.status !== 'done')) return;
    if (finalizing.current === phase.turnId) return;
    const turnId = phase.turnId;
    finalizing.current = turnId;
    finalize.mutateAsync({ turnId }).then(
      (item) => setPhase((p) => (p.kind === 'answering' && p.turnId === turnId ? { kind: 'judging', turnId, item } : p)),
      (e: Error) => {
        finalizing.current = null;
        setPhase((p) => (p.kind === 'answering' && p.turnId === turnId ? { ...p, finalizeError: e.message } : p));
      },
    );
  }, [phase, finalize]);

  const send = useCallback(async () => {
    const message = draft.trim();
    if (!message) return;
    setError(null);
    try {
      const { turnId } = await startTurn.mutateAsync({ project, message, parentTurnId: continuesTurnId ?? undefined });
      setDraft('');
      setPhase({ kind: 'answering', turnId, prompt: [...conversation, { role: 'user', content: message }], sides: streamingSides() });
      for (const side of SIDES) streamSide(turnId, side);
    } catch (e) {
      setError(`Your message could not be sent: ${(e as Error).message}`);
    }
  }, [draft, startTurn, project, continuesTurnId, conversation, streamSide]);

  const savingNow = useRef(false);
  const onSubmit = useCallback(
    (item: TAnnotatorItem, verdict: TClientVerdict) => {
      if (savingNow.current) return;
      savingNow.current = true;
      setSaving(true);
      setError(null);
      const clientSubmissionId = submissionIds.current.get(item.handle) ?? crypto.randomUUID();
      submissionIds.current.set(item.handle, clientSubmissionId);
      submit
        .mutateAsync({ handle: item.handle, clientSubmissionId, ...verdict })
        .then(
          // The server knows what the conversation continues with: the edit if any, else the chosen answer.
          () =>
            queryClient.fetchQuery({ ...trpc.live.session.queryOptions({ project }), staleTime: 0 }).then(compose, (e: Error) => {
              setError(`Your judgment is saved, but the conversation did not load: ${e.message}. Reload the page to continue.`);
            }),
          (e: Error) => setError(`Your judgment could not be saved: ${e.message}. Submit again.`),
        )
        .finally(() => {
          savingNow.current = false;
          setSaving(false);
        });
    },
    [submit, queryClient, trpc, project, compose],
  );

  const toggleHelp = useCallback(() => setShowHelp((v) => !v), []);

  let body;
  if (phase.kind === 'compose') {
    body = (
      <>
        {conversation.length > 0 && (
          <section aria-label="Conversation">
            <Conversation messages={conversation} />
          </section>
        )}
        <LiveComposer value={draft} onChange={setDraft} onSend={() => void send()} sending={startTurn.isPending} continuing={conversation.length > 0} />
      </>
    );
  } else if (phase.kind === 'answering') {
    const turnId = phase.turnId;
    body = (
      <>
        <section aria-label="Conversation" className="mb-4">
          <Conversation messages={phase.prompt} />
        </section>
        <LiveAnswers sides={phase.sides} onRetry={(side) => retrySide(turnId, side)} />
        {phase.finalizeError !== undefined && (
          <div role="alert" className="mt-4 flex items-center gap-3 rounded border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
            <span className="flex-1">Both answers are saved, but the comparison could not be prepared: {phase.finalizeError}</span>
            <button type="button" onClick={() => setPhase((p) => (p.kind === 'answering' ? { ...p, finalizeError: undefined } : p))} className="rounded border border-red-300 bg-white px-3 py-1 font-medium">
              Retry
            </button>
          </div>
        )}
      </>
    );
  } else {
    body = <JudgeComparison key={phase.item.handle} item={phase.item} rules={rules} onSubmit={onSubmit} onToggleHelp={toggleHelp} />;
  }

  return (
    <main className="mx-auto max-w-[96rem] px-4 py-6" data-live-phase={phase.kind} data-assignment={phase.kind === 'judging' ? phase.item.handle : undefined}>
      <div className="mb-4 flex flex-wrap items-center gap-3">
        <h1 className="text-lg font-semibold">{projectName}</h1>
        <span className="rounded bg-blue-50 px-2 py-0.5 text-xs font-medium text-blue-700">Live</span>
        {saving && <span className="text-sm text-slate-500">Saving…</span>}
        <span className="ml-auto flex gap-2">
          {phase.kind === 'compose' && conversation.length > 0 && (
            <button type="button" onClick={() => compose({ conversation: [], continuesTurnId: null })} className="rounded border border-slate-300 px-2 py-1 text-sm text-slate-600 hover:bg-white">
              New conversation
            </button>
          )}
          <button type="button" onClick={toggleHelp} className="rounded border border-slate-300 px-2 py-1 text-sm text-slate-600 hover:bg-white">
            Keyboard help (?)
          </button>
        </span>
      </div>
      {error && (
        <p role="alert" className="mb-4 rounded border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
          {error}
        </p>
      )}
      {showHelp && <KeyboardHelp onClose={() => setShowHelp(false)} />}
      {guidelines.mustRead && <GuidelinesPanel guidelines={guidelines} modal onClose={() => undefined} />}
      {body}
    </main>
  );
}
