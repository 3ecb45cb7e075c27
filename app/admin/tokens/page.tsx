import { notFound } from 'next/navigation';
import { requireSignedIn, serverCaller } from '@/app/_trpc/server';
import { TokensAdmin } from './tokens-admin';

export const metadata = { title: 'API tokens · Pairwise' };

export default async function TokensPage() {
  const user = await requireSignedIn('/admin/tokens');
  const projects = await (await serverCaller()).projects.list();
  const administered = projects.filter((p) => p.role === 'admin').map(({ slug, name }) => ({ slug, name }));
  // Tokens are for project admins; to others the page does not exist.
  if (user.role !== 'admin' && administered.length === 0) notFound();
  return <TokensAdmin projects={administered} seesAll={user.role === 'admin'} />;
}
