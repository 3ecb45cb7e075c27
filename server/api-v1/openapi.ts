import { z } from 'zod';
import { importComparisonsOperation } from './comparisons';
import { datasetOperations } from './datasets';
import { withApiErrors, type TApiOperation, type TOperationSpec, type TResponseSpec } from './operation';
import { ZApiError } from './schemas';

type TJsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12 (the dialect of OpenAPI 3.1), without the `$schema` marker. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): TJsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as TJsonSchema;
  return rest;
}

/** components.schemas being filled: named schemas (a `title` in their meta) are referenced, not inlined. */
interface TComponents {
  schemas: Record<string, TJsonSchema>;
  sources: Map<string, z.ZodType>;
}

function schemaRef(schema: z.ZodType, io: 'input' | 'output', components: TComponents): TJsonSchema {
  const title = (schema.meta() as { title?: string } | undefined)?.title;
  if (!title) return jsonSchema(schema, io);
  const known = components.sources.get(title);
  if (known && known !== schema) throw new Error(`two schemas are titled ${title}`);
  if (!known) {
    components.sources.set(title, schema);
    components.schemas[title] = jsonSchema(schema, io);
  }
  return { $ref: `#/components/schemas/${title}` };
}

function parameters(object: z.ZodObject<z.ZodRawShape> | undefined, where: 'path' | 'query'): TJsonSchema[] {
  if (!object) return [];
  return Object.entries(object.shape).map(([name, field]) => {
    const { description, ...schema } = jsonSchema(field as z.ZodType, 'input');
    return {
      name,
      in: where,
      required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success,
      ...(description ? { description } : {}),
      schema,
    };
  });
}

const errorDescriptions: Record<number, string> = {
  400: 'bad input: the message names the parameter, field or file line',
  401: 'no token, or an unknown, revoked or expired one',
  403: 'the token is read-only',
  404: 'not found, or outside the token’s projects',
  409: 'the version is not built yet (its status is in the error)',
  413: 'the body, a multipart file or the text after gunzip is over PAIRWISE_MAX_IMPORT_BYTES',
  500: 'a bug: the message has an id to find in the server log',
};

function responseObject(response: TResponseSpec, components: TComponents): TJsonSchema {
  const headers = response.headers
    ? Object.fromEntries(Object.entries(response.headers).map(([name, h]) => [name, { description: h.description, schema: jsonSchema(h.schema, 'output') }]))
    : undefined;
  const content = {
    ...(response.json ? { 'application/json': { schema: schemaRef(response.json, 'output', components) } } : {}),
    ...(response.ndjson ? { 'application/x-ndjson': { schema: { type: 'string', description: 'one JSON object a line' } } } : {}),
    ...(response.parquet ? { 'application/vnd.apache.parquet': { schema: { type: 'string', contentMediaType: 'application/vnd.apache.parquet' } } } : {}),
  };
  return { description: response.description, ...(headers ? { headers } : {}), ...(Object.keys(content).length ? { content } : {}) };
}

/** A raw file body, or multipart parts that are each a file (any field name; `files` by convention). */
function fileBodySchema(mediaType: string): TJsonSchema {
  if (mediaType !== 'multipart/form-data') return { type: 'string', contentMediaType: mediaType };
  return {
    type: 'object',
    properties: { files: { type: 'array', description: 'the files, in order, each a part with a file name', items: { type: 'string', contentMediaType: 'application/octet-stream' } } },
  };
}

function operationObject(spec: TOperationSpec, components: TComponents): TJsonSchema {
  const responses: Record<string, TJsonSchema> = {};
  for (const [status, response] of Object.entries(spec.responses)) responses[status] = responseObject(response, components);
  const errorStatuses = [...spec.errors, ...(spec.access === 'public' ? [] : [401]), ...(spec.access === 'write' ? [403] : []), 500].sort((a, b) => a - b);
  for (const status of errorStatuses) {
    responses[String(status)] = { description: errorDescriptions[status], content: { 'application/json': { schema: schemaRef(ZApiError, 'output', components) } } };
  }
  const body = spec.body
    ? 'json' in spec.body
      ? { required: true, description: spec.body.description, content: { 'application/json': { schema: schemaRef(spec.body.json!, 'input', components) } } }
      : {
          required: true,
          description: spec.body.file.description,
          content: Object.fromEntries(spec.body.file.mediaTypes.map((type) => [type, { schema: fileBodySchema(type) }])),
        }
    : undefined;
  const params = [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')];
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    ...(spec.access === 'public' ? { security: [] } : { 'x-pairwise-access': spec.access }),
    ...(params.length ? { parameters: params } : {}),
    ...(body ? { requestBody: body } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of the given operations, paths under /api/v1. */
export function buildOpenApiDocument(operations: TApiOperation[]): TJsonSchema {
  const components: TComponents = { schemas: {}, sources: new Map() };
  const paths: Record<string, Record<string, TJsonSchema>> = {};
  for (const { spec } of operations) {
    const path = `/api/v1${spec.path}`;
    paths[path] ??= {};
    if (paths[path][spec.method]) throw new Error(`${spec.method.toUpperCase()} ${path} is defined twice`);
    paths[path][spec.method] = operationObject(spec, components);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Pairwise API',
      version: '1',
      description:
        'REST API for scripts: import comparisons, build dataset versions and download them in trainer formats. Authenticate with an API token: `Authorization: Bearer pw_...`. A token reaches only its projects, with its creator’s rights in them; read tokens cannot import or build.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerToken: [] }],
    tags: [
      { name: 'comparisons', description: 'import' },
      { name: 'datasets', description: 'dataset versions' },
      { name: 'meta', description: 'this document' },
    ],
    paths,
    components: {
      securitySchemes: { bearerToken: { type: 'http', scheme: 'bearer', description: 'an API token (`pw_` and 43 characters), created on /admin/tokens or with `npm run cli -- token create`' } },
      schemas: components.schemas,
    },
  };
}

let cached: TJsonSchema | undefined;

export const openApiOperation: TApiOperation = {
  spec: {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This OpenAPI 3.1 document',
    tag: 'meta',
    access: 'public',
    responses: { 200: { description: 'the document', json: z.record(z.string(), z.unknown()) } },
    errors: [],
  },
  handle: withApiErrors(async () => Response.json((cached ??= buildOpenApiDocument(apiOperations)))),
};

/** Every operation of the API; app/api/v1 has one route export per entry. */
export const apiOperations: TApiOperation[] = [importComparisonsOperation, ...datasetOperations, openApiOperation];
