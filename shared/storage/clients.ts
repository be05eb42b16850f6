import { TableClient, TableServiceClient } from '@azure/data-tables';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { TokenCredential } from '@azure/identity';
import type { StorageConfig } from '../config.js';

/** Storage clients for one account, created from a connection string (Azurite) or identity settings. */
export interface StorageClients {
  table(name: string): TableClient;
  queue(name: string): QueueClient;
  readonly tableService: TableServiceClient;
  readonly queueService: QueueServiceClient;
  /** True when blob storage is configured (a connection string, or STORAGE__blobServiceUri). */
  readonly blobConfigured: boolean;
  /**
   * The blob service, or undefined when not configured. The blob SDK is loaded on first use: most
   * invocations never touch a blob (only large audit payloads, npm tarballs and retention do).
   */
  blobs(): Promise<BlobServiceClient | undefined>;
}

/**
 * Bounded retries: a storage outage should become a quick 503 for the caller (and a retried queue
 * message), not a request that hangs through the SDKs' default back-off of tens of seconds.
 */
const TABLE_RETRIES = { retryOptions: { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1000 } };
const STORAGE_RETRIES = { retryOptions: { maxTries: 3, tryTimeoutInMs: 10_000, retryDelayInMs: 200, maxRetryDelayInMs: 1000 } };

export function createStorageClients(config: StorageConfig): StorageClients {
  const tables = new Map<string, TableClient>();
  const queues = new Map<string, QueueClient>();
  let tableService: TableServiceClient;
  let queueService: QueueServiceClient;
  let makeBlobService: ((blob: typeof import('@azure/storage-blob')) => BlobServiceClient) | undefined;
  let makeTable: (name: string) => TableClient;

  if (config.kind === 'connectionString') {
    const allowInsecureConnection = /UseDevelopmentStorage=true|http:\/\//i.test(config.connectionString);
    tableService = TableServiceClient.fromConnectionString(config.connectionString, { allowInsecureConnection, ...TABLE_RETRIES });
    queueService = QueueServiceClient.fromConnectionString(config.connectionString, STORAGE_RETRIES);
    makeBlobService = ({ BlobServiceClient }) => BlobServiceClient.fromConnectionString(config.connectionString, STORAGE_RETRIES);
    makeTable = (name) => TableClient.fromConnectionString(config.connectionString, name, { allowInsecureConnection, ...TABLE_RETRIES });
  } else {
    const credential = lazyDefaultCredential(config.managedIdentityClientId);
    tableService = new TableServiceClient(config.tableServiceUri, credential, TABLE_RETRIES);
    queueService = new QueueServiceClient(config.queueServiceUri, credential, STORAGE_RETRIES);
    const blobServiceUri = config.blobServiceUri;
    makeBlobService = blobServiceUri ? ({ BlobServiceClient }) => new BlobServiceClient(blobServiceUri, credential, STORAGE_RETRIES) : undefined;
    makeTable = (name) => new TableClient(config.tableServiceUri, name, credential, TABLE_RETRIES);
  }

  let blobService: Promise<BlobServiceClient | undefined> | undefined;
  return {
    tableService,
    queueService,
    blobConfigured: makeBlobService !== undefined,
    blobs() {
      const make = makeBlobService;
      blobService ??= make ? import('@azure/storage-blob').then(make) : Promise.resolve(undefined);
      return blobService;
    },
    table(name) {
      let client = tables.get(name);
      if (!client) tables.set(name, (client = makeTable(name)));
      return client;
    },
    queue(name) {
      let client = queues.get(name);
      if (!client) queues.set(name, (client = queueService.getQueueClient(name)));
      return client;
    },
  };
}

/**
 * DefaultAzureCredential (managed identity in Azure), loaded on the first token request: the
 * identity library is a large part of start-up time and connection-string setups never need it.
 */
function lazyDefaultCredential(managedIdentityClientId: string | undefined): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  return {
    getToken: async (scopes, options) => {
      credential ??= import('@azure/identity').then(
        ({ DefaultAzureCredential }) => new DefaultAzureCredential(managedIdentityClientId ? { managedIdentityClientId } : {}),
      );
      return (await credential).getToken(scopes, options);
    },
  };
}

/** The account every Azurite serves. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';

type AzuritePorts = { blob: number; queue: number; table: number };

/** Each service's account URL of an Azurite instance on the given ports. */
export function azuriteEndpoints(host: string, ports: AzuritePorts, protocol: 'http' | 'https' = 'http'): { blob: string; queue: string; table: string } {
  const endpoint = (port: number) => `${protocol}://${host}:${port}/${AZURITE_ACCOUNT}`;
  return { blob: endpoint(ports.blob), queue: endpoint(ports.queue), table: endpoint(ports.table) };
}

/** Connection string for an Azurite instance on the given ports. */
export function azuriteConnectionString(host: string, ports: AzuritePorts, protocol: 'http' | 'https' = 'http'): string {
  const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
  const endpoints = azuriteEndpoints(host, ports, protocol);
  return [
    `DefaultEndpointsProtocol=${protocol}`,
    `AccountName=${AZURITE_ACCOUNT}`,
    `AccountKey=${key}`,
    `BlobEndpoint=${endpoints.blob}`,
    `QueueEndpoint=${endpoints.queue}`,
    `TableEndpoint=${endpoints.table}`,
  ].join(';');
}
