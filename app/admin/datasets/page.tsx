import { notFound } from 'next/navigation';
import { requireSignedIn, serverCaller } from '@/app/_trpc/server';
import { DatasetsAdmin } from './datasets-admin';

export const metadata = { title: 'Datasets · Pairwise' };

export default async function DatasetsPage({ searchParams }: { searchParams: Promise<{ project?: string | string[] }> }) {
  const { project } = await searchParams;
  const filter = typeof project === 'string' && project ? project : null;
  const user = await requireSignedIn(filter ? `/admin/datasets?project=${encodeURIComponent(filter)}` : '/admin/datasets');
  const projects = await (await serverCaller()).projects.list();
  // Versions belong to project admins: the projects one may build from are those one administers.
  const administered = projects.filter((p) => user.role === 'admin' || p.role === 'admin').map((p) => ({ slug: p.slug, name: p.name }));
  if (administered.length === 0) notFound();
  return <DatasetsAdmin projects={administered} project={filter} me={{ id: user.id, email: user.email }} />;
}
