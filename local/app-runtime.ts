import type { AppContext } from '../shared/app-context.js';
import { STORAGE_CONNECTION } from '../shared/config.js';
import { DEVELOPMENT_ISSUER } from '../shared/portal/config.js';
import type { FunctionDeclaration } from '../shared/runtime/declarations.js';
import type { StorageClients } from '../shared/storage/clients.js';
import { declarations } from '../functions/declarations.js';
import { ensureDevSecrets, readMasterKey } from './dev-secrets.js';
import { devSignInDeclarations } from './dev-signin.js';
import { startLocalRuntime, type LocalRuntime, type LocalRuntimeOptions } from './runner.js';

/** What the local runtime serves: every function of the app, plus the portal's development sign-in while the app trusts the development issuer. */
export async function servedDeclarations(app: AppContext): Promise<readonly FunctionDeclaration[]> {
  if (app.config.auth.issuer !== DEVELOPMENT_ISSUER) return declarations;
  return [...devSignInDeclarations(await ensureDevSecrets()), ...declarations];
}

/**
 * The admin API's master key: `LOCAL_MASTER_KEY` when the launcher hands one to its instances,
 * otherwise the one generated into `.local/`.
 */
async function masterKey(): Promise<string> {
  const given = process.env.LOCAL_MASTER_KEY;
  if (given) return given;
  await ensureDevSecrets();
  return readMasterKey();
}

/** The local runtime serving the app, with its settings from the environment and the admin API's master key. */
export async function startAppRuntime(app: AppContext, extra: Partial<LocalRuntimeOptions> = {}): Promise<LocalRuntime> {
  const clientsByConnection = new Map<string, StorageClients>([[STORAGE_CONNECTION, app.storage]]);
  return startLocalRuntime({
    declarations: await servedDeclarations(app),
    settings: process.env,
    queueClient: (connection, queue) => (clientsByConnection.get(connection) ?? app.storage).queue(queue),
    blobService: await app.storage.blobs(),
    log: app.log,
    port: app.config.port,
    maxRequestBodyBytes: app.config.maxRequestBodyBytes,
    masterKey: await masterKey(),
    ...extra,
  });
}
