import { DATABASE_RETRY_AFTER_SECONDS } from '@/db/availability';
import { retryAfterOf } from '@/server/limits/rate-limit';
import { appRouter } from '@/server/root';
import { serveTrpc } from '@/server/trpc-http';
import { createRequestContext } from '@/app/_trpc/context';

// Body size and batch length are checked before any session lookup or procedure (server/trpc-http.ts).
const handler = (req: Request) =>
  serveTrpc({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    createContext: createRequestContext,
    // With the database away, or past a rate limit, clients are told when to try again.
    responseMeta: ({ errors }) => {
      const retryAfter = errors.some((e) => e.code === 'SERVICE_UNAVAILABLE') ? DATABASE_RETRY_AFTER_SECONDS : retryAfterOf(errors);
      return retryAfter === null ? {} : { headers: { 'Retry-After': String(retryAfter) } };
    },
  });

export { handler as GET, handler as POST };
