'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTRPC } from '@/app/_trpc/client';
import type { TAnnotatorItem } from '@/server/annotation/handles';
import { GuidelinesPanel, useGuidelines } from './guidelines-panel';
import { HistoryPanel } from './history-panel';
import { JudgeComparison } from './judge-comparison';
import { KeyboardHelp } from './keyboard-help';
import { MyStatsPanel } from './my-stats-panel';
import type { TClientVerdict, TRules } from './verdict-types';

/** The annotation queue: holds two leases so the next comparison shows at once after a submit. */
export function AnnotateClient({ project, projectName, rules }: { project: string; projectName: string; rules: TRules }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [queue, setQueue] = useState<TAnnotatorItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);
  const [panel, setPanel] = useState<'help' | 'guidelines' | 'history' | 'stats' | null>(null);
  // Submitted or skipped locally but maybe not yet on the server: never show these again.
  const done = useRef(new Set<string>());
  const guidelines = useGuidelines(project);

  const progress = useQuery(trpc.annotation.progress.queryOptions({ project }));
  const lease = useMutation(trpc.annotation.lease.mutationOptions());
  const submit = useMutation(trpc.annotation.submit.mutationOptions());
  const skip = useMutation(trpc.annotation.skip.mutationOptions());

  const refill = useCallback(async () => {
    try {
      const { items, paused: isPaused } = await lease.mutateAsync({ project, want: 2 });
      setPaused(isPaused);
      setQueue((current) => {
        const fresh = items.filter((item) => !done.current.has(item.handle));
        // Keep what is on screen in place; append what is new.
        const kept = (current ?? []).filter((item) => fresh.some((f) => f.handle === item.handle));
        const added = fresh.filter((f) => !kept.some((k) => k.handle === f.handle));
        return [...kept, ...added];
      });
    } catch (e) {
      setError(`Could not load the next comparison: ${(e as Error).message}`);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [project]);

  useEffect(() => {
    // refill sets state only after the lease request resolves, never synchronously.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    void refill();
  }, [refill]);

  const current = queue?.[0] ?? null;

  /** Shows the next comparison now and saves in the background; a failed save brings this one back. */
  const advance = useCallback(
    (item: TAnnotatorItem, save: () => Promise<unknown>, what: string) => {
      done.current.add(item.handle);
      setQueue((q) => (q ?? []).filter((i) => i.handle !== item.handle));
      setError(null);
      save().then(
        () => {
          void queryClient.invalidateQueries({ queryKey: trpc.annotation.progress.queryKey({ project }) });
          void queryClient.invalidateQueries({ queryKey: trpc.annotation.history.queryKey({ project }) });
          void refill();
        },
        (e: Error) => {
          done.current.delete(item.handle);
          setError(`Your ${what} could not be saved: ${e.message}`);
          void refill();
        },
      );
    },
    [queryClient, trpc, project, refill],
  );

  const onSubmit = useCallback(
    (item: TAnnotatorItem, verdict: TClientVerdict) =>
      advance(item, () => submit.mutateAsync({ handle: item.handle, clientSubmissionId: crypto.randomUUID(), ...verdict }), 'judgment'),
    [advance, submit],
  );
  const onSkip = useCallback(
    (item: TAnnotatorItem, reason: string) => advance(item, () => skip.mutateAsync({ handle: item.handle, reason }), 'skip'),
    [advance, skip],
  );
  const toggleHelp = useCallback(() => setPanel((p) => (p === 'help' ? null : 'help')), []);

  const header = (
    <div className="mb-4 flex flex-wrap items-center gap-3">
      <h1 className="text-lg font-semibold">{projectName}</h1>
      {progress.data && (
        <span className="text-sm text-slate-600" data-testid="progress">
          {progress.data.today} today · {progress.data.total} in total
        </span>
      )}
      <span className="ml-auto flex gap-2">
        {guidelines.latest && (
          <button type="button" onClick={() => setPanel((p) => (p === 'guidelines' ? null : 'guidelines'))} className="rounded border border-slate-300 px-2 py-1 text-sm text-slate-600 hover:bg-white">
            Guidelines v{guidelines.latest.version}
          </button>
        )}
        <button type="button" onClick={() => setPanel((p) => (p === 'history' ? null : 'history'))} className="rounded border border-slate-300 px-2 py-1 text-sm text-slate-600 hover:bg-white">
          My recent judgments
        </button>
        <button type="button" onClick={() => setPanel((p) => (p === 'stats' ? null : 'stats'))} className="rounded border border-slate-300 px-2 py-1 text-sm text-slate-600 hover:bg-white">
          My stats
        </button>
        <button type="button" onClick={toggleHelp} className="rounded border border-slate-300 px-2 py-1 text-sm text-slate-600 hover:bg-white">
          Keyboard help (?)
        </button>
      </span>
    </div>
  );

  const side = panel === 'guidelines' ? <GuidelinesPanel guidelines={guidelines} onClose={() => setPanel(null)} /> : panel === 'history' ? <HistoryPanel project={project} onClose={() => setPanel(null)} /> : panel === 'stats' ? <MyStatsPanel project={project} onClose={() => setPanel(null)} /> : null;

  let body;
  if (queue === null) body = error ? null : <p className="text-slate-500">Loading…</p>;
  else if (!current) {
    body =
      lease.isPending || submit.isPending || skip.isPending ? (
        <p className="text-slate-500">Loading the next comparison…</p>
      ) : paused ? (
        <section className="mt-16 text-center">
          <h2 className="text-2xl font-semibold">Paused</h2>
          <p className="mt-2 text-slate-600">Your answers on the check items of this project are below the bar, so new comparisons are paused. Please read the guidelines again and contact the project admin.</p>
        </section>
      ) : (
        <section className="mt-16 text-center">
          <h2 className="text-2xl font-semibold">All done</h2>
          <p className="mt-2 text-slate-600">There is nothing left for you to judge in this project right now. Thank you!</p>
          <Link href="/projects" className="mt-6 inline-block rounded bg-slate-900 px-4 py-2 text-sm font-medium text-white">
            Back to projects
          </Link>
        </section>
      );
  } else {
    body = <JudgeComparison key={current.handle} item={current} rules={rules} onSubmit={onSubmit} onSkip={onSkip} onToggleHelp={toggleHelp} />;
  }

  return (
    <main className="mx-auto max-w-[96rem] px-4 py-6" data-assignment={current?.handle}>
      {header}
      {error && (
        <p role="alert" className="mb-4 rounded border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
          {error}
        </p>
      )}
      {panel === 'help' && <KeyboardHelp onClose={() => setPanel(null)} />}
      {guidelines.mustRead && <GuidelinesPanel guidelines={guidelines} modal onClose={() => undefined} />}
      <div className={side ? 'grid gap-4 lg:grid-cols-[minmax(0,1fr)_24rem]' : ''}>
        <div className="min-w-0">{body}</div>
        {side && <aside className="min-w-0">{side}</aside>}
      </div>
    </main>
  );
}
