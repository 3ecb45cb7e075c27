'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '@/app/_trpc/client';

/** The project's members, with removal (asked to confirm): access ends at the member's next request. */
export function MembersPanel({ project, members }: { project: string; members: { userId: number; email: string; role: string }[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const remove = useMutation(
    trpc.projects.removeMember.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.projects.overview.queryKey({ project }) }) }),
  );
  const [confirming, setConfirming] = useState<number | null>(null);
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4">
      <h2 className="mb-3 font-semibold">Members</h2>
      {remove.error && (
        <p role="alert" className="mb-2 text-sm text-red-700">
          {remove.error.message}
        </p>
      )}
      <ul className="text-sm">
        {members.map((m) => (
          <li key={m.userId} className="flex items-center justify-between gap-3 border-b border-slate-100 py-1 last:border-0">
            <span>{m.email}</span>
            <span className="ml-auto text-slate-500">{m.role}</span>
            {confirming === m.userId ? (
              <span className="inline-flex items-center gap-2">
                <span className="text-xs text-slate-600">They lose access to this project at once.</span>
                <button
                  type="button"
                  disabled={remove.isPending}
                  className="rounded bg-red-700 px-2 py-0.5 text-xs font-medium text-white disabled:opacity-40"
                  onClick={() => remove.mutate({ project, email: m.email }, { onSettled: () => setConfirming(null) })}
                >
                  Remove
                </button>
                <button type="button" className="text-xs text-slate-600 hover:text-slate-900" onClick={() => setConfirming(null)}>
                  Cancel
                </button>
              </span>
            ) : (
              <button type="button" className="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50" aria-label={`Remove ${m.email}`} onClick={() => setConfirming(m.userId)}>
                Remove…
              </button>
            )}
          </li>
        ))}
      </ul>
      <p className="mt-3 text-xs text-slate-500">
        Add members with <code>npm run cli -- member add --project {project} --email E --role annotator</code>.
      </p>
    </section>
  );
}
