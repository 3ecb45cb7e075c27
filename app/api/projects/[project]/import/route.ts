import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { getDb } from '@/db/client';
import { currentUser } from '@/app/_trpc/context';
import { errorResponse } from '@/app/_server/http-errors';
import { PROJECT_ADMIN, requireProjectAccess } from '@/server/auth/access';
import { env } from '@/server/env';
import { AppError } from '@/server/errors';
import { importComparisons } from '@/server/imports/import-comparisons';
import { getQueue } from '@/server/jobs/queue';
import { requestTokenCountBestEffort } from '@/server/quality/token-counts';

export const dynamic = 'force-dynamic';

/** Upload a native JSONL (or .jsonl.gz) file as the raw request body; streamed, all or nothing. */
export async function POST(request: Request, { params }: { params: Promise<{ project: string }> }) {
  try {
    const user = await currentUser();
    if (!user) throw new AppError('UNAUTHORIZED', 'sign in first');
    const { project: slug } = await params;
    const { db } = getDb();
    const { project } = await requireProjectAccess(db, user, slug, PROJECT_ADMIN);
    if (!request.body) throw new AppError('BAD_REQUEST', 'the request has no file in its body');
    const result = await importComparisons(db, {
      projectId: project.id,
      judgmentsRequired: project.judgmentsRequired,
      source: Readable.fromWeb(request.body as unknown as NodeWebReadableStream),
      maxMessageBytes: env().PAIRWISE_MAX_MESSAGE_BYTES,
    });
    await requestTokenCountBestEffort(() => getQueue(process.env.DATABASE_URL!), project.id);
    return Response.json(result);
  } catch (error) {
    return errorResponse(error);
  }
}
