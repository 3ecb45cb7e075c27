import { z } from 'zod';
import type { TApiPrincipal } from '../api-tokens/api-tokens';
import { requireProjectsAllowed, requireVersionAccess } from '../datasets/access';
import { listDatasetVersions, parseSpec, requestDatasetVersion, requireDatasetVersion, resolveSpecProjects, type TDatasetVersion } from '../datasets/datasets';
import { ZBuildDatasetVersion, ZVersionDownload } from '../datasets/schemas';
import type { TDatasetSpec } from '../datasets/spec';
import type { TVersionCounts } from '../datasets/statistics';
import { streamVersionExport, versionFileType, type TVersionFormat, type TVersionSplit } from '../datasets/version-files';
import { enforceRateLimit } from '../limits/rate-limit';
import { ApiError, bodyStream } from './http';
import { defineOperation, type TApiContext } from './operation';
import { requireScopedProject } from './scope';
import { ZApiDatasetVersion, ZApiDatasetVersionList, ZListProjectVersionsQuery, ZListVersionsQuery, ZProjectParams, ZVersionParams, type TApiDatasetVersion } from './schemas';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export function toApiVersion(version: TDatasetVersion): TApiDatasetVersion {
  const self = `/api/v1/datasets/${version.id}`;
  return {
    id: version.id,
    name: version.name,
    status: version.status,
    progress: { done: version.progressDone, total: version.progressTotal },
    spec: version.spec as unknown as TDatasetSpec,
    contentHash: version.contentHash,
    manifest: version.manifest,
    error: version.error,
    createdAt: version.createdAt.toISOString(),
    startedAt: iso(version.startedAt),
    finishedAt: iso(version.finishedAt),
    links: { self, download: `${self}/download` },
  };
}

async function versionPage(ctx: TApiContext, principal: TApiPrincipal, query: { limit: number; before?: number }, project: number | null) {
  const versions = await listDatasetVersions(ctx.db.db, { visibleProjects: principal.projectIds, limit: query.limit, before: query.before, project });
  return {
    versions: versions.map(toApiVersion),
    nextBefore: versions.length === query.limit ? versions[versions.length - 1]!.id : null,
  };
}

export const listDatasetsOperation = defineOperation(
  {
    method: 'get',
    path: '/datasets',
    operationId: 'listDatasetVersions',
    summary: 'List dataset versions',
    description: 'The versions whose every project is in the token’s scope, newest first.',
    tag: 'datasets',
    access: 'read',
    query: ZListVersionsQuery,
    responses: { 200: { description: 'a page of versions', json: ZApiDatasetVersionList } },
    errors: [400, 404],
  },
  async ({ principal, ctx, query }) => {
    const project = query.project ? (await requireScopedProject(ctx.db.db, principal, query.project)).id : null;
    return Response.json(await versionPage(ctx, principal, query, project));
  },
);

export const listProjectDatasetsOperation = defineOperation(
  {
    method: 'get',
    path: '/projects/{project}/datasets',
    operationId: 'listProjectDatasetVersions',
    summary: 'List a project’s dataset versions',
    description: 'The versions drawing from the project whose every project is in the token’s scope, newest first.',
    tag: 'datasets',
    access: 'read',
    params: ZProjectParams,
    query: ZListProjectVersionsQuery,
    responses: { 200: { description: 'a page of versions', json: ZApiDatasetVersionList } },
    errors: [400, 404],
  },
  async ({ principal, ctx, params, query }) => {
    const project = await requireScopedProject(ctx.db.db, principal, params.project);
    return Response.json(await versionPage(ctx, principal, query, project.id));
  },
);

export const createDatasetOperation = defineOperation(
  {
    method: 'post',
    path: '/datasets',
    operationId: 'buildDatasetVersion',
    summary: 'Build a dataset version',
    description:
      'Records the version and queues its build; poll `GET /datasets/{id}` until its status is `succeeded`. Every project of the spec must be in the token’s scope.',
    tag: 'datasets',
    access: 'write',
    body: { json: ZBuildDatasetVersion, description: 'a name and a filter spec (defaults follow Llama 3: significantly better and better pairs only)' },
    responses: { 202: { description: 'the version, queued', json: ZApiDatasetVersion, headers: { Location: { description: 'the version’s URL', schema: z.string() } } } },
    errors: [400, 404],
  },
  async ({ principal, ctx, body }) => {
    await enforceRateLimit(ctx.db.db, 'dataset-builds', `user:${principal.userId}`);
    const spec = parseSpec(body.spec);
    const projectIds = await resolveSpecProjects(ctx.db.db, spec);
    requireProjectsAllowed(principal.projectIds, projectIds, spec.projects);
    const version = await requestDatasetVersion(ctx.db, await ctx.queue(), { name: body.name, spec, projectIds, createdBy: principal.userId });
    const result = toApiVersion(version);
    return Response.json(result, { status: 202, headers: { location: result.links.self } });
  },
);

export const getDatasetOperation = defineOperation(
  {
    method: 'get',
    path: '/datasets/{id}',
    operationId: 'getDatasetVersion',
    summary: 'A dataset version: status, progress and, once built, its manifest',
    tag: 'datasets',
    access: 'read',
    params: ZVersionParams,
    responses: { 200: { description: 'the version', json: ZApiDatasetVersion } },
    errors: [400, 404],
  },
  async ({ principal, ctx, params }) => {
    await requireVersionAccess(ctx.db.db, principal.projectIds, params.id);
    return Response.json(toApiVersion(await requireDatasetVersion(ctx.db.db, params.id)));
  },
);

/** A file name from the version's name: letters, digits, dots, dashes and underscores only. */
export function versionFileName(version: Pick<TDatasetVersion, 'id' | 'name'>, format: TVersionFormat, split: TVersionSplit): string {
  const base =
    version.name
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[-.]+|-+$/g, '')
      .slice(0, 80) || 'dataset';
  return format === 'parquet' ? `${base}-v${version.id}-${split}.parquet` : `${base}-v${version.id}-${split}.${format}.${versionFileType(format).extension}`;
}

/** Lines the manifest promises for a split: pairs of a preference version, conversations of an SFT version. */
function splitCount(counts: Partial<TVersionCounts> & { conversations?: number } | undefined, split: TVersionSplit): number | null {
  if (!counts) return null;
  const n = split === 'all' ? (counts.pairs ?? counts.conversations) : counts[split];
  return typeof n === 'number' ? n : null;
}

export const downloadDatasetOperation = defineOperation(
  {
    method: 'get',
    path: '/datasets/{id}/download',
    operationId: 'downloadDatasetVersion',
    summary: 'Download a built version in a trainer format',
    description:
      'Streams JSON lines: `trl` (explicit prompt, for DPO), `trl-implicit` (prompt inside chosen and rejected, for reward models), `openai` (preference fine-tuning; pairs whose answers are not one plain assistant message are left out), `hh-rlhf` (transcripts), `sft` (`{"messages": [...]}`, each judgment’s best response), `sft-completion` (`{"prompt": [...], "completion": [...]}`, the same conversations split where the answer starts: TRL trains on the completion only); or `parquet`: the `trl` columns as a Parquet file (each message a JSON value), written one row group at a time. Training formats (`trl`, `trl-implicit`, `sft`, `sft-completion`) keep one schema from the first line: the lines that first show a message shape come first. A version that is not built yet is a 409 with its status.',
    tag: 'datasets',
    access: 'read',
    params: ZVersionParams,
    query: ZVersionDownload.strict(),
    responses: {
      200: {
        description: 'the file, streamed',
        ndjson: true,
        parquet: true,
        headers: {
          'Content-Disposition': { description: 'attachment with a file name', schema: z.string() },
          'X-Pairwise-Pairs': { description: 'preference pairs in the split, from the manifest (sft and sft-completion have one line per judgment, and openai leaves out pairs it cannot hold, so they can have fewer lines)', schema: z.number().int() },
          'X-Pairwise-Content-Hash': { description: 'the version’s content hash', schema: z.string() },
        },
      },
    },
    errors: [400, 404, 409],
  },
  async ({ principal, ctx, params, query }) => {
    await enforceRateLimit(ctx.db.db, 'downloads', `user:${principal.userId}`);
    await requireVersionAccess(ctx.db.db, principal.projectIds, params.id);
    const version = await requireDatasetVersion(ctx.db.db, params.id);
    if (version.status !== 'succeeded') {
      throw new ApiError('CONFLICT', `dataset version ${version.id} is ${version.status}, not built`, { field: 'id', status: version.status });
    }
    const lines = streamVersionExport(ctx.store, version.id, { format: query.format, split: query.split });
    // Read the first chunk before answering: a missing file is then an error status, not a cut stream.
    const first = await lines.next();
    const pairs = splitCount((version.manifest as { counts?: Partial<TVersionCounts> & { conversations?: number } } | null)?.counts, query.split);
    return new Response(bodyStream(lines, first), {
      headers: {
        'content-type': versionFileType(query.format).contentType,
        'content-disposition': `attachment; filename="${versionFileName(version, query.format, query.split)}"`,
        'cache-control': 'private, no-store',
        ...(pairs !== null ? { 'x-pairwise-pairs': String(pairs) } : {}),
        ...(version.contentHash ? { 'x-pairwise-content-hash': version.contentHash } : {}),
      },
    });
  },
);

export const datasetOperations = [listDatasetsOperation, listProjectDatasetsOperation, createDatasetOperation, getDatasetOperation, downloadDatasetOperation];
