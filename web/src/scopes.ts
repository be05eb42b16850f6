// The scope picker's groups, as Azure DevOps' "Create a new personal access token" panel shows them:
// each area offers its levels (read, read & write, manage), each level one catalogue scope.
export interface ScopeGroup {
  label: string;
  levels: { label: string; scope: string }[];
}

const levels = (base: string, ...names: [string, string][]) => names.map(([label, suffix]) => ({ label, scope: `${base}${suffix}` }));

export const SCOPE_GROUPS: ScopeGroup[] = [
  { label: 'Agent pools', levels: levels('vso.agentpools', ['Read', ''], ['Read & manage', '_manage']) },
  { label: 'Analytics', levels: levels('vso.analytics', ['Read', '']) },
  {
    label: 'Auditing',
    levels: [
      { label: 'Read audit log', scope: 'vso.auditlog' },
      { label: 'Manage audit streams', scope: 'vso.auditstreams_manage' },
    ],
  },
  { label: 'Build', levels: levels('vso.build', ['Read', ''], ['Read & execute', '_execute']) },
  { label: 'Code', levels: levels('vso.code', ['Read', ''], ['Read & write', '_write'], ['Read, write & manage', '_manage'], ['Full', '_full']) },
  { label: 'Graph', levels: levels('vso.graph', ['Read', ''], ['Read & manage', '_manage']) },
  { label: 'Identity', levels: levels('vso.identity', ['Read', ''], ['Read & manage', '_manage']) },
  { label: 'Member entitlement management', levels: levels('vso.memberentitlementmanagement', ['Read', ''], ['Read & write', '_write']) },
  { label: 'Notifications', levels: levels('vso.notification', ['Read', ''], ['Read & write', '_write'], ['Read, write & manage', '_manage']) },
  { label: 'Packaging', levels: levels('vso.packaging', ['Read', ''], ['Read & write', '_write'], ['Read, write & manage', '_manage']) },
  { label: 'Project and team', levels: levels('vso.project', ['Read', ''], ['Read & write', '_write'], ['Read, write & manage', '_manage']) },
  { label: 'Release', levels: levels('vso.release', ['Read', ''], ['Read, write & execute', '_execute'], ['Read, write, execute & manage', '_manage']) },
  { label: 'Secure files', levels: levels('vso.securefiles', ['Read', '_read'], ['Read & create', '_write'], ['Read, create & manage', '_manage']) },
  { label: 'Service connections', levels: levels('vso.serviceendpoint', ['Read', ''], ['Read & query', '_query'], ['Read, query & manage', '_manage']) },
  { label: 'Token administration', levels: levels('vso.tokenadministration', ['Read & manage', '']) },
  { label: 'Tokens', levels: [{ label: 'Read (expiry calendar)', scope: 'vso.tokens' }] },
  { label: 'Work items', levels: levels('vso.work', ['Read', ''], ['Read & write', '_write'], ['Read, write & manage', '_full']) },
];

export const FULL_ACCESS = 'app_token';

/** Scopes in plain words for lists: "Code (Read & write), Packaging (Read)". */
export function describeScopes(scope: string): string {
  const names = scope.split(' ').filter(Boolean);
  if (names.includes(FULL_ACCESS)) return 'Full access';
  return names
    .map((name) => {
      for (const group of SCOPE_GROUPS) {
        const level = group.levels.find((candidate) => candidate.scope === name);
        if (level) return `${group.label} (${level.label})`;
      }
      return name;
    })
    .join(', ');
}
