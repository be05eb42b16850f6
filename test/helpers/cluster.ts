import { createAppContext, useAppContext, type AppContext } from '../../shared/app-context.js';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logging.js';
import { provisionStorage } from '../../shared/storage/provision.js';
import { startAzurite, type AzuriteInstance } from '../../local/azurite.js';
import { seedDemoData } from '../../local/demo-data.js';
import { generateMasterKey, generateSigningKey } from '../../local/dev-secrets.js';
import { startInstances, type Instances } from '../../local/instances.js';
import { appToken, userToken } from '../../local/tokens.js';
import { bundleEntry } from './bundle.js';
import { recordingFetch, TEST_AUDIENCE, TEST_ISSUER, testSettings } from './environment.js';
import { findSecrets } from './secrets.js';
import { stopChangeFeed } from '../../shared/coherence/changes.js';

/**
 * N runtime processes on one private Azurite behind one round-robin port, as `npm start --
 * --instances N` runs them: each process has its own caches, queue listeners and timers (on the
 * real clock). The test process keeps an app context of its own on the same storage, for checks.
 */
export interface TestCluster {
  /** The round-robin front end. */
  readonly url: string;
  /** Each instance's own address, to aim a request at one of them. */
  readonly instanceUrls: readonly string[];
  readonly app: AppContext;
  readonly clock: AppContext['clock'];
  readonly azurite: AzuriteInstance;
  readonly logs: string[];
  readonly settings: Record<string, string>;
  readonly issuedSecrets: Set<string>;
  userToken(email: string, options?: Parameters<typeof userToken>[3]): Promise<string>;
  appToken(name: string, options?: Parameters<typeof appToken>[3]): Promise<string>;
  /** fetch on the front end. */
  fetch(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  /** The same, but bound to one instance: `cluster.on(1).fetch(...)`. */
  on(instance: number): { fetch(path: string, init?: RequestInit & { token?: string }): Promise<Response> };
  /** Runs a queue or timer function on one instance, as `POST /admin/functions/{name}` does. */
  invoke(instance: number, name: string, input?: unknown): Promise<void>;
  /** Ends one instance abruptly (SIGKILL: no shutdown, nothing settled), as a crashed worker ends. */
  kill(instance: number): Promise<void>;
  stop(): Promise<void>;
}

export interface TestClusterOptions {
  readonly instances: number;
  readonly settings?: Record<string, string>;
}

export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const azurite = await startAzurite({});
  const signingKey = await generateSigningKey();
  const settings = testSettings(azurite.connectionString, signingKey, { logLevel: 'info', settings: options.settings ?? {} });
  const logs: string[] = [];
  const app = createAppContext(loadConfig(settings), { log: createLogger('warn', (line) => logs.push(line)) });
  useAppContext(app);
  await provisionStorage(app.storage);
  await seedDemoData(app);

  const masterKey = generateMasterKey();
  let instances: Instances;
  try {
    instances = await startInstances({
      count: options.instances,
      port: 0,
      env: { PATH: process.env.PATH, ...settings, LOCAL_MASTER_KEY: masterKey },
      entry: await bundleEntry('local/instance.ts'),
      output: (line) => {
        logs.push(line);
        if (process.env.GATEHOUSE_TEST_LOGS) console.log(line);
      },
    });
  } catch (error) {
    await azurite.stop();
    throw error;
  }

  const issuedSecrets = new Set<string>();
  const pendingReads: Promise<unknown>[] = [];
  const fetchAt = (base: string) => recordingFetch(base, issuedSecrets, pendingReads);
  const instanceUrls = instances.instances.map((instance) => instance.url);
  const tokenSettings = { issuer: TEST_ISSUER, audience: TEST_AUDIENCE };
  return {
    url: instances.url,
    instanceUrls,
    app,
    clock: app.clock,
    azurite,
    logs,
    settings,
    issuedSecrets,
    userToken: (email, tokenOptions = {}) => userToken(signingKey, tokenSettings, email, tokenOptions),
    appToken: (name, tokenOptions = {}) => appToken(signingKey, tokenSettings, name, tokenOptions),
    fetch: fetchAt(instances.url),
    on: (instance) => ({ fetch: fetchAt(instanceUrls[instance]!) }),
    invoke: async (instance, name, input) => {
      const response = await fetch(`${instanceUrls[instance]}/admin/functions/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-functions-key': masterKey },
        body: JSON.stringify({ input }),
      });
      if (response.status !== 202) throw new Error(`invoking ${name} on instance ${instance}: ${response.status} ${await response.text()}`);
    },
    kill: async (instance) => {
      const pid = instances.instances[instance]!.pid;
      process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
    },
    stop: async () => {
      await stopChangeFeed(app);
      await instances.stop();
      try {
        await Promise.all(pendingReads);
        const findings = await findSecrets(app.storage, logs, [...issuedSecrets]);
        if (findings.length > 0) throw new Error(`plaintext secrets left behind:\n  ${findings.slice(0, 20).join('\n  ')}`);
      } finally {
        await azurite.stop();
      }
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
