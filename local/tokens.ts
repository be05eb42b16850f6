import { APP_ROLES, DEMO_SERVICE_PRINCIPALS, DEMO_TENANT_ID, DEMO_USERS } from './demo-data.js';
import { signAccessToken, type SigningKey } from './dev-secrets.js';

/** What a development token grants when no scopes are named: every delegated scope the routes ask for (shared/auth/scopes.ts). */
export const DEFAULT_USER_SCOPES = [
  'vso.profile_write',
  'vso.project_manage',
  'vso.settings_write',
  'vso.memberentitlementmanagement_write',
  'vso.identity',
  'vso.pats',
  'vso.pats_manage',
  'vso.tokenadministration',
  'vso.auditlog',
  'vso.auditstreams_manage',
  'vso.notification_manage',
  'vso.build_execute',
  'vso.packaging_write',
];

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
}

interface Lifetime {
  lifetimeSeconds?: number;
  now?: Date;
}

function signForDemoTenant(key: SigningKey, settings: TokenSettings, lifetime: Lifetime, claims: Record<string, unknown>, tenantId = DEMO_TENANT_ID) {
  return signAccessToken(key, {
    ...settings,
    tenantId,
    ...(lifetime.lifetimeSeconds ? { lifetimeSeconds: lifetime.lifetimeSeconds } : {}),
    ...(lifetime.now ? { now: lifetime.now } : {}),
    claims,
  });
}

/** A delegated (user) token for a seeded user, as Entra ID would issue it. */
export async function userToken(
  key: SigningKey,
  settings: TokenSettings,
  email: string,
  options: Lifetime & {
    scopes?: readonly string[];
    /** App roles assigned to the user (the `roles` claim), e.g. Gatehouse.Operator. */
    roles?: readonly string[];
    userId?: string;
    displayName?: string;
    /** The token's tenant (default: the seeded person's, else the demo tenant). */
    tenantId?: string;
  } = {},
): Promise<string> {
  const user = DEMO_USERS.find((candidate) => candidate.email.toLowerCase() === email.toLowerCase());
  const userId = options.userId ?? user?.id;
  if (!userId) throw new Error(`no seeded user ${email}; seeded users: ${DEMO_USERS.map((u) => u.email).join(', ')}`);
  const roles = options.roles ?? user?.roles ?? [];
  return signForDemoTenant(
    key,
    settings,
    options,
    {
      oid: userId,
      sub: userId,
      preferred_username: email,
      name: options.displayName ?? user?.displayName ?? email,
      scp: (options.scopes ?? DEFAULT_USER_SCOPES).join(' '),
      azp: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
      ...(roles.length > 0 ? { roles: [...roles] } : {}),
    },
    options.tenantId ?? user?.tenantId,
  );
}

/** An app-only token for a seeded service principal, with its app roles (or the roles given). */
export async function appToken(
  key: SigningKey,
  settings: TokenSettings,
  name: string,
  options: Lifetime & { roles?: readonly string[] } = {},
): Promise<string> {
  const principal = DEMO_SERVICE_PRINCIPALS.find((candidate) => candidate.name === name);
  if (!principal) throw new Error(`no seeded service principal ${name}; seeded: ${DEMO_SERVICE_PRINCIPALS.map((p) => p.name).join(', ')}`);
  return signForDemoTenant(key, settings, options, {
    oid: principal.appId,
    sub: principal.appId,
    azp: principal.appId,
    idtyp: 'app',
    roles: [...(options.roles ?? principal.roles)],
  });
}

export { APP_ROLES };
