import type { NextRequest } from 'next/server';

/**
 * A path whose percent-encoding does not decode (`%E0%A4%A`, `%ff`) reached a dynamic segment
 * and Next.js answered 500 with nothing in the log. It is the client's mistake: 400, said plainly.
 * Runs only on the routes that have dynamic segments, and only decodes when a `%` is present.
 */
export function proxy(request: NextRequest) {
  const path = request.nextUrl.pathname;
  if (!path.includes('%')) return;
  try {
    decodeURIComponent(path);
  } catch {
    return Response.json({ error: 'the URL path is not valid percent-encoded UTF-8', code: 'BAD_REQUEST', field: 'path' }, { status: 400 });
  }
}

export const config = {
  matcher: ['/api/:path*', '/annotate/:path*', '/review/:path*', '/admin/projects/:path*', '/admin/datasets/:path*'],
};
