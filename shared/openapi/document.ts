import { z } from 'zod';
import type { EndpointDoc } from '../http/endpoint.js';
import { describeApiVersionRange, latestApiVersion } from '../http/api-versions.js';
import type { FunctionDeclaration } from '../runtime/declarations.js';

type JsonSchema = Record<string, unknown>;

const errorSchema: JsonSchema = {
  type: 'object',
  description: "Azure DevOps' error shape with Gatehouse's stable machine-readable `code`.",
  required: ['$id', 'message', 'typeName', 'typeKey', 'errorCode', 'eventId', 'code'],
  properties: {
    $id: { type: 'string' },
    innerException: { type: 'null' },
    message: { type: 'string' },
    typeName: { type: 'string' },
    typeKey: { type: 'string' },
    errorCode: { type: 'integer' },
    eventId: { type: 'integer' },
    code: {
      type: 'string',
      description:
        'Stable machine-readable error code (e.g. invalidRequest, unauthorized, notFound codes per resource, rateLimited). ' +
        '429 answers (rateLimited: writes, anonymous requests, failed authentications per client address and token id; creationRateLimited) carry Retry-After. ' +
        '503 answers carry storageUnavailable, or auditUnavailable when a change was refused because its audit event could not be queued; both with Retry-After, and nothing was changed.',
    },
    details: {},
  },
};

function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

/** Splits an object schema into OpenAPI parameters. */
function parameters(schema: z.ZodType | undefined, location: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const json = toJsonSchema(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

function openApiPath(route: string): string {
  return `/${route.replace(/\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z]+)?\??\}/g, '{$1}')}`;
}

function security(doc: EndpointDoc): JsonSchema[] {
  if (doc.access.anonymous) return [];
  const required = [...(doc.access.users?.scopes ?? []), ...(doc.access.users?.roles ?? []), ...(doc.access.apps?.roles ?? [])];
  return [{ entraBearer: [...new Set(required)] }, ...patSecurity(doc)];
}

/** Routes that accept PATs (Basic `:<pat>` or Bearer), with the scopes of which the PAT needs one. */
function patSecurity(doc: EndpointDoc): JsonSchema[] {
  return doc.access.anonymous || !doc.access.pats ? [] : [{ patBasic: [...doc.access.pats.scopes] }];
}

/** Operation ids are unique per document: a function that answers several methods gets one per method. */
function operationId(name: string, doc: EndpointDoc, method: string): string {
  return doc.methods.length > 1 && method !== doc.methods[0] ? `${name}-${method.toLowerCase()}` : name;
}

function operation(id: string, doc: EndpointDoc): JsonSchema {
  const apiVersion = doc.apiVersions
    ? [
        {
          name: 'api-version',
          in: 'query',
          required: false,
          description:
            `Supported versions: ${describeApiVersionRange(doc.apiVersions)}. ` +
            (doc.apiVersions.optional ? 'Optional.' : 'Required here or, when the query has none, in the Accept header (`application/json;api-version=…`).'),
          schema: { type: 'string', pattern: '^\\d+\\.\\d+(-preview(\\.\\d+)?)?$', example: latestApiVersion(doc.apiVersions) },
        },
      ]
    : [];
  const queryParameters = parameters(doc.query, 'query').filter((parameter) => parameter.name !== 'api-version');
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(doc.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema ? { content: { [response.contentType ?? 'application/json']: { schema: toJsonSchema(response.schema, 'output') } } } : {}),
    };
  }
  responses.default = {
    description: 'Error',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  return {
    operationId: id,
    summary: doc.summary,
    ...(doc.location ? { 'x-ms-vss-area': doc.location.area, 'x-ms-vss-resource': doc.location.resource, 'x-gatehouse-location-id': doc.location.id } : {}),
    tags: [...doc.tags],
    parameters: [...parameters(doc.params, 'path'), ...apiVersion, ...queryParameters],
    ...(doc.body ? { requestBody: { required: true, content: { 'application/json': { schema: toJsonSchema(doc.body, 'input') } } } } : {}),
    responses,
    security: security(doc),
  };
}

/** OpenAPI 3.1 built from the same declarations and zod schemas that route and validate requests. */
export function buildOpenApiDocument(declarations: readonly FunctionDeclaration[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const declaration of declarations) {
    if (declaration.kind !== 'http' || !declaration.doc || declaration.doc.route.includes('{*')) continue;
    const path = openApiPath(declaration.doc.route);
    paths[path] ??= {};
    for (const method of declaration.doc.methods) {
      paths[path][method.toLowerCase()] = operation(operationId(declaration.name, declaration.doc, method), declaration.doc);
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse',
      version,
      description: 'Token and access lifecycle for DevOps organizations, on Azure DevOps-compatible routes.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        entraBearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A Microsoft Entra ID shaped access token: delegated scopes in `scp`, app roles in `roles`.',
        },
        patBasic: {
          type: 'http',
          scheme: 'basic',
          description:
            'A Gatehouse PAT as the Basic password (any user name), or as a Bearer value; it needs one of the listed scopes (`app_token` grants all).',
        },
      },
    },
  };
}
