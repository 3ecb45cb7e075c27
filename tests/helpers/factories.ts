import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { TDbHandle } from '@/db/client';
import { localArtifactStore } from '@/server/artifacts/store';
import { importComparisons } from '@/server/imports/import-comparisons';
import { createBoss, ensureQueues } from '@/server/jobs/queue';
import { addMember, createProject, type TProject } from '@/server/projects/projects';
import { createCaller } from '@/server/root';
import type { TRole, TSessionUser } from '@/server/users/schemas';
import { createUser } from '@/server/users/users';
import type PgBoss from 'pg-boss';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}${randomBytes(2).toString('hex')}`;

export async function makeUser(handle: TDbHandle, role: TRole = 'annotator'): Promise<TSessionUser> {
  return createUser(handle.db, { email: `${role}-${unique()}@test.local`, password: 'correct horse battery', role });
}

export async function makeProject(
  handle: TDbHandle,
  options: { judgmentsRequired?: number; leaseSeconds?: number; members?: { user: TSessionUser; role: TRole }[] } = {},
): Promise<TProject> {
  const project = await createProject(handle.db, {
    slug: `p-${unique()}`,
    name: 'Test project',
    judgmentsRequired: options.judgmentsRequired ?? 1,
    leaseSeconds: options.leaseSeconds ?? 900,
  });
  for (const m of options.members ?? []) await addMember(handle.db, { projectId: project.id, userId: m.user.id, role: m.role });
  return project;
}

/** `n` two-response comparisons with recognisable texts: "prompt i", "answer i from m1" / "m2". */
export function comparisonLines(n: number, prefix = 'c'): string[] {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      id: `${prefix}-${i}`,
      prompt: `prompt ${prefix} ${i}`,
      responses: [
        { content: `answer ${prefix} ${i} from m1`, model: 'm1' },
        { content: `answer ${prefix} ${i} from m2`, model: 'm2' },
      ],
    }),
  );
}

export async function importLines(handle: TDbHandle, project: TProject, lines: string[]) {
  return importComparisons(handle.db, {
    projectId: project.id,
    judgmentsRequired: project.judgmentsRequired,
    source: Readable.from([lines.join('\n') + '\n']),
  });
}

let sharedBoss: Promise<PgBoss> | null = null;

/** A tRPC caller acting as `user` (or signed out), exactly as the web app builds it. */
export function callerFor(handle: TDbHandle, url: string, user: TSessionUser | null, artifactsRoot = '/tmp/pairwise-test-artifacts') {
  return createCaller({
    db: handle,
    user,
    store: localArtifactStore(artifactsRoot),
    queue: () =>
      (sharedBoss ??= (async () => {
        const boss = createBoss(url, 'web');
        await boss.start();
        await ensureQueues(boss);
        return boss;
      })()),
  });
}

export async function stopSharedQueue(): Promise<void> {
  if (sharedBoss) await (await sharedBoss).stop({ graceful: false, wait: true });
  sharedBoss = null;
}
