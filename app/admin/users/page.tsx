import { notFound } from 'next/navigation';
import { requireSignedIn } from '@/app/_trpc/server';
import { UsersAdmin } from './users-admin';

export const metadata = { title: 'Users · Pairwise' };

export default async function UsersPage() {
  const user = await requireSignedIn('/admin/users');
  // For platform admins only; to others the page does not exist.
  if (user.role !== 'admin') notFound();
  return <UsersAdmin selfId={user.id} />;
}
