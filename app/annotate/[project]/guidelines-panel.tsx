'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Markdown } from '@/app/_components/markdown';
import { useTRPC } from '@/app/_trpc/client';

export interface TGuidelinesState {
  latest: { version: number; body: string } | null;
  /** Not read yet (first visit, or a new version): shown before the first comparison. */
  mustRead: boolean;
  markRead: () => void;
}

export function useGuidelines(project: string): TGuidelinesState {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const query = useQuery(trpc.annotation.guidelines.queryOptions({ project }));
  const mark = useMutation(
    trpc.annotation.markGuidelinesRead.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.annotation.guidelines.queryKey({ project }) }),
    }),
  );
  const latest = query.data?.latest ?? null;
  return {
    latest,
    mustRead: !!query.data?.unread && !mark.isPending && !mark.isSuccess,
    markRead: () => latest && mark.mutate({ project, version: latest.version }),
  };
}

/** The project's guidelines: a side panel, or (unread) a dialog to read before starting. */
export function GuidelinesPanel({ guidelines, modal, onClose }: { guidelines: TGuidelinesState; modal?: boolean; onClose: () => void }) {
  if (!guidelines.latest) return null;
  const body = (
    <div className="max-h-[70vh] overflow-auto">
      <Markdown text={guidelines.latest.body} />
    </div>
  );
  if (modal) {
    return (
      <div role="dialog" aria-label="Guidelines" className="fixed inset-0 z-30 flex items-center justify-center bg-slate-900/40 p-4">
        <div className="w-full max-w-2xl rounded-lg bg-white p-6 shadow-xl">
          <h2 className="mb-3 text-xl font-semibold">Guidelines (version {guidelines.latest.version})</h2>
          {body}
          <div className="mt-4 flex justify-end">
            <button type="button" autoFocus onClick={guidelines.markRead} className="rounded bg-slate-900 px-4 py-2 text-sm font-medium text-white">
              I have read the guidelines
            </button>
          </div>
        </div>
      </div>
    );
  }
  return (
    <section aria-label="Guidelines" className="sticky top-4 rounded-lg border border-slate-200 bg-white p-4">
      <div className="mb-2 flex items-center justify-between">
        <h2 className="font-semibold">Guidelines v{guidelines.latest.version}</h2>
        <button type="button" onClick={onClose} className="text-sm text-slate-500 hover:text-slate-900">
          Close
        </button>
      </div>
      {body}
    </section>
  );
}
