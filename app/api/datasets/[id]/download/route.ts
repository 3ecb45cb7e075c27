import { currentUser } from '@/app/_trpc/context';
import { versionFileName } from '@/app/admin/datasets/file-name';
import { errorResponse } from '@/app/_server/http-errors';
import { getDb } from '@/db/client';
import { artifactStore } from '@/server/artifacts/store';
import { adminProjectIds, requireVersionAccess } from '@/server/datasets/access';
import { requireBuiltVersion } from '@/server/datasets/datasets';
import { ZVersionDownload } from '@/server/datasets/schemas';
import { streamVersionExport, versionFileType } from '@/server/datasets/version-files';
import { AppError } from '@/server/errors';
import { parseInput } from '@/server/validation';

export const dynamic = 'force-dynamic';

/** Chunks as bytes; the first one is read before answering, so a missing file is an error status, not a cut stream. */
function byteStream(chunks: AsyncIterator<string | Uint8Array>, first: IteratorResult<string | Uint8Array>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let pending: IteratorResult<string | Uint8Array> | undefined = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = pending ?? (await chunks.next());
      pending = undefined;
      if (next.done) controller.close();
      else controller.enqueue(typeof next.value === 'string' ? encoder.encode(next.value) : next.value);
    },
    async cancel() {
      await chunks.return?.(undefined);
    },
  });
}

/** A built dataset version in a trainer format, for the signed-in admins of all its projects. */
export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  try {
    const user = await currentUser();
    if (!user) throw new AppError('UNAUTHORIZED', 'sign in first');
    const raw = (await params).id;
    const id = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id <= 0) throw new AppError('BAD_REQUEST', 'the version id must be a positive integer', { field: 'id' });
    const query = new URL(request.url).searchParams;
    const { format, split } = parseInput(ZVersionDownload, { format: query.get('format') ?? undefined, split: query.get('split') ?? undefined });
    const { db } = getDb();
    await requireVersionAccess(db, await adminProjectIds(db, user), id);
    const version = await requireBuiltVersion(db, id);
    const chunks = streamVersionExport(artifactStore(), version.id, { format, split });
    const first = await chunks.next();
    return new Response(byteStream(chunks, first), {
      headers: {
        'content-type': versionFileType(format).contentType,
        'content-disposition': `attachment; filename="${versionFileName(version, format, split)}"`,
        'cache-control': 'private, no-store',
        ...(version.contentHash ? { 'x-pairwise-content-hash': version.contentHash } : {}),
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
}
