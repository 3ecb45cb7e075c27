import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { getDb } from '@/db/client';
import { currentUser } from '@/app/_trpc/context';
import { errorResponse } from '@/app/_server/http-errors';
import { PROJECT_ADMIN, requireProjectAccess } from '@/server/auth/access';
import { env } from '@/server/env';
import { AppError } from '@/server/errors';
import { importFiles, importFormats, type TImportFormat } from '@/server/imports/import-formats';
import { getQueue } from '@/server/jobs/queue';
import { requestTokenCountBestEffort } from '@/server/quality/token-counts';

export const dynamic = 'force-dynamic';

/**
 * Upload one JSONL (or .jsonl.gz) file as the raw request body; streamed, all or nothing.
 * `?format=` picks the format (native by default; answers needs several files: use the CLI),
 * `?name=` the file name that errors give (else they say just "line N") and imported judgments'
 * source records (else "upload").
 */
export async function POST(request: Request, { params }: { params: Promise<{ project: string }> }) {
  try {
    const user = await currentUser();
    if (!user) throw new AppError('UNAUTHORIZED', 'sign in first');
    const { project: slug } = await params;
    const { db } = getDb();
    const { project } = await requireProjectAccess(db, user, slug, PROJECT_ADMIN);
    const query = new URL(request.url).searchParams;
    const format = (query.get('format') ?? 'native') as TImportFormat;
    if (!importFormats.includes(format) || format === 'answers') {
      throw new AppError('BAD_REQUEST', `format: one of ${importFormats.filter((f) => f !== 'answers').join(', ')} (answers takes several files: use the CLI)`, { field: 'format' });
    }
    if (!request.body) throw new AppError('BAD_REQUEST', 'the request has no file in its body');
    const result = await importFiles(db, {
      projectId: project.id,
      judgmentsRequired: project.judgmentsRequired,
      format,
      files: [{ name: query.get('name')?.trim() || undefined, source: Readable.fromWeb(request.body as unknown as NodeWebReadableStream) }],
      maxMessageBytes: env().PAIRWISE_MAX_MESSAGE_BYTES,
    });
    await requestTokenCountBestEffort(() => getQueue(process.env.DATABASE_URL!), project.id);
    return Response.json(result);
  } catch (error) {
    return errorResponse(error);
  }
}
