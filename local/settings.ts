import { existsSync, readFileSync } from 'node:fs';

/** Reads local.settings.json `Values` as Core Tools does: real environment variables win. */
export function loadLocalSettings(path = 'local.settings.json', env: NodeJS.ProcessEnv = process.env): void {
  if (!existsSync(path)) return;
  const json = JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, string> };
  for (const [name, value] of Object.entries(json.Values ?? {})) {
    if (env[name] === undefined) env[name] = value;
  }
}

/** Settings only the local runtime reads (never set in Azure), with what they do. */
export const LOCAL_RUNTIME_SETTINGS = {
  LOCAL_MASTER_KEY:
    "The admin API's master key; `npm start -- --instances N` hands one to its instances, otherwise each runtime uses the key generated into `.local/master-key`.",
} as const;
