import Link from 'next/link';
import { requireSignedIn, serverCaller } from '../_trpc/server';

export const metadata = { title: 'Projects · Pairwise' };

export default async function ProjectsPage() {
  await requireSignedIn('/projects');
  const projects = await (await serverCaller()).projects.list();
  return (
    <main className="mx-auto max-w-4xl px-4 py-8">
      <h1 className="mb-6 text-2xl font-semibold">Projects</h1>
      {projects.length === 0 ? (
        <p className="text-slate-600">You are not a member of any project yet. Ask an admin to add you.</p>
      ) : (
        <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white">
          {projects.map((p) => (
            <li key={p.id} className="flex items-center gap-4 px-4 py-3">
              <div className="min-w-0 flex-1">
                <div className="font-medium">{p.name}</div>
                <div className="truncate text-sm text-slate-500">{p.description}</div>
              </div>
              <span className="rounded bg-slate-100 px-2 py-0.5 text-xs text-slate-600">{p.role}</span>
              <Link href={`/annotate/${p.slug}`} className="rounded bg-slate-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-700">
                Annotate
              </Link>
              {(p.role === 'reviewer' || p.role === 'admin') && <Link href={`/review/${p.slug}`} className="rounded border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-50">Review</Link>}
              {p.role === 'admin' && (
                <Link href={`/admin/projects/${p.slug}`} className="rounded border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-50">
                  Manage
                </Link>
              )}
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
