'use client';

import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { useState, type ReactNode } from 'react';
import superjson from 'superjson';
import type { TAppRouter } from '@/server/root';
import { TRPC_MAX_BATCH_CALLS, TRPC_MAX_URL_LENGTH } from '@/server/trpc-batch-limit';

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<TAppRouter>();

function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: { staleTime: 10_000, refetchOnWindowFocus: false },
      // Client errors (4xx) are answers, not glitches: do not retry them.
      mutations: { retry: (count, error) => count < 3 && !/^(BAD_REQUEST|UNAUTHORIZED|FORBIDDEN|NOT_FOUND|CONFLICT)$/.test(trpcCode(error)) },
    },
  });
}

export function trpcCode(error: unknown): string {
  const data = (error as { data?: { code?: string } } | null)?.data;
  return data?.code ?? '';
}

export function TrpcProvider({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<TAppRouter>({ links: [httpBatchLink({ url: '/api/trpc', transformer: superjson, maxItems: TRPC_MAX_BATCH_CALLS, maxURLLength: TRPC_MAX_URL_LENGTH })] }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
