import { z } from 'zod';
import { ZDatasetSpec } from './spec';
import { versionFormats, versionSplits } from './version-files';

export const ZBuildDatasetVersion = z.object({
  name: z.string().trim().min(1, 'a version needs a name').max(200),
  spec: ZDatasetSpec,
});
export const ZVersionRef = z.object({ version: z.number().int().positive() });
export const ZListDatasetVersions = z.object({
  limit: z.number().int().min(1).max(500).default(50),
  before: z.number().int().positive().nullish(),
  /** Only versions drawing from this project. */
  project: z.string().min(1).optional(),
});
export const ZVersionDownload = z.object({
  format: z.enum(versionFormats).default('trl'),
  split: z.enum(versionSplits).default('train'),
});
