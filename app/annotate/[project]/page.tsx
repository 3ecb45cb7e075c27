import { notFound } from 'next/navigation';
import { requireSignedIn, serverCaller } from '@/app/_trpc/server';
import { AnnotateClient } from './annotate-client';
import { LiveSession } from './live-session';

export const metadata = { title: 'Annotate · Pairwise' };

export default async function AnnotatePage({ params }: { params: Promise<{ project: string }> }) {
  const { project } = await params;
  await requireSignedIn(`/annotate/${project}`);
  const info = await (await serverCaller()).projects.get({ project }).catch(() => null);
  if (!info) notFound();
  if (info.live) return <LiveSession project={info.slug} projectName={info.name} rules={info.rules} />;
  return <AnnotateClient project={info.slug} projectName={info.name} rules={info.rules} />;
}
