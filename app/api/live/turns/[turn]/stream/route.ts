import { getDb } from '@/db/client';
import { currentUser } from '@/app/_trpc/context';
import { errorResponse } from '@/app/_server/http-errors';
import { AppError } from '@/server/errors';
import { liveSideResponse } from '@/server/live/side-events';

export const dynamic = 'force-dynamic';

/** One side's answer of the signed-in annotator's live turn, streamed as server-sent events. */
export async function GET(request: Request, { params }: { params: Promise<{ turn: string }> }) {
  try {
    const user = await currentUser();
    if (!user) throw new AppError('UNAUTHORIZED', 'sign in first');
    const { turn } = await params;
    return await liveSideResponse(getDb().db, { annotatorId: user.id, turn, side: new URL(request.url).searchParams.get('side'), signal: request.signal });
  } catch (error) {
    return errorResponse(error);
  }
}
