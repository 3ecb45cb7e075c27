'use client';

import Link from 'next/link';
import { BuildForm } from './build-form';
import { VersionsList } from './versions-list';

export interface TProjectChoice {
  slug: string;
  name: string;
}

/** Dataset versions: build one from the projects one administers, follow the builds, open them. */
export function DatasetsAdmin({ projects, project, me }: { projects: TProjectChoice[]; project: string | null; me: { id: number; email: string } }) {
  const filtered = project ? projects.find((p) => p.slug === project) : undefined;
  return (
    <main className="mx-auto max-w-6xl space-y-6 px-4 py-8">
      <div className="flex flex-wrap items-baseline gap-x-4 gap-y-1">
        <h1 className="text-2xl font-semibold">Datasets</h1>
        <span className="text-sm text-slate-500">immutable, hashed versions of curated preference pairs and of SFT conversations from rejection sampling</span>
        {project && (
          <span className="ml-auto flex items-baseline gap-3 text-sm">
            <span className="text-slate-600">
              From project <span className="font-medium">{filtered?.name ?? project}</span>
            </span>
            <Link href={`/admin/projects/${encodeURIComponent(project)}`} className="text-blue-700 underline">
              Manage project
            </Link>
            <Link href="/admin/datasets" className="text-blue-700 underline">
              All versions
            </Link>
          </span>
        )}
      </div>
      <VersionsList project={project} me={me} />
      <BuildForm projects={projects} initialProjects={filtered ? [filtered.slug] : []} />
    </main>
  );
}
