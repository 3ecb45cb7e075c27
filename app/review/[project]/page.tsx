import { notFound } from 'next/navigation';
import { requireSignedIn, serverCaller } from '@/app/_trpc/server';
import { ReviewClient } from './review-client';

export const metadata = { title: 'Review · Pairwise' };

export default async function ReviewPage({ params }: { params: Promise<{ project: string }> }) {
  const { project } = await params;
  await requireSignedIn(`/review/${project}`);
  const info = await (await serverCaller()).projects.get({ project }).catch(() => null);
  // Annotators learn nothing here either: the queue holds other people's judgments.
  if (!info || (info.role !== 'reviewer' && info.role !== 'admin')) notFound();
  return <ReviewClient project={info.slug} projectName={info.name} />;
}
