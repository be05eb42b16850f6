import { createAppContext, useAppContext } from '../shared/app-context.js';
import { getConfig, ConfigurationError } from '../shared/config.js';
import { provisionStorage } from '../shared/storage/provision.js';
import { azuritePortsOf, DEFAULT_AZURITE_PORTS, startOrReuseAzurite } from './azurite.js';
import { seedDemoData } from './demo-data.js';
import { ensureDevSecrets } from './dev-secrets.js';
import { servedDeclarations, startAppRuntime } from './app-runtime.js';
import { instancesFromArguments, startInstances } from './instances.js';
import { loadLocalSettings } from './settings.js';

/**
 * `npm start`: Azurite, storage, demo data and the local Functions runtime on one machine.
 * `npm start -- --instances N`: N runtime processes behind one port (see local/instances.ts).
 */
async function main(): Promise<void> {
  const instances = instancesFromArguments(process.argv.slice(2));
  loadLocalSettings();
  await ensureDevSecrets();
  const azurite = await startOrReuseAzurite('.azurite', azuritePortsOf(process.env.STORAGE) ?? DEFAULT_AZURITE_PORTS);
  console.log(azurite.started ? 'Azurite started (data in .azurite/)' : `Reusing the Azurite already listening on ${Object.values(azurite.ports).join(', ')}`);

  let config;
  try {
    config = getConfig();
  } catch (error) {
    if (error instanceof ConfigurationError) console.error(error.message);
    await azurite.stop();
    process.exit(1);
  }
  const app = createAppContext(config);
  useAppContext(app);
  await provisionStorage(app.storage);
  await seedDemoData(app);

  const runtime = instances > 1 ? await startInstances({ count: instances, port: config.port, env: process.env }) : await startAppRuntime(app);

  const served = await servedDeclarations(app);
  const functions = served.map((d) => `  ${d.kind.padEnd(5)} ${d.name}${d.kind === 'http' ? `  [${d.options.methods.join(',')}] /${d.options.route}` : ''}`);
  console.log(`\nFunctions:\n${functions.join('\n')}`);
  if (instances > 1) console.log(`\n${instances} instances, each its own process, served round-robin`);
  console.log(`\nGatehouse is listening on ${runtime.url}`);
  console.log('Get a development token:   TOKEN=$(npm run --silent token -- alice@contoso.com)');
  console.log(`Call the API:               curl -H "Authorization: Bearer $TOKEN" "${runtime.url}/contoso/_apis/projects?api-version=7.1"`);
  console.log(`OpenAPI document:           ${runtime.url}/openapi.json`);
  console.log(`Portal:                     ${runtime.url}/_portal/\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal} received, stopping`);
    await runtime.stop();
    await azurite.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
