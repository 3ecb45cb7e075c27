import fs from 'node:fs/promises';
import path from 'node:path';
import { currentUser } from '@/app/_trpc/context';
import { errorResponse } from '@/app/_server/http-errors';
import { AppError } from '@/server/errors';

export const dynamic = 'force-dynamic';

/**
 * docs/executors.md as plain text, for the executors page's "how to configure" link (platform
 * admins only, like the page): the app serves no other docs, and the config fields live there.
 */
export async function GET() {
  try {
    const user = await currentUser();
    if (!user) throw new AppError('UNAUTHORIZED', 'sign in first');
    if (user.role !== 'admin') throw new AppError('NOT_FOUND', 'not found');
    const text = await fs.readFile(path.join(process.cwd(), 'docs', 'executors.md'), 'utf8');
    return new Response(text, { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
  } catch (error) {
    return errorResponse(error);
  }
}
