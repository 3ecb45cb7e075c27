import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { env } from '../env';
import { AppError } from '../errors';
import { importFiles, type TNamedSource } from '../imports/import-formats';
import { requestTokenCountBestEffort } from '../quality/token-counts';
import { multipartBoundary, spoolMultipart } from './multipart';
import { defineOperation } from './operation';
import { ZApiImportResult, ZImportQuery, ZProjectParams } from './schemas';
import { requireScopedProject } from './scope';

export const importComparisonsOperation = defineOperation(
  {
    method: 'post',
    path: '/projects/{project}/comparisons',
    operationId: 'importComparisons',
    summary: 'Import comparisons (or prompts) from JSONL files',
    description:
      'One file as the raw body, or several as multipart/form-data (the answers format needs a prompts file and answers files). Files are JSONL, optionally gzipped (detected from their first bytes), streamed, and imported all or nothing: a bad line is a 400 naming the file and line, and nothing is written. Comparisons already in the project are skipped.',
    tag: 'comparisons',
    access: 'write',
    params: ZProjectParams,
    query: ZImportQuery,
    body: {
      file: {
        mediaTypes: ['application/x-ndjson', 'application/gzip', 'application/octet-stream', 'multipart/form-data'],
        description: 'the JSONL file (or the file gzipped) as the body; or several files as multipart/form-data parts, in order',
      },
    },
    responses: { 200: { description: 'the files were imported', json: ZApiImportResult } },
    errors: [400, 404],
  },
  async ({ request, principal, ctx, params, query }) => {
    const project = await requireScopedProject(ctx.db.db, principal, params.project);
    if (!request.body) throw new AppError('BAD_REQUEST', 'the request has no file in its body', { field: 'body' });
    const body = Readable.fromWeb(request.body as unknown as NodeWebReadableStream);
    const boundary = multipartBoundary(request.headers.get('content-type'));
    if (!boundary && query.format === 'answers') {
      throw new AppError('BAD_REQUEST', 'format: answers takes a prompts file and answers files: send them as multipart/form-data parts', { field: 'format' });
    }
    // Multipart parts arrive one after the other in one stream; the import reads its files in
    // turn, so the parts are spooled to disk first (streamed: memory stays flat).
    const spoolDir = boundary ? await fs.mkdtemp(path.join(os.tmpdir(), 'pairwise-upload-')) : null;
    let files: TNamedSource[] = [];
    try {
      files =
        boundary && spoolDir
          ? (await spoolMultipart(body, boundary, spoolDir)).map((f) => ({ name: f.name, source: createReadStream(f.path) }))
          : [{ name: query.name, source: body }];
      const result = await importFiles(ctx.db.db, {
        projectId: project.id,
        judgmentsRequired: project.judgmentsRequired,
        format: query.format,
        files,
        models: query.models?.split(',').map((m) => m.trim()),
        maxMessageBytes: env().PAIRWISE_MAX_MESSAGE_BYTES,
      });
      await requestTokenCountBestEffort(ctx.queue, project.id);
      return Response.json({ project: project.slug, format: query.format, ...result });
    } finally {
      if (spoolDir) {
        for (const file of files) file.source.destroy();
        await fs.rm(spoolDir, { recursive: true, force: true });
      }
    }
  },
);
