import type { Metadata } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { TrpcProvider } from './_trpc/client';
import { currentUser } from './_trpc/context';
import './globals.css';

export const metadata: Metadata = {
  title: 'Pairwise',
  description: 'Human preference data for better language models',
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  return (
    <html lang="en">
      <body className="min-h-screen">
        <header className="border-b border-slate-200 bg-white">
          <nav className="mx-auto flex h-12 max-w-7xl items-center gap-6 px-4 text-sm">
            <Link href="/" className="font-semibold tracking-tight text-slate-900">
              Pairwise
            </Link>
            {user && (
              <Link href="/projects" className="text-slate-600 hover:text-slate-900">
                Projects
              </Link>
            )}
            {user?.role === 'admin' && (
              <Link href="/admin/datasets" className="text-slate-600 hover:text-slate-900">
                Datasets
              </Link>
            )}
            {user?.role === 'admin' && (
              <Link href="/admin/rounds" className="text-slate-600 hover:text-slate-900">
                Rounds
              </Link>
            )}
            {user?.role === 'admin' && (
              <Link href="/admin/executors" className="text-slate-600 hover:text-slate-900">
                Executors
              </Link>
            )}
            {user?.role === 'admin' && (
              <Link href="/admin/tokens" className="text-slate-600 hover:text-slate-900">
                API tokens
              </Link>
            )}
            {user?.role === 'admin' && (
              <Link href="/admin/users" className="text-slate-600 hover:text-slate-900">
                Users
              </Link>
            )}
            {user?.role === 'admin' && (
              <Link href="/admin/audit" className="text-slate-600 hover:text-slate-900">
                Audit log
              </Link>
            )}
            <span className="ml-auto flex items-center gap-4 text-slate-600">
              {user ? (
                <>
                  <span>
                    {user.email} <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs">{user.role}</span>
                  </span>
                  <Link href="/signout" className="hover:text-slate-900">
                    Sign out
                  </Link>
                </>
              ) : (
                <Link href="/signin" className="hover:text-slate-900">
                  Sign in
                </Link>
              )}
            </span>
          </nav>
        </header>
        <TrpcProvider>{children}</TrpcProvider>
      </body>
    </html>
  );
}
