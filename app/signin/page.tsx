import { AuthError, CredentialsSignin } from 'next-auth';
import { redirect } from 'next/navigation';
import { signIn } from '@/server/auth/next-auth';
import { safeLocalPath } from '../_components/safe-path';
import { currentUser } from '../_trpc/context';

export const metadata = { title: 'Sign in · Pairwise' };

async function signInAction(formData: FormData) {
  'use server';
  const callbackUrl = safeLocalPath(formData.get('callbackUrl'));
  try {
    await signIn('credentials', { email: formData.get('email'), password: formData.get('password'), redirectTo: callbackUrl });
  } catch (error) {
    if (error instanceof AuthError) {
      // The refusal's code (throttled-<s>, busy-<s>, disabled) picks the message; anything else reads as a wrong password.
      const code = error instanceof CredentialsSignin ? error.code : 'invalid';
      redirect(`/signin?error=${encodeURIComponent(code)}&callbackUrl=${encodeURIComponent(callbackUrl)}`);
    }
    throw error; // the redirect that a successful sign-in throws
  }
}

/** What to tell the user for a refused sign-in: `error` from our form, `code` from next-auth's own redirect. */
function refusalMessage(error: string | undefined, code: string | undefined): string | null {
  if (!error) return null;
  const reason = code ?? error;
  const wait = /^(throttled|busy)-(\d+)$/.exec(reason);
  if (wait?.[1] === 'throttled') return `Too many attempts; try again in ${wait[2]} s.`;
  if (wait?.[1] === 'busy') return `The server is busy; try again in ${wait[2]} s.`;
  if (reason === 'disabled') return 'This account is disabled. Ask an admin to enable it.';
  return 'That email and password do not match an account.';
}

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ error?: string; code?: string; callbackUrl?: string }> }) {
  const params = await searchParams;
  const message = refusalMessage(params.error, params.code);
  if (await currentUser()) redirect(safeLocalPath(params.callbackUrl) === '/' ? '/projects' : safeLocalPath(params.callbackUrl));
  return (
    <main className="mx-auto mt-20 max-w-sm px-4">
      <h1 className="mb-6 text-2xl font-semibold">Sign in</h1>
      <form action={signInAction} className="space-y-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
        <input type="hidden" name="callbackUrl" value={safeLocalPath(params.callbackUrl)} />
        {message && (
          <p role="alert" className="rounded bg-red-50 px-3 py-2 text-sm text-red-700">
            {message}
          </p>
        )}
        <label className="block">
          <span className="mb-1 block text-sm font-medium">Email</span>
          <input name="email" type="email" autoComplete="username" required autoFocus className="w-full rounded border border-slate-300 px-3 py-2 focus:border-blue-500 focus:outline-none" />
        </label>
        <label className="block">
          <span className="mb-1 block text-sm font-medium">Password</span>
          <input name="password" type="password" autoComplete="current-password" required className="w-full rounded border border-slate-300 px-3 py-2 focus:border-blue-500 focus:outline-none" />
        </label>
        <button type="submit" className="w-full rounded bg-slate-900 px-3 py-2 font-medium text-white hover:bg-slate-700">
          Sign in
        </button>
      </form>
      <p className="mt-4 text-sm text-slate-500">
        First start? The demo accounts are in <code>.data/demo-credentials.txt</code>.
      </p>
    </main>
  );
}
