import { readMasterKey } from './dev-secrets.js';
import { loadLocalSettings } from './settings.js';

/**
 * `npm run invoke -- <function> [input]`: runs a queue or timer function of the running local runtime
 * through `POST /admin/functions/{name}`, with the master key from `.local/master-key`.
 */
async function main(): Promise<void> {
  loadLocalSettings();
  const [name, input] = process.argv.slice(2);
  if (!name) {
    console.error('usage: npm run invoke -- <function name> [input]');
    process.exit(2);
  }
  const port = process.env.PORT ?? '7071';
  const response = await fetch(`http://127.0.0.1:${port}/admin/functions/${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-functions-key': readMasterKey() },
    body: JSON.stringify(input === undefined ? {} : { input }),
  });
  console.log(`${response.status} ${response.statusText}${response.status >= 400 ? ` ${await response.text()}` : ''}`);
  if (!response.ok) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
