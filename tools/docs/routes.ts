import type { Access, EndpointDoc } from '../../shared/http/endpoint.js';
import type { ApiVersionRange } from '../../shared/http/api-versions.js';
import type { FunctionDeclaration } from '../../shared/runtime/declarations.js';
import { code, table } from './regions.js';

/** The route table (docs/api.md) and the background functions (docs/architecture.md), from functions/declarations.ts. */

const anyOf = (items: readonly string[]): string => items.map(code).join(' or ');

function organizationRole(access: Access): string {
  if (access.anonymous) return 'anonymous: no token needed';
  if (!access.organization) return '—';
  const role = access.organization === 'administrator' ? 'Project Collection Administrator' : 'member';
  return access.projectScopedUsers === 'allowed' ? `${role}, Project-Scoped Users too` : role;
}

function userTokens(access: Access): string {
  if (access.anonymous || !access.users) return '—';
  const roles = access.users.roles ?? [];
  return roles.length > 0 ? `${anyOf(access.users.scopes)}, role ${anyOf(roles)}` : anyOf(access.users.scopes);
}

function pats(access: Access): string {
  if (access.anonymous || !access.pats) return '—';
  const scopes = access.pats.scopes.length > 0 ? anyOf(access.pats.scopes) : 'any scope';
  return access.pats.policies === 'report' ? `${scopes}, even when it breaks a policy` : scopes;
}

function apps(access: Access): string {
  if (access.anonymous || !access.apps) return '—';
  return access.apps.roles.length > 0 ? anyOf(access.apps.roles) : 'any (no role needed)';
}

function versions(range: ApiVersionRange | undefined): string {
  if (!range) return '—';
  const span = `${range.min}–${range.max}`;
  return `${span}${range.released ? '' : ' (previews)'}${range.optional ? ', optional' : ''}`;
}

function routeOf(doc: EndpointDoc): string {
  return code(`/${doc.route}`);
}

/** HTTP functions with a documented route, by their first tag in declaration order (the catch-all `not-found` has none). */
function documented(declarations: readonly FunctionDeclaration[]): Map<string, { name: string; doc: EndpointDoc }[]> {
  const byTag = new Map<string, { name: string; doc: EndpointDoc }[]>();
  for (const declaration of declarations) {
    if (declaration.kind !== 'http' || !declaration.doc) continue;
    const tag = declaration.doc.tags[0];
    if (!tag) continue;
    byTag.set(tag, [...(byTag.get(tag) ?? []), { name: declaration.name, doc: declaration.doc }]);
  }
  return byTag;
}

/** Every delegated scope and app role the routes name: what an API app registration must expose. */
function scopesAndRoles(declarations: readonly FunctionDeclaration[]): { scopes: string[]; roles: string[] } {
  const scopes = new Set<string>();
  const roles = new Set<string>();
  for (const declaration of declarations) {
    if (declaration.kind !== 'http' || !declaration.doc || declaration.doc.access.anonymous) continue;
    const { users, apps } = declaration.doc.access;
    for (const scope of users?.scopes ?? []) if (scope.startsWith('vso.')) scopes.add(scope);
    for (const role of [...(users?.roles ?? []), ...(apps?.roles ?? [])]) roles.add(role);
  }
  return { scopes: [...scopes].sort(), roles: [...roles].sort() };
}

export function renderRouteTable(declarations: readonly FunctionDeclaration[]): string {
  const { scopes, roles } = scopesAndRoles(declarations);
  const sections: string[] = [`Delegated scopes the routes name: ${scopes.map(code).join(', ')}. App roles: ${roles.map(code).join(', ')}.`];
  for (const [tag, endpoints] of documented(declarations)) {
    const rows = endpoints.flatMap(({ doc }) =>
      doc.methods.map((method) => [
        method,
        routeOf(doc),
        doc.summary,
        organizationRole(doc.access),
        userTokens(doc.access),
        pats(doc.access),
        apps(doc.access),
        versions(doc.apiVersions),
      ]),
    );
    sections.push(
      `### ${tag}\n\n${table(['method', 'route', 'what', 'organization role', 'user token (scope)', 'PAT (scope)', 'app-only token (app role)', 'api-version'], rows)}`,
    );
  }
  return `${sections.join('\n\n')}\n`;
}

export function renderBackgroundFunctions(declarations: readonly FunctionDeclaration[]): string {
  const rows: string[][] = [];
  for (const declaration of declarations) {
    if (declaration.kind === 'queue') {
      rows.push([
        code(declaration.name),
        'queue',
        `${code(declaration.options.queueName)} (connection ${code(declaration.options.connection)}; poison queue ${code(`${declaration.options.queueName}-poison`)})`,
      ]);
    } else if (declaration.kind === 'timer') {
      const setting = /^%(\w+)%$/.exec(declaration.options.schedule)?.[1];
      rows.push([code(declaration.name), 'timer', setting ? `schedule from the app setting ${code(setting)}` : code(declaration.options.schedule)]);
    }
  }
  return `${table(['function', 'trigger', 'source'], rows)}\n`;
}
