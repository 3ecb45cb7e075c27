import { z } from 'zod';
import { datasetVersionStatus } from '@/db/schema';
import { ZDatasetSpec } from '../datasets/spec';
import { importFormats } from '../imports/import-formats';

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

export const ZImportQuery = z
  .object({
    format: z.enum(importFormats).default('native').describe('the format of the files (see docs/data-formats.md)'),
    name: z.string().trim().min(1).max(200).optional().describe('a raw-body upload: the file name errors give (else just "line N") and imported judgments record as their source'),
    models: z
      .string()
      .regex(/^[^,]+,[^,]+$/, 'two model names separated by a comma')
      .optional()
      .describe('answers format: the two models to compare, "a,b" (default: those of the first two answers files)'),
    skipInvalid: z
      .enum(['0', '1', 'false', 'true'])
      .default('0')
      .transform((v) => v === '1' || v === 'true')
      .describe('1: import the good lines and list the bad ones (the first 1,000, with their count) instead of failing the import'),
  })
  .strict();

export const ZApiImportResult = z
  .object({
    project: z.string(),
    format: z.enum(importFormats),
    lines: z.number().int().describe('lines read in all files, blank ones included'),
    imported: z.number().int().describe('new comparisons'),
    duplicates: z.number().int().describe('comparisons (openai-chat: prompts) already in the project or repeated in the files, skipped'),
    prompts: z.number().int().describe('new prompts, those of new comparisons included'),
    judgments: z.number().int().describe('imported judgments (trl, hh-rlhf: the file’s preferences)'),
    skipped: z.number().int().describe('answers: uids without a prompt or without an answer from both models'),
    rejected: z.number().int().optional().describe('skipInvalid: the bad lines left out'),
    rejectedLines: z
      .array(z.object({ file: z.string().nullable(), line: z.number().int(), reason: z.string() }).meta({ title: 'RejectedLine' }))
      .optional()
      .describe('skipInvalid: the first 1,000 bad lines left out (file null for a raw-body upload without a name)'),
  })
  .meta({ title: 'ImportResult' });
