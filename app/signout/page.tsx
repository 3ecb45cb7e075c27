import { signOut } from '@/server/auth/next-auth';

export const metadata = { title: 'Sign out · Pairwise' };

async function signOutAction() {
  'use server';
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
    </main>
  );
}
