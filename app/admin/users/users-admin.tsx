'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '@/app/_trpc/client';

function when(date: Date | null): string {
  return date ? date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '';
}

type TAction = 'disable' | 'enable' | 'sign-out';

const consequence: Record<TAction, string> = {
  disable: 'They are signed out at once; sign-in and their API tokens stop working.',
  enable: 'They can sign in again.',
  'sign-out': 'Every browser they use must sign in again.',
};

/** Platform admins: every user with role, status and last sign-in; disable, enable, sign out everywhere. */
export function UsersAdmin({ selfId }: { selfId: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.users.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const disable = useMutation(trpc.users.disable.mutationOptions({ onSuccess: refresh }));
  const enable = useMutation(trpc.users.enable.mutationOptions({ onSuccess: refresh }));
  const revoke = useMutation(trpc.users.revokeSessions.mutationOptions({ onSuccess: refresh }));
  const [confirming, setConfirming] = useState<{ id: number; action: TAction } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const pending = disable.isPending || enable.isPending || revoke.isPending;
  const error = disable.error ?? enable.error ?? revoke.error;

  const run = (id: number, email: string, action: TAction) => {
    const settled = { onSettled: () => setConfirming(null), onSuccess: () => setDone(action === 'sign-out' ? `Signed ${email} out everywhere.` : `${action === 'disable' ? 'Disabled' : 'Enabled'} ${email}.`) };
    setDone(null);
    if (action === 'disable') disable.mutate({ userId: id }, settled);
    else if (action === 'enable') enable.mutate({ userId: id }, settled);
    else revoke.mutate({ userId: id }, settled);
  };

  return (
    <main className="mx-auto max-w-5xl space-y-6 px-4 py-8">
      <h1 className="text-2xl font-semibold">Users</h1>
      <section className="rounded-lg border border-slate-200 bg-white p-4">
        {list.error && <p className="text-sm text-red-700">{list.error.message}</p>}
        {error && (
          <p role="alert" className="mb-2 text-sm text-red-700">
            {error.message}
          </p>
        )}
        {done && (
          <p role="status" className="mb-2 text-sm text-green-800">
            {done}
          </p>
        )}
        {list.data && (
          <table className="w-full text-sm">
            <thead className="text-left text-slate-500">
              <tr>
                <th className="py-1">Email</th>
                <th>Name</th>
                <th>Role</th>
                <th>Status</th>
                <th>Last sign-in</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((u) => (
                <tr key={u.id} className="border-t border-slate-100 align-top">
                  <td className="py-1.5 font-medium">
                    {u.email}
                    {u.id === selfId && <span className="ml-1 text-xs text-slate-500">(you)</span>}
                  </td>
                  <td>{u.name ?? ''}</td>
                  <td>{u.role}</td>
                  <td>
                    {u.disabledAt ? (
                      <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600" title={`since ${when(u.disabledAt)}`}>
                        disabled
                      </span>
                    ) : (
                      <span className="rounded bg-green-50 px-1.5 py-0.5 text-xs text-green-800">active</span>
                    )}
                  </td>
                  <td>{u.lastSignInAt ? when(u.lastSignInAt) : <span className="text-slate-400">never</span>}</td>
                  <td className="text-right">
                    {confirming?.id === u.id ? (
                      <span className="inline-flex items-center gap-2">
                        <span className="text-xs text-slate-600">{consequence[confirming.action]}</span>
                        <button
                          type="button"
                          disabled={pending}
                          className="rounded bg-red-700 px-2 py-0.5 text-xs font-medium text-white disabled:opacity-40"
                          onClick={() => run(u.id, u.email, confirming.action)}
                        >
                          {confirming.action === 'disable' ? 'Disable' : confirming.action === 'enable' ? 'Enable' : 'Sign out everywhere'}
                        </button>
                        <button type="button" className="text-xs text-slate-600 hover:text-slate-900" onClick={() => setConfirming(null)}>
                          Cancel
                        </button>
                      </span>
                    ) : (
                      <span className="inline-flex gap-2">
                        <button type="button" className="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50" onClick={() => setConfirming({ id: u.id, action: 'sign-out' })}>
                          Sign out everywhere…
                        </button>
                        <button
                          type="button"
                          className="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50"
                          onClick={() => setConfirming({ id: u.id, action: u.disabledAt ? 'enable' : 'disable' })}
                        >
                          {u.disabledAt ? 'Enable…' : 'Disable…'}
                        </button>
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  );
}
