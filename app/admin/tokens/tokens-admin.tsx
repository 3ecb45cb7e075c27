'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { useTRPC } from '@/app/_trpc/client';

const inputClass = 'w-full rounded border border-slate-300 px-2 py-1.5 text-sm';

function when(date: Date | null): string {
  return date ? date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '';
}

const statusClass: Record<string, string> = {
  active: 'bg-green-50 text-green-800',
  expired: 'bg-amber-50 text-amber-800',
  revoked: 'bg-slate-100 text-slate-600',
};

/** The secret of a token just created: shown once, with a copy button. */
function NewSecret({ name, secret, onDone }: { name: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'select' | null>(null);
  const code = useRef<HTMLElement>(null);
  // The clipboard API needs a secure context (https or localhost): elsewhere, select the text for a manual copy.
  const selectSecret = () => {
    const selection = window.getSelection();
    if (!code.current || !selection) return;
    selection.selectAllChildren(code.current);
    setCopied('select');
  };
  return (
    <div role="status" className="space-y-2 rounded border border-green-300 bg-green-50 p-3 text-sm">
      <p>
        Token <strong>{name}</strong> created. Copy it now: it is not stored and will not be shown again.
      </p>
      <div className="flex items-center gap-2">
        <code ref={code} data-testid="new-token" className="flex-1 break-all rounded bg-white px-2 py-1 font-mono">
          {secret}
        </code>
        <button
          type="button"
          className="rounded border border-slate-300 bg-white px-3 py-1 font-medium hover:bg-slate-50"
          onClick={() => {
            if (!navigator.clipboard) return selectSecret();
            navigator.clipboard.writeText(secret).then(() => setCopied('yes'), selectSecret);
          }}
        >
          {copied === 'yes' ? 'Copied' : copied === 'select' ? 'Selected: press Ctrl+C' : 'Copy'}
        </button>
        <button type="button" className="rounded px-3 py-1 text-slate-600 hover:text-slate-900" onClick={onDone}>
          Done
        </button>
      </div>
      <p className="text-slate-600">
        Scripts send it as <code>Authorization: Bearer {secret.slice(0, 9)}…</code>; see <code>/api/v1/openapi.json</code> and docs/api.md.
      </p>
    </div>
  );
}

/**
 * API tokens for scripts (/api/v1): a token reaches the chosen projects only, with its creator's
 * admin rights in them, read-only or read and write.
 */
export function TokensAdmin({ projects, seesAll }: { projects: { slug: string; name: string }[]; seesAll: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.apiTokens.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.apiTokens.list.queryKey() });
  const create = useMutation(trpc.apiTokens.create.mutationOptions({ onSuccess: refresh }));
  const revoke = useMutation(trpc.apiTokens.revoke.mutationOptions({ onSuccess: refresh }));

  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<string[]>(projects.length === 1 ? [projects[0]!.slug] : []);
  const [access, setAccess] = useState<'read' | 'write'>('read');
  const [expires, setExpires] = useState('');
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);

  function submit(event: FormEvent) {
    event.preventDefault();
    setCreated(null);
    create.mutate(
      {
        name,
        projects: chosen,
        access,
        // The end of the chosen day, in the admin's time zone.
        expiresAt: expires ? new Date(`${expires}T23:59:59`).toISOString() : null,
      },
      {
        onSuccess: ({ token, secret }) => {
          setCreated({ name: token.name, secret });
          setName('');
          setExpires('');
        },
      },
    );
  }

  const toggle = (slug: string) => setChosen((c) => (c.includes(slug) ? c.filter((s) => s !== slug) : [...c, slug]));

  return (
    <main className="mx-auto max-w-6xl space-y-6 px-4 py-8">
      <h1 className="text-2xl font-semibold">API tokens</h1>

      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="mb-1 font-semibold">Create a token</h2>
        <p className="mb-3 text-sm text-slate-500">
          Scripts use tokens to import comparisons, build dataset versions and download them (<code>/api/v1</code>). A token reaches only the projects chosen
          here, and only while you administer them. Read tokens list and download; write tokens also import and build.
        </p>
        <form onSubmit={submit} className="grid gap-3 md:grid-cols-2">
          <label className="text-sm">
            <span className="mb-1 block text-slate-600">Name</span>
            <input required value={name} onChange={(e) => setName(e.target.value)} className={inputClass} placeholder="training cluster" maxLength={100} />
          </label>
          <label className="text-sm">
            <span className="mb-1 block text-slate-600">Expires (optional)</span>
            <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} className={inputClass} />
          </label>
          <fieldset className="text-sm">
            <legend className="mb-1 text-slate-600">Projects</legend>
            {projects.length === 0 ? (
              <p className="text-slate-500">No projects yet.</p>
            ) : (
              <div className="max-h-48 space-y-1 overflow-y-auto rounded border border-slate-200 p-2">
                {projects.map((p) => (
                  <label key={p.slug} className="flex items-center gap-2">
                    <input type="checkbox" checked={chosen.includes(p.slug)} onChange={() => toggle(p.slug)} />
                    <span>{p.name}</span>
                    <code className="text-xs text-slate-500">{p.slug}</code>
                  </label>
                ))}
              </div>
            )}
          </fieldset>
          <fieldset className="text-sm">
            <legend className="mb-1 text-slate-600">Access</legend>
            <label className="flex items-center gap-2">
              <input type="radio" name="access" checked={access === 'read'} onChange={() => setAccess('read')} />
              Read: list and download dataset versions
            </label>
            <label className="flex items-center gap-2">
              <input type="radio" name="access" checked={access === 'write'} onChange={() => setAccess('write')} />
              Write: also import comparisons and build versions
            </label>
          </fieldset>
          <div className="flex items-center gap-3 md:col-span-2">
            <button type="submit" disabled={create.isPending || chosen.length === 0} className="rounded bg-slate-900 px-4 py-1.5 text-sm font-medium text-white disabled:opacity-40">
              Create token
            </button>
            {create.error && (
              <span role="alert" className="text-sm text-red-700">
                {create.error.message}
              </span>
            )}
          </div>
        </form>
        {created && (
          <div className="mt-3">
            <NewSecret name={created.name} secret={created.secret} onDone={() => setCreated(null)} />
          </div>
        )}
      </section>

      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="mb-3 font-semibold">{seesAll ? 'All tokens' : 'Your tokens'}</h2>
        {list.error && <p className="text-sm text-red-700">{list.error.message}</p>}
        {revoke.error && (
          <p role="alert" className="mb-2 text-sm text-red-700">
            {revoke.error.message}
          </p>
        )}
        {list.data && list.data.length === 0 && <p className="text-sm text-slate-500">No tokens yet.</p>}
        {list.data && list.data.length > 0 && (
          <table className="w-full text-sm">
            <thead className="text-left text-slate-500">
              <tr>
                <th className="py-1">Name</th>
                <th>Token</th>
                <th>Access</th>
                <th>Projects</th>
                <th>Created</th>
                <th>Last used</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((t) => (
                <tr key={t.id} className="border-t border-slate-100 align-top">
                  <td className="py-1.5 font-medium">{t.name}</td>
                  <td>
                    <code className="text-xs">{t.prefix}…</code>
                  </td>
                  <td>{t.access}</td>
                  <td className="space-x-1">
                    {t.projects.map((p) => (
                      <code key={p.id} className="rounded bg-slate-100 px-1 text-xs" title={p.name}>
                        {p.slug}
                      </code>
                    ))}
                  </td>
                  <td>
                    {when(t.createdAt)}
                    {seesAll && <div className="text-xs text-slate-500">{t.createdBy.email}</div>}
                  </td>
                  <td>{t.lastUsedAt ? when(t.lastUsedAt) : <span className="text-slate-400">never</span>}</td>
                  <td>
                    <span className={`rounded px-1.5 py-0.5 text-xs ${statusClass[t.status]}`}>{t.status}</span>
                    {t.status === 'active' && t.expiresAt && <div className="text-xs text-slate-500">until {when(t.expiresAt)}</div>}
                  </td>
                  <td className="text-right">
                    {t.status !== 'revoked' &&
                      (confirming === t.id ? (
                        <span className="inline-flex items-center gap-2">
                          <span className="text-xs text-slate-600">Scripts using it will stop working.</span>
                          <button
                            type="button"
                            disabled={revoke.isPending}
                            className="rounded bg-red-700 px-2 py-0.5 text-xs font-medium text-white disabled:opacity-40"
                            onClick={() => revoke.mutate({ id: t.id }, { onSettled: () => setConfirming(null) })}
                          >
                            Revoke
                          </button>
                          <button type="button" className="text-xs text-slate-600 hover:text-slate-900" onClick={() => setConfirming(null)}>
                            Cancel
                          </button>
                        </span>
                      ) : (
                        <button type="button" className="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50" onClick={() => setConfirming(t.id)}>
                          Revoke…
                        </button>
                      ))}
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
