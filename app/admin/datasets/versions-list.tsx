'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { inferRouterOutputs } from '@trpc/server';
import Link from 'next/link';
import { useState } from 'react';
import { useTRPC } from '@/app/_trpc/client';
import type { TVersionManifest } from '@/server/datasets/version-files';
import type { TAppRouter } from '@/server/root';
import type { TSftVersionManifest } from '@/server/sampling/sft-version';
import { BuildProgress, formatShortDate, isActive, KindBadge, ShortHash, StatusBadge, type TVersionStatus } from './version-bits';

type TVersionRow = inferRouterOutputs<TAppRouter>['datasets']['list'][number];

const PAGE = 50;

/** Who built a version: the manifest names them once built (an SFT version: its rejection-sampling run); before that only their id is known. */
function builtBy(version: TVersionRow, me: { id: number; email: string }): string {
  if (version.kind === 'sft') {
    const sft = version.manifest as unknown as TSftVersionManifest | null;
    if (sft?.lineage?.run) return `run #${sft.lineage.run.id}`;
  } else {
    const manifest = version.manifest as unknown as TVersionManifest | null;
    if (manifest?.builtBy) return manifest.builtBy.name || manifest.builtBy.email;
  }
  if (version.createdBy === null) return '–';
  return version.createdBy === me.id ? me.email : `user #${version.createdBy}`;
}

/** A built version's size: pairs (train / test) of a preference version, conversations of an SFT version. */
function VersionSize({ kind, manifest }: { kind: string; manifest: TVersionManifest | TSftVersionManifest }) {
  if (kind === 'sft' || (manifest as { kind?: string }).kind === 'sft') {
    const conversations = (manifest as TSftVersionManifest).counts?.conversations ?? 0;
    return (
      <span className="tabular-nums">
        {conversations.toLocaleString()} <span className="text-slate-500">{conversations === 1 ? 'conversation' : 'conversations'}</span>
      </span>
    );
  }
  const { counts } = manifest as TVersionManifest;
  return (
    <span className="tabular-nums">
      {counts.pairs.toLocaleString()}{' '}
      <span className="text-slate-500">
        ({counts.train.toLocaleString()} / {counts.test.toLocaleString()})
      </span>
    </span>
  );
}

/** Versions newest first; polls every second while a build is queued or running. */
export function VersionsList({ project, me }: { project: string | null; me: { id: number; email: string } }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [limit, setLimit] = useState(PAGE);
  const input = { limit, ...(project ? { project } : {}) };
  const list = useQuery({
    ...trpc.datasets.list.queryOptions(input),
    refetchInterval: (query) => (query.state.data?.some((v) => isActive(v.status)) ? 1000 : false),
  });
  const cancel = useMutation(
    trpc.datasets.cancel.mutationOptions({
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.datasets.list.pathKey() }),
    }),
  );
  const rows = list.data ?? [];
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="versions-heading">
      <div className="mb-3 flex items-baseline gap-3">
        <h2 id="versions-heading" className="font-semibold">
          Versions
        </h2>
        {list.isFetching && rows.some((v) => isActive(v.status)) && <span className="text-xs text-slate-400">updating…</span>}
      </div>
      {list.error && (
        <p className="text-sm text-red-700" role="alert">
          {list.error.message}
        </p>
      )}
      {cancel.error && (
        <p className="mb-2 text-sm text-red-700" role="alert">
          {cancel.error.message}
        </p>
      )}
      {list.data && rows.length === 0 && <p className="text-sm text-slate-500">No versions yet{project ? ' from this project' : ''}: build one below.</p>}
      {rows.length > 0 && (
        <div className="overflow-x-auto">
          <table className="w-full text-sm" aria-label="Dataset versions">
            <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="py-1.5 pr-3 font-medium">#</th>
                <th className="pr-3 font-medium">Name</th>
                <th className="pr-3 font-medium">Kind</th>
                <th className="pr-3 font-medium">Status</th>
                <th className="pr-3 font-medium">Size (train / test)</th>
                <th className="pr-3 font-medium">Content hash</th>
                <th className="pr-3 font-medium">Built by</th>
                <th className="pr-3 font-medium">Requested</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((v) => {
                const manifest = v.manifest as unknown as TVersionManifest | TSftVersionManifest | null;
                const status = v.status as TVersionStatus;
                return (
                  <tr key={v.id} className="border-t border-slate-100 align-middle" data-version={v.id} data-version-status={v.status}>
                    <td className="py-2 pr-3 tabular-nums text-slate-500">{v.id}</td>
                    <td className="max-w-60 pr-3">
                      <Link href={`/admin/datasets/${v.id}`} className="block truncate font-medium text-blue-700 hover:underline" title={v.name}>
                        {v.name}
                      </Link>
                    </td>
                    <td className="pr-3">
                      <KindBadge kind={v.kind} />
                    </td>
                    <td className="pr-3">
                      <StatusBadge status={status} />
                    </td>
                    <td className="pr-3">
                      {isActive(status) ? (
                        <BuildProgress status={status} done={v.progressDone} total={v.progressTotal} label={`Build progress of version ${v.id}`} />
                      ) : manifest ? (
                        <VersionSize kind={v.kind} manifest={manifest} />
                      ) : status === 'failed' ? (
                        <span className="block max-w-64 truncate text-xs text-red-700" title={v.error ?? ''}>
                          {v.error ?? 'failed'}
                        </span>
                      ) : (
                        <span className="text-slate-400">–</span>
                      )}
                    </td>
                    <td className="pr-3">
                      <ShortHash hash={v.contentHash} />
                    </td>
                    <td className="max-w-44 truncate pr-3 text-slate-600" title={builtBy(v, me)}>
                      {builtBy(v, me)}
                    </td>
                    <td className="whitespace-nowrap pr-3 text-slate-600">{formatShortDate(v.createdAt)}</td>
                    <td className="whitespace-nowrap text-right">
                      {isActive(status) && (
                        <button
                          type="button"
                          onClick={() => cancel.mutate({ version: v.id })}
                          disabled={cancel.isPending && cancel.variables?.version === v.id}
                          className="rounded border border-slate-300 px-2 py-0.5 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-40"
                        >
                          Cancel
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {rows.length === limit && limit < 500 && (
        <button type="button" onClick={() => setLimit((n) => Math.min(500, n + PAGE))} className="mt-3 text-sm text-blue-700 underline">
          Show older versions
        </button>
      )}
    </section>
  );
}
