import { getDb } from '@/db/client';
import { currentUser } from '@/app/_trpc/context';
import { errorResponse } from '@/app/_server/http-errors';
import { refuseCrossOrigin } from '@/app/_server/same-origin';
import { PROJECT_ADMIN, requireProjectAccess } from '@/server/auth/access';
import { AppError } from '@/server/errors';
import { importFiles, importFormats, type TImportFormat } from '@/server/imports/import-formats';
import { importLimits, limitedBody, parseSkipInvalid, rejectList } from '@/server/imports/import-limits';
import { getQueue } from '@/server/jobs/queue';
import { requestTokenCountBestEffort } from '@/server/quality/token-counts';

export const dynamic = 'force-dynamic';

/**
 * Upload one JSONL (or .jsonl.gz) file as the raw request body; streamed, all or nothing.
 * `?format=` picks the format (native by default; answers needs several files: use the CLI),
 * `?name=` the file name that errors give (else they say just "line N") and imported judgments'
 * source records (else "upload"). `?skipInvalid=1` imports the good lines and lists the bad ones
 * (the first 1,000, with their count). The body is capped at PAIRWISE_MAX_IMPORT_BYTES (413),
 * and so is its text after gunzip.
 */
export async function POST(request: Request, { params }: { params: Promise<{ project: string }> }) {
  try {
    refuseCrossOrigin(request);
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
    const skipInvalid = parseSkipInvalid(query.get('skipInvalid'));
    const limits = importLimits();
    const rejects = rejectList();
    const result = await importFiles(db, {
      projectId: project.id,
      judgmentsRequired: project.judgmentsRequired,
      format,
      files: [{ name: query.get('name')?.trim() || undefined, source: limitedBody(request, limits.maxImportBytes) }],
      maxMessageBytes: limits.maxMessageBytes,
      maxLineBytes: limits.maxLineBytes,
      maxBytes: limits.maxImportBytes,
      skipInvalid,
      onRejected: rejects.onRejected,
    });
    await requestTokenCountBestEffort(() => getQueue(process.env.DATABASE_URL!), project.id);
    return Response.json(skipInvalid ? { ...result, rejectedLines: rejects.lines } : result);
  } catch (error) {
    return errorResponse(error);
  }
}
