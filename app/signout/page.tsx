import { TRPCError } from '@trpc/server';
import { signOut } from '@/server/auth/next-auth';
import { serverCaller } from '../_trpc/server';

export const metadata = { title: 'Sign out · Pairwise' };

async function signOutAction() {
  'use server';
  await signOut({ redirectTo: '/signin' });
}

/** Ends every session of this user (other browsers at their next request), then this one. */
async function signOutEverywhereAction() {
  'use server';
  await (await serverCaller()).users.signOutEverywhere().catch((error: unknown) => {
    // Already signed out (or revoked elsewhere): there is nothing left to end but this cookie.
    if (!(error instanceof TRPCError && error.code === 'UNAUTHORIZED')) throw error;
  });
  await signOut({ redirectTo: '/signin' });
}

export default function SignOutPage() {
  return (
    <main className="mx-auto mt-20 max-w-sm px-4">
      <h1 className="mb-6 text-2xl font-semibold">Sign out</h1>
      <form action={signOutAction} className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
        <p className="mb-4 text-sm text-slate-600">Sign out of Pairwise on this browser?</p>
        <button type="submit" className="w-full rounded bg-slate-900 px-3 py-2 font-medium text-white hover:bg-slate-700">
          Sign out
        </button>
      </form>
      <form action={signOutEverywhereAction} className="mt-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
        <p className="mb-4 text-sm text-slate-600">Lost a device, or signed in somewhere you should not have? This ends your sessions in every browser.</p>
        <button type="submit" className="w-full rounded border border-slate-300 px-3 py-2 font-medium text-slate-900 hover:bg-slate-50">
          Sign out everywhere
        </button>
      </form>
    </main>
  );
}
