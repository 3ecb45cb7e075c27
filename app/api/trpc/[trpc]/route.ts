import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { retryAfterOf } from '@/server/limits/rate-limit';
import { appRouter } from '@/server/root';
import { createRequestContext } from '@/app/_trpc/context';

const handler = (req: Request) =>
  fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    createContext: createRequestContext,
    // Past a rate limit, clients are told when to try again.
    responseMeta: ({ errors }) => {
      const retryAfter = retryAfterOf(errors);
      return retryAfter === null ? {} : { headers: { 'Retry-After': String(retryAfter) } };
    },
  });

export { handler as GET, handler as POST };
