import type { AppConfig } from '../config.js';
import { USER_SCOPES } from '../auth/scopes.js';

/**
 * The issuer of locally minted development tokens (local.settings.json). Only when the app trusts it
 * does the portal offer the development sign-in (served by the local runtime, see local/dev-signin.ts).
 */
export const DEVELOPMENT_ISSUER = 'https://login.gatehouse.local/dev/v2.0';

/** The delegated scopes the portal asks for: its pages call every API a person may use (shared/auth/scopes.ts). */
export const PORTAL_SCOPES: readonly string[] = [...new Set(Object.values(USER_SCOPES).flat())];

export type PortalSignIn =
  | { readonly kind: 'development' }
  | { readonly kind: 'entra'; readonly clientId: string; readonly authority: string; readonly scopes: readonly string[] }
  | { readonly kind: 'unavailable' };

/** `https://login.microsoftonline.com/{tenant}/v2.0` → `https://login.microsoftonline.com/{tenant}`. */
function authorityOf(config: AppConfig): string {
  return config.portal.authority ?? config.auth.issuer.replace(/\/v2\.0\/?$/, '');
}

/** How people sign in to the portal: Microsoft Entra ID (authorization code + PKCE) or, locally, a demo identity. */
export function portalSignIn(config: AppConfig): PortalSignIn {
  if (config.auth.issuer === DEVELOPMENT_ISSUER) return { kind: 'development' };
  if (!config.portal.clientId) return { kind: 'unavailable' };
  const audience = config.auth.audience.replace(/\/+$/, '');
  return {
    kind: 'entra',
    clientId: config.portal.clientId,
    authority: authorityOf(config),
    scopes: PORTAL_SCOPES.map((scope) => `${audience}/${scope}`),
  };
}

/**
 * The portal page's content security policy: scripts and styles from the app only (no inline code);
 * API calls to the app, sign-in traffic to the Entra authority.
 */
export function portalContentSecurityPolicy(signIn: PortalSignIn): string {
  const identity = signIn.kind === 'entra' ? ` ${new URL(signIn.authority).origin}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${identity}`,
    `frame-src${identity || " 'none'"}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}
