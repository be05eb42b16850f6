import { createHash } from 'node:crypto';

/**
 * Tamper evidence for the audit log: one hash chain per organization per day partition.
 *
 * Every stored event carries `Seq` (1, 2, 3, … in the order the writer appended it), `PrevHash` (the
 * hash of the event before it in the chain, or the partition's genesis hash for Seq 1) and
 * `Hash = SHA-256("gatehouse-audit-chain-v1\n" + PrevHash + "\n" + canonical(content))`, where the
 * content is every stored field of the event (data by its SHA-256) plus Seq. The partition's chain
 * head row (`head`: Seq and Hash of the last event) is updated in the same table transaction as the
 * event row, with its ETag, so concurrent writers cannot fork the chain.
 */

const CHAIN_PREFIX = 'gatehouse-audit-chain-v1';
const GENESIS_PREFIX = 'gatehouse-audit-genesis-v1';
/** Event data nested deeper than this is refused (it could only be hostile). */
export const MAX_DATA_DEPTH = 32;

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export function genesisHash(partitionKey: string): string {
  return sha256Hex(`${GENESIS_PREFIX}\n${partitionKey}`);
}

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, `undefined` members left
 * out (as JSON.stringify does). Written straight to a string, so hostile keys such as `__proto__`
 * are just keys. Throws past MAX_DATA_DEPTH levels.
 */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_DATA_DEPTH) throw new RangeError(`nested deeper than ${MAX_DATA_DEPTH} levels`);
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item) => canonicalJson(item === undefined ? null : item, depth + 1)).join(',')}]`;
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((key) => record[key] !== undefined && typeof record[key] !== 'function')
        .sort();
      return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key], depth + 1)}`).join(',')}}`;
    }
    default:
      return 'null';
  }
}

/** The hashed content of a stored event: every column except keys, chain columns and derived ones. */
export interface ChainContent {
  readonly eventId: string;
  readonly seq: number;
  readonly timestamp: string;
  readonly organizationId: string;
  readonly organizationName: string;
  readonly projectId: string | undefined;
  readonly projectName: string | undefined;
  readonly actionId: string;
  readonly area: string;
  readonly category: string;
  readonly actorKind: string;
  readonly actorId: string;
  readonly actorUpn: string | undefined;
  readonly actorDisplayName: string;
  readonly actorClientId: string | undefined;
  readonly authenticationMechanism: string;
  readonly ipAddress: string | undefined;
  readonly userAgent: string | undefined;
  readonly correlationId: string;
  readonly activityId: string;
  readonly scopeType: string;
  readonly scopeId: string;
  readonly dataSha256: string;
  readonly dataLength: number;
}

export function chainHash(previousHash: string, content: ChainContent): string {
  const fields: Record<string, unknown> = { v: 1, ...content };
  for (const key of Object.keys(fields)) if (fields[key] === undefined) fields[key] = null;
  return sha256Hex(`${CHAIN_PREFIX}\n${previousHash}\n${canonicalJson(fields)}`);
}
