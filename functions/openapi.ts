import { endpoint } from '../shared/http/endpoint.js';
import { buildOpenApiDocument } from '../shared/openapi/document.js';
import { SERVICE_VERSION } from '../shared/version.js';
import type { FunctionDeclaration, HttpDeclaration } from '../shared/runtime/declarations.js';

/** Built on first request from the declarations it is given (which include itself). */
export function openApiFunction(declarations: () => readonly FunctionDeclaration[]): HttpDeclaration {
  let document: string | undefined;
  return endpoint({
    name: 'openapi',
    route: 'openapi.json',
    methods: ['GET'],
    summary: 'This OpenAPI 3.1 document.',
    tags: ['Service'],
    access: { anonymous: true },
    responses: { 200: { description: 'The OpenAPI document.' } },
    handler: async () => {
      document ??= JSON.stringify(buildOpenApiDocument(declarations(), SERVICE_VERSION));
      return { text: document, contentType: 'application/json; charset=utf-8', headers: { 'Cache-Control': 'public, max-age=300' } };
    },
  });
}
