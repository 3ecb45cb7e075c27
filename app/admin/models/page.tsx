import { notFound } from 'next/navigation';
import { requireSignedIn } from '@/app/_trpc/server';
import { ModelsAdmin } from './models-admin';

export const metadata = { title: 'Models · Pairwise' };

export default async function ModelsPage() {
  const user = await requireSignedIn('/admin/models');
  // Like every admin page: to others it does not exist.
  if (user.role !== 'admin') notFound();
  return <ModelsAdmin />;
}
