import { createDatasetOperation, listDatasetsOperation } from '@/server/api-v1/datasets';

export const dynamic = 'force-dynamic';

export const GET = listDatasetsOperation.handle;
export const POST = createDatasetOperation.handle;
