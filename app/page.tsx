import { redirect } from 'next/navigation';
import { currentUser } from './_trpc/context';

export default async function Home() {
  redirect((await currentUser()) ? '/projects' : '/signin');
}
