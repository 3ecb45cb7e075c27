import { Readable } from 'node:stream';
import { getDb } from '@/db/client';
import { currentUser } from '@/app/_trpc/context';
import { errorResponse } from '@/app/_server/http-errors';
import { artifactStore } from '@/server/artifacts/store';
import { PROJECT_ADMIN, requireProjectAccess } from '@/server/auth/access';
import { AppError, isAppError } from '@/server/errors';
import { exportContentType } from '@/server/exports/export-lines';
import { exportFileName, getExportWithProject } from '@/server/exports/exports';

export const dynamic = 'force-dynamic';

/** Streams a finished export's file from the artifact store. */
export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  try {
    const user = await currentUser();
    if (!user) throw new AppError('UNAUTHORIZED', 'sign in first');
    const id = Number((await params).id);
    if (!Number.isInteger(id) || id <= 0) throw new AppError('BAD_REQUEST', 'the export id must be a positive integer', { field: 'id' });
    const { db } = getDb();
    const found = await getExportWithProject(db, id);
    // Outsiders get the same answer for "not yours" as for "does not exist".
    if (!found) throw new AppError('NOT_FOUND', `no export ${id}`);
    // Not a member: the export's answer, not the project's, whose slug it would give away.
    await requireProjectAccess(db, user, found.projectSlug, PROJECT_ADMIN).catch((error: unknown) => {
      throw isAppError(error) && error.code === 'NOT_FOUND' ? new AppError('NOT_FOUND', `no export ${id}`) : error;
    });
    if (found.export.status !== 'succeeded' || !found.export.artifactKey) throw new AppError('CONFLICT', `export ${id} is ${found.export.status}, not ready`);
    const store = artifactStore();
    const size = await store.size(found.export.artifactKey);
    const body = Readable.toWeb(await store.read(found.export.artifactKey)) as unknown as ReadableStream;
    return new Response(body, {
      headers: {
        'content-type': exportContentType(found.export.format),
        'content-disposition': `attachment; filename="${exportFileName(found.export, found.projectSlug)}"`,
        ...(size !== null ? { 'content-length': String(size) } : {}),
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
}
