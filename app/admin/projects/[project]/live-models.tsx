'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '@/app/_trpc/client';

/**
 * The models that answer in this project's live generation: two different ones, drawn at
 * random, answer each message. Only admins see model names; annotators see "Response A/B".
 */
export function LiveModels({ project }: { project: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const models = useQuery(trpc.models.forProject.queryOptions({ project }));
  const save = useMutation(
    trpc.models.setForProject.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.models.forProject.queryKey({ project }) }),
    }),
  );
  // null: untouched, show what is saved.
  const [chosen, setChosen] = useState<Set<number> | null>(null);
  const selected = chosen ?? new Set(models.data?.filter((m) => m.selected).map((m) => m.id) ?? []);

  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" aria-label="Live models">
      <h2 className="mb-1 font-semibold">Live models</h2>
      <p className="mb-3 text-sm text-slate-500">
        In a live project annotators write prompts and two different models of this list answer each one. Register models on the{' '}
        <a href="/admin/models" className="text-blue-700 underline">
          Models
        </a>{' '}
        page (platform admins).
      </p>
      {models.error && <p className="text-sm text-red-700">{models.error.message}</p>}
      {models.data && models.data.length === 0 && <p className="text-sm text-slate-500">No models are registered yet.</p>}
      {models.data && models.data.length > 0 && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate({ project, modelIds: [...selected] }, { onSuccess: () => setChosen(null) });
          }}
        >
          <ul className="mb-3 space-y-1 text-sm">
            {models.data.map((m) => (
              <li key={m.id}>
                <label className="flex items-center gap-2">
                  <input
                    type="checkbox"
                    checked={selected.has(m.id)}
                    onChange={(e) => {
                      const next = new Set(selected);
                      if (e.target.checked) next.add(m.id);
                      else next.delete(m.id);
                      setChosen(next);
                    }}
                  />
                  <span className="font-medium">{m.name}</span>
                  <code className="text-xs text-slate-500">{m.apiModel}</code>
                  {!m.enabled && <span className="text-xs text-red-700">disabled</span>}
                </label>
              </li>
            ))}
          </ul>
          <div className="flex items-center gap-3">
            <button type="submit" disabled={save.isPending || chosen === null} className="rounded bg-slate-900 px-3 py-1.5 text-sm font-medium text-white disabled:opacity-40">
              Save live models
            </button>
            {selected.size < 2 && <span className="text-sm text-amber-700">Choose at least two: each message needs two different models.</span>}
            {save.error && (
              <span role="alert" className="text-sm text-red-700">
                {save.error.message}
              </span>
            )}
            {save.isSuccess && chosen === null && (
              <span role="status" className="text-sm text-green-700">
                Saved.
              </span>
            )}
          </div>
        </form>
      )}
    </section>
  );
}
