import { APP_ROLES, DEMO_SERVICE_PRINCIPALS, DEMO_TENANT_ID, DEMO_USERS } from './demo-data.js';
import { signAccessToken, type SigningKey } from './dev-secrets.js';

export const DEFAULT_USER_SCOPES = ['vso.pats', 'vso.pats_manage', 'vso.tokenadministration', 'vso.auditlog', 'vso.packaging_write'];

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
}

/** A delegated (user) token for a seeded user, as Entra ID would issue it. */
export async function userToken(
  key: SigningKey,
  settings: TokenSettings,
  email: string,
  options: { scopes?: readonly string[]; lifetimeSeconds?: number; now?: Date; userId?: string; displayName?: string } = {},
): Promise<string> {
  const user = DEMO_USERS.find((candidate) => candidate.email.toLowerCase() === email.toLowerCase());
  const userId = options.userId ?? user?.id;
  if (!userId) throw new Error(`no seeded user ${email}; seeded users: ${DEMO_USERS.map((u) => u.email).join(', ')}`);
  return signAccessToken(key, {
    ...settings,
    tenantId: DEMO_TENANT_ID,
    ...(options.lifetimeSeconds ? { lifetimeSeconds: options.lifetimeSeconds } : {}),
    ...(options.now ? { now: options.now } : {}),
    claims: {
      oid: userId,
      sub: userId,
      preferred_username: email,
      name: options.displayName ?? user?.displayName ?? email,
      scp: (options.scopes ?? DEFAULT_USER_SCOPES).join(' '),
      azp: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
    },
  });
}

/** An app-only token for a seeded service principal, with its app roles (or the roles given). */
export async function appToken(
  key: SigningKey,
  settings: TokenSettings,
  name: string,
  options: { roles?: readonly string[]; lifetimeSeconds?: number; now?: Date } = {},
): Promise<string> {
  const principal = DEMO_SERVICE_PRINCIPALS.find((candidate) => candidate.name === name);
  if (!principal) throw new Error(`no seeded service principal ${name}; seeded: ${DEMO_SERVICE_PRINCIPALS.map((p) => p.name).join(', ')}`);
  return signAccessToken(key, {
    ...settings,
    tenantId: DEMO_TENANT_ID,
    ...(options.lifetimeSeconds ? { lifetimeSeconds: options.lifetimeSeconds } : {}),
    ...(options.now ? { now: options.now } : {}),
    claims: {
      oid: principal.appId,
      sub: principal.appId,
      azp: principal.appId,
      idtyp: 'app',
      roles: [...(options.roles ?? principal.roles)],
    },
  });
}

export { APP_ROLES };
