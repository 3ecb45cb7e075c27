import { notFound } from 'next/navigation';
import { requireSignedIn, serverCaller } from '@/app/_trpc/server';
import { versionFormats, versionSplits } from '@/server/datasets/version-files';
import { VersionDetail } from './version-detail';

export const metadata = { title: 'Dataset version · Pairwise' };

export default async function DatasetVersionPage({ params }: { params: Promise<{ version: string }> }) {
  const { version } = await params;
  const id = Number(version);
  if (!/^\d+$/.test(version) || !Number.isSafeInteger(id) || id <= 0) notFound();
  await requireSignedIn(`/admin/datasets/${id}`);
  // Versions one may not see do not exist (the same answer as a missing one).
  const found = await (await serverCaller()).datasets.get({ version: id }).catch(() => null);
  if (!found) notFound();
  return <VersionDetail versionId={id} formats={[...versionFormats]} splits={[...versionSplits]} />;
}
