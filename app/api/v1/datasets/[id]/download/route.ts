import { downloadDatasetOperation } from '@/server/api-v1/datasets';

export const dynamic = 'force-dynamic';

export const GET = downloadDatasetOperation.handle;
