'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from '@/app/_trpc/client';
import type { TVersionManifest } from '@/server/datasets/version-files';
import type { TSftVersionManifest } from '@/server/sampling/sft-version';
import { BuildProgress, isActive, KindBadge, StatusBadge, type TVersionStatus } from '../version-bits';
import { Card, SpecBlock } from './detail-parts';
import { PreferenceManifest } from './preference-manifest';
import { SftManifest } from './sft-manifest';

/** One version for people: build progress while it runs, then its manifest (a preference or an SFT version), charts and downloads. */
export function VersionDetail({ versionId, formats, splits }: { versionId: number; formats: string[]; splits: string[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const version = useQuery({
    ...trpc.datasets.get.queryOptions({ version: versionId }),
    refetchInterval: (query) => (query.state.data && isActive(query.state.data.status) ? 1000 : false),
  });
  const cancel = useMutation(
    trpc.datasets.cancel.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.datasets.get.queryKey({ version: versionId }) }) }),
  );
  const v = version.data;
  const status = v?.status as TVersionStatus | undefined;
  const manifest = v?.status === 'succeeded' ? (v.manifest as unknown as TVersionManifest | TSftVersionManifest | null) : null;
  const sft = v?.kind === 'sft' || (manifest as { kind?: string } | null)?.kind === 'sft';
  return (
    <main className="mx-auto max-w-6xl space-y-6 px-4 py-8" data-version-status={v?.status ?? 'loading'}>
      <div className="flex flex-wrap items-baseline gap-x-4 gap-y-1">
        <h1 className="min-w-0 break-words text-2xl font-semibold">{v ? v.name : 'Dataset version'}</h1>
        <span className="text-sm text-slate-500">version #{versionId}</span>
        {v && <KindBadge kind={v.kind} />}
        {status && <StatusBadge status={status} />}
        <Link href="/admin/datasets" className="ml-auto text-sm text-blue-700 underline">
          All versions
        </Link>
      </div>

      {version.error && (
        <p className="text-red-700" role="alert">
          {version.error.message}
        </p>
      )}
      {!v && !version.error && <p className="text-slate-500">Loading…</p>}

      {v && status && isActive(status) && (
        <Card title="Building">
          <div className="flex flex-wrap items-center gap-4">
            <BuildProgress status={status} done={v.progressDone} total={v.progressTotal} label="Build progress" width="w-80 max-w-full" what={sft ? 'conversations' : 'judgments'} />
            <button
              type="button"
              onClick={() => cancel.mutate({ version: versionId })}
              disabled={cancel.isPending}
              className="rounded border border-slate-300 px-3 py-1 text-sm font-medium hover:bg-slate-50 disabled:opacity-40"
            >
              Cancel build
            </button>
            {cancel.error && (
              <span className="text-sm text-red-700" role="alert">
                {cancel.error.message}
              </span>
            )}
          </div>
        </Card>
      )}
      {v?.status === 'failed' && (
        <Card title="The build failed">
          <pre className="whitespace-pre-wrap break-words text-sm text-red-800">{v.error ?? 'no error recorded'}</pre>
        </Card>
      )}
      {v?.status === 'cancelled' && <p className="text-slate-600">This build was cancelled before it finished: there are no files. Build the spec again to get a version.</p>}

      {v && manifest && sft && <SftManifest manifest={manifest as TSftVersionManifest} versionId={versionId} name={v.name} formats={formats} />}
      {v && manifest && !sft && <PreferenceManifest manifest={manifest as TVersionManifest} versionId={versionId} name={v.name} formats={formats} splits={splits} />}
      {v && !manifest && (
        <Card title="Spec">
          <SpecBlock spec={v.spec} />
        </Card>
      )}
    </main>
  );
}
