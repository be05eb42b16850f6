import type { StorageClients } from '../../shared/storage/clients.js';
import { TOKEN_PATTERN } from '../../shared/secrets/format.js';

/**
 * Reads everything a test run left in storage (every table entity, blob and queue message) and
 * every captured log line, and reports where any of the given secrets appears in plaintext.
 */
export async function findSecrets(storage: StorageClients, logs: readonly string[], secrets: readonly string[]): Promise<string[]> {
  const needles = [...new Set(secrets.filter((secret) => secret.length >= 16))];
  const findings: string[] = [];
  const check = (where: string, text: string) => {
    for (const needle of needles) if (text.includes(needle)) findings.push(`${where} contains ${needle.slice(0, 10)}…`);
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----|-----BEGIN OPENSSH PRIVATE KEY-----/.test(text)) findings.push(`${where} contains a private key`);
  };

  for await (const table of storage.tableService.listTables()) {
    if (!table.name) continue;
    for await (const entity of storage.table(table.name).listEntities()) check(`table ${table.name}`, JSON.stringify(entity));
  }
  for await (const queue of storage.queueService.listQueues()) {
    const peeked = await storage.queue(queue.name).peekMessages({ numberOfMessages: 32 });
    for (const message of peeked.peekedMessageItems) {
      check(`queue ${queue.name}`, message.messageText);
      check(`queue ${queue.name} (decoded)`, Buffer.from(message.messageText, 'base64').toString('utf8'));
    }
  }
  const blobs = await storage.blobs();
  if (blobs) {
    for await (const container of blobs.listContainers()) {
      const client = blobs.getContainerClient(container.name);
      for await (const blob of client.listBlobsFlat()) {
        if ((blob.properties.contentLength ?? 0) > 8 * 1024 * 1024) continue;
        check(`blob ${container.name}/${blob.name}`, (await client.getBlobClient(blob.name).downloadToBuffer()).toString('latin1'));
      }
    }
  }
  logs.forEach((line, index) => check(`log line ${index}`, line));
  return findings;
}

export function tokensIn(text: string): string[] {
  return text.match(new RegExp(TOKEN_PATTERN.source, 'g')) ?? [];
}
