import { notFound } from 'next/navigation';
import { requireSignedIn } from '@/app/_trpc/server';
import { RoundsAdmin } from './rounds-admin';

export const metadata = { title: 'Rounds · Pairwise' };

export default async function RoundsPage({ searchParams }: { searchParams: Promise<{ round?: string | string[] }> }) {
  const user = await requireSignedIn('/admin/rounds');
  // Like every admin page: to others it does not exist.
  if (user.role !== 'admin') notFound();
  // `?round=<id>` (links from the Executors page) opens that round.
  const { round } = await searchParams;
  const id = Number(Array.isArray(round) ? round[0] : round);
  return <RoundsAdmin initialRound={Number.isSafeInteger(id) && id > 0 ? id : null} />;
}
