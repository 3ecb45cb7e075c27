import { getDb } from '@/db/client';
import { currentUser } from '@/app/_trpc/context';
import { errorResponse } from '@/app/_server/http-errors';
import { auditEventLine, auditEventPages, resolveAuditFilters } from '@/server/audit/audit';
import { AppError } from '@/server/errors';

export const dynamic = 'force-dynamic';

/**
 * The audit log as JSON Lines, newest first, streamed page by page (platform admins only;
 * to others it does not exist). Query: `action`, `project` (slug), `actor` (email).
 */
export async function GET(request: Request) {
  try {
    const user = await currentUser();
    if (!user) throw new AppError('UNAUTHORIZED', 'sign in first');
    if (user.role !== 'admin') throw new AppError('NOT_FOUND', 'not found');
    const query = new URL(request.url).searchParams;
    const { db } = getDb();
    const filters = await resolveAuditFilters(db, {
      action: query.get('action') || undefined,
      project: query.get('project') || undefined,
      actor: query.get('actor') || undefined,
    });
    const pages = auditEventPages(db, filters);
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await pages.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value.map(auditEventLine).join('')));
      },
      async cancel() {
        await pages.return(undefined);
      },
    });
    const stamp = new Date().toISOString().slice(0, 10);
    return new Response(body, {
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'content-disposition': `attachment; filename="pairwise-audit-${stamp}.jsonl"` },
    });
  } catch (error) {
    return errorResponse(error);
  }
}
