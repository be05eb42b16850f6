import { parseArgs } from 'node:util';
import { ensureDevSecrets } from './dev-secrets.js';
import { loadLocalSettings } from './settings.js';
import { appToken, DEFAULT_USER_SCOPES, userToken } from './tokens.js';

/**
 * `npm run --silent token -- <user-email> [--scope "vso.pats vso.pats_manage"] [--role Gatehouse.Operator]`
 * `npm run --silent token -- --app <service-name> [--role Gatehouse.X]`
 * Prints a one-hour access token signed with the development key.
 */
async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      app: { type: 'string' },
      scope: { type: 'string' },
      role: { type: 'string', multiple: true },
    },
  });
  loadLocalSettings();
  const key = await ensureDevSecrets();
  const settings = { issuer: process.env.AUTH_ISSUER ?? '', audience: process.env.AUTH_AUDIENCE ?? '' };
  if (!settings.issuer || !settings.audience) throw new Error('AUTH_ISSUER and AUTH_AUDIENCE must be set (local.settings.json)');
  if (values.app) {
    console.log(await appToken(key, settings, values.app, values.role ? { roles: values.role } : {}));
    return;
  }
  const email = positionals[0];
  if (!email) throw new Error('usage: npm run --silent token -- <user-email> [--scope "..."] | --app <service-name>');
  const scopes = values.scope ? values.scope.split(/[\s,]+/).filter(Boolean) : DEFAULT_USER_SCOPES;
  console.log(await userToken(key, settings, email, { scopes, ...(values.role ? { roles: values.role } : {}) }));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
