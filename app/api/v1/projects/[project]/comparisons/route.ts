import { importComparisonsOperation } from '@/server/api-v1/comparisons';

export const dynamic = 'force-dynamic';

export const POST = importComparisonsOperation.handle;
