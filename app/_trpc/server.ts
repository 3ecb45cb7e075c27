import 'server-only';
import { cache } from 'react';
import { redirect } from 'next/navigation';
import { createCaller } from '@/server/root';
import { createRequestContext, currentUser } from './context';

/** A tRPC caller for server components, one context per request. */
export const serverCaller = cache(async () => createCaller(await createRequestContext()));

/** The signed-in user, or a redirect to the sign-in page. */
export async function requireSignedIn(callbackUrl: string) {
  const user = await currentUser();
  if (!user) redirect(`/signin?callbackUrl=${encodeURIComponent(callbackUrl)}`);
  return user;
}
