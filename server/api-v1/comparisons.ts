import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { env } from '../env';
import { AppError } from '../errors';
import { importComparisons } from '../imports/import-comparisons';
import { requestTokenCountBestEffort } from '../quality/token-counts';
import { defineOperation } from './operation';
import { ZApiImportResult, ZImportQuery, ZProjectParams } from './schemas';
import { requireScopedProject } from './scope';

export const importComparisonsOperation = defineOperation(
  {
    method: 'post',
    path: '/projects/{project}/comparisons',
    operationId: 'importComparisons',
    summary: 'Import comparisons from a JSONL file',
    description:
      'The raw body is the file: JSONL, optionally gzipped (detected from its first bytes). It is streamed, and imported all or nothing: a bad line is a 400 naming the line, and nothing is written. Comparisons already in the project are skipped.',
    tag: 'comparisons',
    access: 'write',
    params: ZProjectParams,
    query: ZImportQuery,
    body: { file: { mediaTypes: ['application/x-ndjson', 'application/gzip', 'application/octet-stream'], description: 'the JSONL file, or the file gzipped' } },
    responses: { 200: { description: 'the file was imported', json: ZApiImportResult } },
    errors: [400, 404],
  },
  async ({ request, principal, ctx, params, query }) => {
    const project = await requireScopedProject(ctx.db.db, principal, params.project);
    if (!request.body) throw new AppError('BAD_REQUEST', 'the request has no file in its body', { field: 'body' });
    if (query.format !== 'native') throw new AppError('BAD_REQUEST', `format: importing ${query.format} files is not available yet`, { field: 'format' });
    const result = await importComparisons(ctx.db.db, {
      projectId: project.id,
      judgmentsRequired: project.judgmentsRequired,
      source: Readable.fromWeb(request.body as unknown as NodeWebReadableStream),
      maxMessageBytes: env().PAIRWISE_MAX_MESSAGE_BYTES,
    });
    await requestTokenCountBestEffort(ctx.queue, project.id);
    return Response.json({ project: project.slug, format: query.format, ...result });
  },
);
