import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { AppError } from '../shared/http/errors.js';
import { DEVELOPMENT_ISSUER } from '../shared/portal/config.js';
import type { HttpDeclaration } from '../shared/runtime/declarations.js';
import { APP_ROLES, DEMO_USERS } from './demo-data.js';
import type { SigningKey } from './dev-secrets.js';
import { DEFAULT_USER_SCOPES, userToken } from './tokens.js';

/**
 * The portal's development sign-in: pick a demo person, get a one-hour token signed with the
 * development key, server-side (the key never reaches the browser). Only the local runtime serves
 * these routes, and they answer 404 unless the app trusts the development issuer, so a deployed
 * app, or a local one pointed at a real tenant, has no way to mint tokens.
 */
export function devSignInDeclarations(key: SigningKey): HttpDeclaration[] {
  const refuseUnlessDevelopment = (issuer: string) => {
    if (issuer !== DEVELOPMENT_ISSUER) throw new AppError(404, 'routeNotFound', 'No API is registered at this path.');
  };
  const identities = endpoint({
    name: 'dev-signin-identities',
    route: '_portal/dev/identities',
    methods: ['GET'],
    summary: 'Development sign-in: the demo people.',
    access: { anonymous: true },
    responses: { 200: { description: 'The demo people.' } },
    handler: async ({ app }) => {
      refuseUnlessDevelopment(app.config.auth.issuer);
      return {
        body: {
          identities: DEMO_USERS.map((user) => ({ email: user.email, displayName: user.displayName, organization: user.organization })),
          roles: [APP_ROLES.operator],
        },
      };
    },
  });
  const token = endpoint({
    name: 'dev-signin-token',
    route: '_portal/dev/token',
    methods: ['POST'],
    summary: 'Development sign-in: a token for a demo person.',
    access: { anonymous: true },
    body: z.object({
      email: z.string().max(256),
      roles: z
        .array(z.enum([APP_ROLES.operator]))
        .max(1)
        .default([]),
    }),
    responses: { 200: { description: 'An access token.' }, 404: { description: 'Not a demo person, or not in development.' } },
    handler: async ({ app, body }) => {
      refuseUnlessDevelopment(app.config.auth.issuer);
      const user = DEMO_USERS.find((candidate) => candidate.email.toLowerCase() === body.email.toLowerCase());
      if (!user) throw new AppError(404, 'identityNotFound', 'No demo person has this email.');
      const lifetimeSeconds = 3600;
      const accessToken = await userToken(key, { issuer: DEVELOPMENT_ISSUER, audience: app.config.auth.audience }, user.email, {
        scopes: DEFAULT_USER_SCOPES,
        roles: body.roles,
        lifetimeSeconds,
        now: app.clock.now(),
      });
      const expiresOn = new Date(app.clock.now().getTime() + lifetimeSeconds * 1000).toISOString();
      return { body: { accessToken, expiresOn, account: { email: user.email, displayName: user.displayName } } };
    },
  });
  return [identities, token];
}
