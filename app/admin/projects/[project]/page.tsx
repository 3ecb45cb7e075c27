import { notFound } from 'next/navigation';
import { requireSignedIn, serverCaller } from '@/app/_trpc/server';
import { ProjectAdmin } from './project-admin';

export const metadata = { title: 'Manage project · Pairwise' };

export default async function ProjectAdminPage({ params }: { params: Promise<{ project: string }> }) {
  const { project } = await params;
  await requireSignedIn(`/admin/projects/${project}`);
  const info = await (await serverCaller()).projects.get({ project }).catch(() => null);
  if (!info || info.role !== 'admin') notFound();
  return <ProjectAdmin project={info.slug} />;
}
