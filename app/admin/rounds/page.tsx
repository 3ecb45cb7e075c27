import { notFound } from 'next/navigation';
import { requireSignedIn } from '@/app/_trpc/server';
import { RoundsAdmin } from './rounds-admin';

export const metadata = { title: 'Rounds · Pairwise' };

export default async function RoundsPage() {
  const user = await requireSignedIn('/admin/rounds');
  // Like every admin page: to others it does not exist.
  if (user.role !== 'admin') notFound();
  return <RoundsAdmin />;
}
