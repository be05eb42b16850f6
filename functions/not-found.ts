import { endpoint } from '../shared/http/endpoint.js';
import { AppError } from '../shared/http/errors.js';
import { createRouteTable, splitPath } from '../shared/runtime/routes.js';
import type { FunctionDeclaration, HttpDeclaration } from '../shared/runtime/declarations.js';

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/**
 * The lowest-precedence route: anything no other function matched. It answers in the Azure DevOps
 * error shape, with 405 and `Allow` when the path exists under other methods.
 */
export function notFoundFunction(declarations: () => readonly FunctionDeclaration[]): HttpDeclaration {
  let table: ReturnType<typeof createRouteTable<string>> | undefined;
  return endpoint({
    name: 'not-found',
    route: '{*path}',
    methods: [...ALL_METHODS],
    summary: 'Fallback for unknown routes.',
    access: { anonymous: true },
    responses: { 404: { description: 'routeNotFound' }, 405: { description: 'methodNotAllowed' } },
    handler: async ({ request }) => {
      table ??= createRouteTable(
        declarations()
          .filter((declaration): declaration is HttpDeclaration => declaration.kind === 'http' && !declaration.options.route.includes('{*'))
          // Location discovery answers OPTIONS on any `_apis/{area}`; other methods there are unknown routes.
          .filter((declaration) => declaration.options.methods.some((method) => method !== 'OPTIONS'))
          .map((declaration) => ({ route: declaration.options.route, methods: declaration.options.methods, value: declaration.name })),
      );
      const segments = splitPath(new URL(request.url).pathname) ?? [];
      const allowed = table.allowedMethods(segments);
      if (allowed.length > 0) {
        throw new AppError(405, 'methodNotAllowed', `The method ${request.method} is not allowed here. Allowed: ${allowed.join(', ')}.`, {
          headers: { Allow: allowed.join(', ') },
        });
      }
      throw new AppError(404, 'routeNotFound', 'No API is registered at this path.');
    },
  });
}
