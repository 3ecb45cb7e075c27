import { notFound } from 'next/navigation';
import { requireSignedIn, serverCaller } from '@/app/_trpc/server';
import { QualityDashboard } from './quality-dashboard';

export const metadata = { title: 'Project dashboard · Pairwise' };

export default async function ProjectDashboardPage({ params }: { params: Promise<{ project: string }> }) {
  const { project } = await params;
  await requireSignedIn(`/admin/projects/${project}/quality`);
  const info = await (await serverCaller()).projects.get({ project }).catch(() => null);
  if (!info || info.role !== 'admin') notFound();
  return <QualityDashboard project={info.slug} name={info.name} />;
}
