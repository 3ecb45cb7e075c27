import { notFound } from 'next/navigation';
import { requireSignedIn } from '@/app/_trpc/server';
import { executorKinds } from '@/server/executors/schemas';
import { ExecutorsAdmin } from './executors-admin';

export const metadata = { title: 'Executors · Pairwise' };

export default async function ExecutorsPage() {
  const user = await requireSignedIn('/admin/executors');
  // For platform admins only; to others the page does not exist.
  if (user.role !== 'admin') notFound();
  // The kinds come from the database enum on the server; the client component gets the list only.
  return <ExecutorsAdmin kinds={[...executorKinds]} />;
}
