/**
 * The Azure DevOps PAT / OAuth scope catalogue (Microsoft Learn OAuth page, 2025-07). A higher scope
 * includes the lower ones of its family (`vso.code_write` includes `vso.code`); `app_token` is full access.
 */

/** Full access ("Full access" in the Azure DevOps UI). */
export const FULL_ACCESS_SCOPE = 'app_token';

/** Each scope with the scopes it directly includes. */
const CATALOGUE: Readonly<Record<string, readonly string[]>> = {
  app_token: [],
  user_impersonation: [],
  'vso.advsec': [],
  'vso.advsec_write': ['vso.advsec'],
  'vso.advsec_manage': ['vso.advsec_write'],
  'vso.agentpools': [],
  'vso.agentpools_manage': ['vso.agentpools'],
  'vso.environment_manage': ['vso.agentpools_manage'],
  'vso.analytics': [],
  'vso.auditlog': [],
  'vso.auditstreams_manage': ['vso.auditlog'],
  'vso.build': [],
  'vso.build_execute': ['vso.build'],
  'vso.code': [],
  'vso.code_write': ['vso.code'],
  'vso.code_manage': ['vso.code_write'],
  'vso.code_full': ['vso.code_manage'],
  'vso.code_status': [],
  'vso.connected_server': [],
  'vso.dashboards': [],
  'vso.dashboards_manage': ['vso.dashboards'],
  'vso.entitlements': [],
  'vso.memberentitlementmanagement': [],
  'vso.memberentitlementmanagement_write': ['vso.memberentitlementmanagement'],
  'vso.extension': [],
  'vso.extension_manage': ['vso.extension'],
  'vso.extension.data': [],
  'vso.extension.data_write': ['vso.extension.data'],
  'vso.githubconnections': [],
  'vso.githubconnections_manage': ['vso.githubconnections'],
  'vso.graph': [],
  'vso.graph_manage': ['vso.graph'],
  'vso.identity': [],
  'vso.identity_manage': ['vso.identity'],
  'vso.machinegroup_manage': ['vso.agentpools_manage'],
  'vso.gallery': [],
  'vso.gallery_acquire': ['vso.gallery'],
  'vso.gallery_publish': ['vso.gallery_acquire'],
  'vso.gallery_manage': ['vso.gallery_publish'],
  'vso.notification': [],
  'vso.notification_write': ['vso.notification'],
  'vso.notification_manage': ['vso.notification_write'],
  'vso.notification_diagnostics': ['vso.notification'],
  'vso.packaging': [],
  'vso.packaging_write': ['vso.packaging'],
  'vso.packaging_manage': ['vso.packaging_write'],
  'vso.pats': [],
  'vso.pats_manage': ['vso.pats'],
  'vso.pipelineresources_use': [],
  'vso.pipelineresources_manage': ['vso.pipelineresources_use'],
  'vso.profile': [],
  'vso.profile_write': ['vso.profile'],
  'vso.project': [],
  'vso.project_write': ['vso.project'],
  'vso.project_manage': ['vso.project_write'],
  'vso.release': [],
  'vso.release_execute': ['vso.release'],
  'vso.release_manage': ['vso.release_execute'],
  'vso.securefiles_read': [],
  'vso.securefiles_write': ['vso.securefiles_read'],
  'vso.securefiles_manage': ['vso.securefiles_write'],
  'vso.security_manage': [],
  'vso.serviceendpoint': [],
  'vso.serviceendpoint_query': ['vso.serviceendpoint'],
  'vso.serviceendpoint_manage': ['vso.serviceendpoint_query'],
  'vso.hooks': [],
  'vso.hooks_write': ['vso.hooks'],
  'vso.hooks_interact': ['vso.hooks'],
  'vso.settings': [],
  'vso.settings_write': ['vso.settings'],
  'vso.symbols': [],
  'vso.symbols_write': ['vso.symbols'],
  'vso.symbols_manage': ['vso.symbols_write'],
  'vso.taskgroups_read': [],
  'vso.taskgroups_write': ['vso.taskgroups_read'],
  'vso.taskgroups_manage': ['vso.taskgroups_write'],
  'vso.test': [],
  'vso.test_write': ['vso.test'],
  'vso.threads_full': [],
  'vso.tokens': [],
  'vso.tokenadministration': [],
  'vso.variablegroups_read': [],
  'vso.variablegroups_write': ['vso.variablegroups_read'],
  'vso.variablegroups_manage': ['vso.variablegroups_write'],
  'vso.wiki': [],
  'vso.wiki_write': ['vso.wiki'],
  'vso.work': [],
  'vso.work_write': ['vso.work'],
  'vso.work_full': ['vso.work_write'],
};

/** Every scope name Azure DevOps documents (for revocation rules, which match OAuth grants too). */
export const ALL_SCOPES: ReadonlySet<string> = new Set(Object.keys(CATALOGUE));

/**
 * Entra scopes that exist only for calling APIs with an Entra token: `user_impersonation`, and the PAT
 * Lifecycle API's own `vso.pats` / `vso.pats_manage` (a PAT can never manage PATs).
 */
const ENTRA_ONLY_SCOPES: ReadonlySet<string> = new Set(['user_impersonation', 'vso.pats', 'vso.pats_manage']);

/** Scopes a PAT may carry. */
export const PAT_SCOPES: ReadonlySet<string> = new Set([...ALL_SCOPES].filter((scope) => !ENTRA_ONLY_SCOPES.has(scope)));

/** The scopes the "allow creation of PATs with packaging scope only" sub-policy permits. */
export const PACKAGING_SCOPES: ReadonlySet<string> = new Set(['vso.packaging', 'vso.packaging_write', 'vso.packaging_manage']);

export type ScopeCheck = { ok: true; scopes: string[] } | { ok: false; reason: string };

/**
 * Parses a space-separated scope string against an allowed set: no empty list, no unknown or repeated
 * scope, and `app_token` only on its own.
 */
export function parseScopes(value: string, allowed: ReadonlySet<string> = PAT_SCOPES): ScopeCheck {
  if (value.length > 4096) return { ok: false, reason: 'the scope string is too long' };
  const scopes = value.split(/\s+/).filter(Boolean);
  if (scopes.length === 0) return { ok: false, reason: 'at least one scope is required' };
  const seen = new Set<string>();
  for (const scope of scopes) {
    if (!allowed.has(scope)) return { ok: false, reason: `unknown scope '${scope.slice(0, 64)}'` };
    if (seen.has(scope)) return { ok: false, reason: `the scope '${scope}' is listed more than once` };
    seen.add(scope);
  }
  if (seen.has(FULL_ACCESS_SCOPE) && seen.size > 1) {
    return { ok: false, reason: `'${FULL_ACCESS_SCOPE}' (full access) cannot be combined with other scopes` };
  }
  return { ok: true, scopes };
}

/** A scope and everything it includes, transitively. */
export function expandScopes(scopes: readonly string[]): Set<string> {
  const result = new Set<string>();
  const pending = [...scopes];
  while (pending.length > 0) {
    const scope = pending.pop() as string;
    if (result.has(scope)) continue;
    result.add(scope);
    pending.push(...(CATALOGUE[scope] ?? []));
  }
  return result;
}

export const isFullAccess = (scopes: readonly string[]): boolean => scopes.includes(FULL_ACCESS_SCOPE);

export const isPackagingOnly = (scopes: readonly string[]): boolean => scopes.length > 0 && scopes.every((scope) => PACKAGING_SCOPES.has(scope));

/**
 * True when a token with `tokenScopes` matches any of `ruleScopes`: a full-access token matches every
 * rule, and a scope matches the rule scopes it includes (`vso.code_write` matches a `vso.code` rule).
 */
export function scopesMatch(tokenScopes: readonly string[], ruleScopes: readonly string[]): boolean {
  if (isFullAccess(tokenScopes)) return true;
  const effective = expandScopes(tokenScopes);
  return ruleScopes.some((scope) => effective.has(scope));
}

/** Whether `granted` includes any of `required`, a higher scope of a family including the lower ones. */
export function hasAnyScope(granted: Iterable<string>, required: readonly string[]): boolean {
  const effective = expandScopes([...granted]);
  return required.some((scope) => effective.has(scope));
}
