import { openApiOperation } from '@/server/api-v1/openapi';

export const dynamic = 'force-dynamic';

export const GET = openApiOperation.handle;
