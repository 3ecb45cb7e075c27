'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Markdown } from '@/app/_components/markdown';
import { useTRPC } from '@/app/_trpc/client';

/** Edit the project's guidelines (markdown); each save is a new version. */
export function GuidelinesEditor({ project }: { project: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const current = useQuery(trpc.projects.guidelines.queryOptions({ project }));
  const [draft, setDraft] = useState<string | null>(null);
  const [preview, setPreview] = useState(false);
  const save = useMutation(
    trpc.projects.saveGuidelines.mutationOptions({
      onSuccess: () => {
        setDraft(null);
        void queryClient.invalidateQueries({ queryKey: trpc.projects.guidelines.queryKey({ project }) });
      },
    }),
  );
  const text = draft ?? current.data?.body ?? '';
  return (
    <section aria-label="Guidelines" className="rounded-lg border border-slate-200 bg-white p-4">
      <div className="mb-2 flex items-center gap-3">
        <h2 className="font-semibold">Guidelines</h2>
        <span className="text-sm text-slate-500">{current.data ? `version ${current.data.version}, ${new Date(current.data.createdAt).toLocaleString()}` : 'none yet'}</span>
        <button type="button" onClick={() => setPreview((p) => !p)} className="ml-auto text-sm text-blue-700 underline">
          {preview ? 'Write' : 'Preview'}
        </button>
      </div>
      {preview ? (
        <div className="min-h-32 rounded border border-slate-200 p-3">
          <Markdown text={text} />
        </div>
      ) : (
        <label className="block">
          <span className="sr-only">Guidelines (markdown)</span>
          <textarea value={text} onChange={(e) => setDraft(e.target.value)} rows={8} placeholder="What makes a response better? How to use the four strengths? When to edit, flag or skip?" className="w-full rounded border border-slate-300 p-2 font-mono text-sm" />
        </label>
      )}
      <div className="mt-2 flex items-center gap-3 text-sm">
        <button type="button" disabled={draft === null || save.isPending} onClick={() => save.mutate({ project, body: text })} className="rounded bg-slate-900 px-3 py-1.5 font-medium text-white disabled:opacity-40">
          Save as a new version
        </button>
        <span className="text-slate-500">Annotators see a new version before their next comparison; each judgment records its version.</span>
        {save.error && <span role="alert" className="text-red-700">{save.error.message}</span>}
      </div>
    </section>
  );
}
