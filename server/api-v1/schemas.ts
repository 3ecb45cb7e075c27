import { z } from 'zod';
import { datasetVersionStatus } from '@/db/schema';
import { ZDatasetSpec } from '../datasets/spec';

/** The body of every error answer. */
export const ZApiError = z
  .object({
    error: z.object({
      code: z.enum(['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'INTERNAL']),
      message: z.string(),
      field: z.string().optional().describe('the parameter, body field or file line that was wrong'),
      status: z.enum(datasetVersionStatus.enumValues).optional().describe('409 on a download: the status of the version that is not built'),
    }),
  })
  .meta({ title: 'Error' });

export const ZProjectParams = z.object({ project: z.string().min(1).describe('project slug') });
export const ZVersionParams = z.object({ id: z.coerce.number().int().positive().describe('dataset version id') });

const ZPage = {
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('versions per page (newest first)'),
  before: z.coerce.number().int().positive().optional().describe('only versions with a smaller id: pass `nextBefore` of the previous page'),
};
export const ZListProjectVersionsQuery = z.object(ZPage).strict();
export const ZListVersionsQuery = z
  .object({ ...ZPage, project: z.string().min(1).optional().describe('only versions drawing from this project (slug)') })
  .strict();

export const ZApiDatasetVersion = z
  .object({
    id: z.number().int(),
    name: z.string(),
    status: z.enum(datasetVersionStatus.enumValues),
    progress: z.object({
      done: z.number().int().describe('judgments read so far'),
      total: z.number().int().nullable().describe('judgments to read, once known'),
    }),
    spec: ZDatasetSpec.describe('the normalised filter spec'),
    contentHash: z.string().nullable().describe('sha256 over the canonical spec and pairs file; set once built'),
    manifest: z.record(z.string(), z.unknown()).nullable().describe('counts, statistics, lineage and files; set once built'),
    error: z.string().nullable(),
    createdAt: z.iso.datetime(),
    startedAt: z.iso.datetime().nullable(),
    finishedAt: z.iso.datetime().nullable(),
    links: z.object({ self: z.string(), download: z.string().describe('answers 409 until the version is built') }),
  })
  .meta({ title: 'DatasetVersion' });
export type TApiDatasetVersion = z.output<typeof ZApiDatasetVersion>;

export const ZApiDatasetVersionList = z
  .object({
    versions: z.array(ZApiDatasetVersion),
    nextBefore: z.number().int().nullable().describe('pass as `before` for the next page; null on the last page'),
  })
  .meta({ title: 'DatasetVersionList' });

/** The formats a file can be imported in (see docs/data-formats.md). */
export const apiImportFormats = ['native', 'trl', 'hh-rlhf', 'openai-chat', 'answers'] as const;
export const ZImportQuery = z
  .object({ format: z.enum(apiImportFormats).default('native').describe('the format of the uploaded JSONL file') })
  .strict();

export const ZApiImportResult = z
  .object({
    project: z.string(),
    format: z.enum(apiImportFormats),
    lines: z.number().int().describe('lines read'),
    imported: z.number().int().describe('new comparisons'),
    duplicates: z.number().int().describe('comparisons already in the project, skipped'),
  })
  .meta({ title: 'ImportResult' });
