import { getDatasetOperation } from '@/server/api-v1/datasets';

export const dynamic = 'force-dynamic';

export const GET = getDatasetOperation.handle;
