import { APP_ROLES, DEMO_SERVICE_PRINCIPALS, DEMO_TENANT_ID, DEMO_USERS } from './demo-data.js';
import { signAccessToken, type SigningKey } from './dev-secrets.js';

export const DEFAULT_USER_SCOPES = ['vso.pats', 'vso.pats_manage', 'vso.tokenadministration', 'vso.auditlog', 'vso.packaging_write'];

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
}

interface Lifetime {
  lifetimeSeconds?: number;
  now?: Date;
}

function signForDemoTenant(key: SigningKey, settings: TokenSettings, lifetime: Lifetime, claims: Record<string, unknown>) {
  return signAccessToken(key, {
    ...settings,
    tenantId: DEMO_TENANT_ID,
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
  } = {},
): Promise<string> {
  const user = DEMO_USERS.find((candidate) => candidate.email.toLowerCase() === email.toLowerCase());
  const userId = options.userId ?? user?.id;
  if (!userId) throw new Error(`no seeded user ${email}; seeded users: ${DEMO_USERS.map((u) => u.email).join(', ')}`);
  return signForDemoTenant(key, settings, options, {
    oid: userId,
    sub: userId,
    preferred_username: email,
    name: options.displayName ?? user?.displayName ?? email,
    scp: (options.scopes ?? DEFAULT_USER_SCOPES).join(' '),
    azp: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
    ...(options.roles && options.roles.length > 0 ? { roles: [...options.roles] } : {}),
  });
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
