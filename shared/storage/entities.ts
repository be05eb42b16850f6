import { createHash } from 'node:crypto';
import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { createDefaultHttpClient, createPipelineRequest, RestError, type HttpClient, type Pipeline } from '@azure/core-rest-pipeline';
import { restErrorStatus } from '../http/errors.js';

/**
 * Point read that answers undefined for a missing entity instead of throwing.
 *
 * It is on the path of almost every request (a PAT's record, an organization, a membership), so it
 * skips the SDK's generated-client layers: the request goes through the table client's own pipeline
 * (its credential, retry, proxy, user-agent and request-id policies) less the policies a plain GET
 * does not need (body serialization, operation-spec deserialization, the SDK's tracing and logging),
 * and the answer is converted exactly as `getEntity` converts it. That halves the CPU of a read; a
 * missing entity is a plain 404 answer, not a thrown error.
 */
export async function readEntity<T extends object>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  const key = (value: string) => encodeURIComponent(value.replace(/'/g, "''"));
  const url = `${table.url}/${table.tableName}(PartitionKey='${key(partitionKey)}',RowKey='${key(rowKey)}')`;
  const request = createPipelineRequest({ url, method: 'GET', allowInsecureConnection: url.startsWith('http:') });
  request.headers.set('Accept', 'application/json;odata=minimalmetadata');
  request.headers.set('x-ms-version', TABLE_API_VERSION);
  request.headers.set('DataServiceVersion', '3.0');
  const response = await pointReadPipeline(table).sendRequest(pointReadHttpClient(), request);
  if (response.status === 404) return undefined;
  if (response.status !== 200) {
    const code = response.headers.get('x-ms-error-code') ?? undefined;
    throw new RestError(`Storage answered ${response.status}${code ? ` (${code})` : ''} to a point read of ${table.tableName}.`, {
      statusCode: response.status,
      ...(code ? { code } : {}),
      request,
      response,
    });
  }
  const entity = entityFromJson(JSON.parse(response.bodyAsText ?? '{}') as Record<string, unknown>);
  entity.etag ??= response.headers.get('etag') ?? undefined;
  return entity as TableEntityResult<T>;
}

/** The Table service version the SDK speaks (its generated client's constant). */
const TABLE_API_VERSION = '2019-02-02';

/** Policies of a table client's pipeline that a point read does without (see readEntity). */
const NOT_FOR_POINT_READS = ['serializationPolicy', 'deserializationPolicy', 'multipartPolicy', 'formDataPolicy', 'tracingPolicy', 'logPolicy'];

const pointReadPipelines = new WeakMap<TableClient, Pipeline>();

function pointReadPipeline(table: TableClient): Pipeline {
  let pipeline = pointReadPipelines.get(table);
  if (!pipeline) {
    pipeline = table.pipeline.clone();
    for (const name of NOT_FOR_POINT_READS) pipeline.removePolicy({ name });
    pointReadPipelines.set(table, pipeline);
  }
  return pipeline;
}

let httpClient: HttpClient | undefined;
const pointReadHttpClient = () => (httpClient ??= createDefaultHttpClient());

const PROPERTY_NAMES: Readonly<Record<string, string>> = { PartitionKey: 'partitionKey', RowKey: 'rowKey', 'odata.etag': 'etag', Timestamp: 'timestamp' };
const TYPE_SUFFIX = '@odata.type';

/** A Table service JSON entity as the SDK's getEntity returns it (typed values converted, service names mapped). */
export function entityFromJson(json: Record<string, unknown>): Record<string, unknown> & { etag?: string | undefined } {
  const entity: Record<string, unknown> = {};
  for (const name of Object.keys(json)) {
    if (name.endsWith(TYPE_SUFFIX) || name === 'odata.metadata') continue;
    const value = json[name];
    const type = json[name + TYPE_SUFFIX];
    entity[PROPERTY_NAMES[name] ?? name] = typeof type === 'string' ? typedValue(value, type) : value;
  }
  return entity;
}

function typedValue(value: unknown, type: string): unknown {
  switch (type) {
    case 'Edm.DateTime':
      return new Date(String(value));
    case 'Edm.Int64':
      return BigInt(String(value));
    case 'Edm.Guid':
      return { value, type: 'Guid' };
    case 'Edm.Binary':
      return Buffer.from(String(value), 'base64');
    default:
      return value;
  }
}

/** Awaits a storage operation, taking a 404 (the entity is already gone) as done. */
export async function ignoreMissing(operation: Promise<unknown>): Promise<void> {
  try {
    await operation;
  } catch (error) {
    if (restErrorStatus(error) !== 404) throw error;
  }
}

/** Reads every entity of a query, following continuation tokens. */
export async function readAll<T extends object>(
  table: TableClient,
  filter: string,
): Promise<TableEntityResult<T>[]> {
  const rows: TableEntityResult<T>[] = [];
  for await (const row of table.listEntities<T>({ queryOptions: { filter } })) rows.push(row);
  return rows;
}

/** Table keys may not contain / \ # ? or control characters; everything we key on is checked here. */
export function assertSafeKey(value: string): string {
  if (value.length === 0 || value.length > 512 || /[/\\#?\u0000-\u001f\u007f-\u009f]/.test(value)) {
    throw new Error(`unsafe table key: ${JSON.stringify(value.slice(0, 40))}`);
  }
  return value;
}

export function parseJsonColumn<T>(value: unknown, fallback: T): T {
  if (typeof value !== 'string') return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}

/**
 * A table key made from any text (an email, a user principal name such as a guest's `#EXT#` one):
 * `%` and the characters keys may not hold are percent-encoded, so ordinary values stay as they are;
 * a value too long for a key becomes its SHA-256.
 */
export function encodeKey(value: string): string {
  const encoded = value.replace(
    /[%/\\#?\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return encoded.length <= 400 ? encoded : `sha256_${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}
