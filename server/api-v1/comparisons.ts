import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../errors';
import { importFiles, type TNamedSource } from '../imports/import-formats';
import { importLimits, limitedBody, rejectList } from '../imports/import-limits';
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
      'One file as the raw body, or several as multipart/form-data (the answers format needs a prompts file and answers files). Files are JSONL, optionally gzipped (detected from their first bytes), streamed, and imported all or nothing: a bad line is a 400 naming the file and line, and nothing is written (with skipInvalid=1 the good lines are imported and the bad ones listed). Comparisons already in the project are skipped. The body, each multipart file and the text after gunzip are capped at PAIRWISE_MAX_IMPORT_BYTES (2 GiB by default): over it, a 413; a line over PAIRWISE_MAX_LINE_BYTES is a bad line.',
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
    errors: [400, 404, 413],
  },
  async ({ request, principal, ctx, params, query }) => {
    const project = await requireScopedProject(ctx.db.db, principal, params.project);
    const limits = importLimits();
    const body = limitedBody(request, limits.maxImportBytes);
    const boundary = multipartBoundary(request.headers.get('content-type'));
    if (!boundary && query.format === 'answers') {
      throw new AppError('BAD_REQUEST', 'format: answers takes a prompts file and answers files: send them as multipart/form-data parts', { field: 'format' });
    }
    // Multipart parts arrive one after the other in one stream; the import reads its files in
    // turn, so the parts are spooled to disk first (streamed: memory stays flat).
    const spoolDir = boundary ? await fs.mkdtemp(path.join(os.tmpdir(), 'pairwise-upload-')) : null;
    let files: TNamedSource[] = [];
    const rejects = rejectList();
    try {
      files =
        boundary && spoolDir
          ? (await spoolMultipart(body, boundary, spoolDir, { maxFileBytes: limits.maxImportBytes })).map((f) => ({ name: f.name, source: createReadStream(f.path) }))
          : [{ name: query.name, source: body }];
      const result = await importFiles(ctx.db.db, {
        projectId: project.id,
        judgmentsRequired: project.judgmentsRequired,
        format: query.format,
        files,
        models: query.models?.split(',').map((m) => m.trim()),
        maxMessageBytes: limits.maxMessageBytes,
        maxLineBytes: limits.maxLineBytes,
        maxBytes: limits.maxImportBytes,
        skipInvalid: query.skipInvalid,
        onRejected: rejects.onRejected,
      });
      await requestTokenCountBestEffort(ctx.queue, project.id);
      return Response.json({ project: project.slug, format: query.format, ...result, ...(query.skipInvalid ? { rejectedLines: rejects.lines } : {}) });
    } finally {
      if (spoolDir) {
        for (const file of files) file.source.destroy();
        await fs.rm(spoolDir, { recursive: true, force: true });
      }
    }
  },
);
