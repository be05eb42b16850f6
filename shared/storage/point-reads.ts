import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TableClient, TableEntityResult } from '@azure/data-tables';
import {
  createHttpHeaders,
  createPipelineRequest,
  RestError,
  type HttpClient,
  type Pipeline,
  type PipelineRequest,
  type PipelineResponse,
  type TlsSettings,
} from '@azure/core-rest-pipeline';

/**
 * Point reads of table entities. They are on the path of almost every request (a PAT's record, an
 * organization, a membership), and the SDK's `getEntity` spends about twice the CPU of the request
 * itself in its generated-client layers (operation specs, mappers, tracing spans, logging). So a
 * point read goes through the table client's own pipeline, which keeps its credential (shared key,
 * SAS or Entra token), retry, proxy, user-agent and request-id policies, less the policies a plain
 * GET does not need, over a minimal HTTP client; the answer is converted exactly as `getEntity`
 * converts it. A missing entity is a 404 answer, not a thrown error.
 */
export async function pointRead<T extends object>(table: TableClient, partitionKey: string, rowKey: string): Promise<TableEntityResult<T> | undefined> {
  const url = `${table.url}/${table.tableName}(PartitionKey='${keyInUrl(partitionKey)}',RowKey='${keyInUrl(rowKey)}')`;
  const request = createPipelineRequest({ url, method: 'GET', allowInsecureConnection: url.startsWith('http:') });
  request.headers.set('Accept', 'application/json;odata=minimalmetadata');
  request.headers.set('x-ms-version', TABLE_API_VERSION);
  request.headers.set('DataServiceVersion', '3.0');
  const response = await pipelineOf(table).sendRequest(getHttpClient, request);
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

/** As the SDK puts a key in an entity's URL: quotes doubled, then URL-encoded. */
const keyInUrl = (key: string) => encodeURIComponent(key.replace(/'/g, "''"));

/** The Table service version the SDK speaks (its generated client's constant). */
const TABLE_API_VERSION = '2019-02-02';

/**
 * Policies a point read does without: body (de)serialization for operation specs, form and
 * multipart bodies, compressed answers (none is asked for), and the SDK's own tracing and logging.
 */
const NOT_FOR_POINT_READS = [
  'serializationPolicy',
  'deserializationPolicy',
  'multipartPolicy',
  'formDataPolicy',
  'decompressResponsePolicy',
  'tracingPolicy',
  'logPolicy',
];

const pipelines = new WeakMap<TableClient, Pipeline>();

function pipelineOf(table: TableClient): Pipeline {
  let pipeline = pipelines.get(table);
  if (!pipeline) {
    pipeline = table.pipeline.clone();
    for (const name of NOT_FOR_POINT_READS) pipeline.removePolicy({ name });
    pipelines.set(table, pipeline);
  }
  return pipeline;
}

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
/** Agents for clients with TLS options (a CA, a client certificate), one per options object as the SDK keeps them. */
const tlsAgents = new WeakMap<TlsSettings, HttpsAgent>();

/** A keep-alive agent with the client's TLS options, for requests the pipeline gave no agent (a proxy's, the client's own). */
function defaultAgent(request: PipelineRequest, secure: boolean): HttpAgent {
  if (!secure) return agents.http;
  const tls = request.tlsSettings;
  if (!tls) return agents.https;
  let agent = tlsAgents.get(tls);
  if (!agent) tlsAgents.set(tls, (agent = new HttpsAgent({ ...tls, keepAlive: true })));
  return agent;
}

/**
 * A GET with a text answer over keep-alive connections: all a point read asks of an HTTP client. It
 * honours what the pipeline sets (a proxy's agent, the client's TLS options, the timeout, the abort
 * signal) and fails as the SDK's client fails (a RestError with the system error's code, which the
 * retry policy and the storage-unavailable mapping read).
 */
const getHttpClient: HttpClient = {
  sendRequest: (request) =>
    new Promise<PipelineResponse>((resolve, reject) => {
      const fail = (error: Error & { code?: string }) => reject(new RestError(error.message, { code: error.code ?? RestError.REQUEST_SEND_ERROR, request }));
      if (request.abortSignal?.aborted) return fail(abortError());
      const url = new URL(request.url);
      const secure = url.protocol === 'https:';
      const headers: Record<string, string> = {};
      for (const [name, value] of request.headers) headers[name] = value;
      const outgoing = (secure ? httpsRequest : httpRequest)(url, {
        method: request.method,
        headers,
        agent: (request.agent as HttpAgent | undefined) ?? defaultAgent(request, secure),
        ...(request.timeout > 0 ? { timeout: request.timeout } : {}),
      });
      const onAbort = () => outgoing.destroy(abortError());
      request.abortSignal?.addEventListener('abort', onAbort, { once: true });
      // Answered, failed or destroyed: the request no longer listens to the caller's signal.
      outgoing.once('close', () => request.abortSignal?.removeEventListener('abort', onAbort));
      outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error(`no answer from storage within ${request.timeout} ms`), { code: 'ETIMEDOUT' })));
      outgoing.on('error', fail);
      outgoing.on('response', (incoming: IncomingMessage) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', fail);
        incoming.on('end', () => {
          resolve({ request, status: incoming.statusCode ?? 0, headers: headersOf(incoming), bodyAsText: Buffer.concat(chunks).toString('utf8') });
        });
      });
      outgoing.end();
    }),
};

const abortError = () => Object.assign(new Error('The storage request was aborted.'), { name: 'AbortError' });

function headersOf(incoming: IncomingMessage): PipelineRequest['headers'] {
  const headers = createHttpHeaders();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

const PROPERTY_NAMES: Readonly<Record<string, string>> = { PartitionKey: 'partitionKey', RowKey: 'rowKey', 'odata.etag': 'etag', Timestamp: 'timestamp' };
const TYPE_SUFFIX = '@odata.type';

/** A Table service JSON entity as the SDK's getEntity returns it (typed values converted, service names mapped). */
export function entityFromJson(json: Record<string, unknown>): Record<string, unknown> & { etag?: string | undefined } {
  const entity: Record<string, unknown> = {};
  let typed: string[] | undefined;
  for (const name in json) {
    if (name.endsWith(TYPE_SUFFIX)) (typed ??= []).push(name);
    else if (name !== 'odata.metadata') entity[PROPERTY_NAMES[name] ?? name] = json[name];
  }
  // Only Int64, DateTime, Guid and Binary values carry an annotation; most entities have none.
  for (const annotation of typed ?? []) {
    const name = annotation.slice(0, -TYPE_SUFFIX.length);
    const type = json[annotation];
    if (typeof type === 'string' && name in json) entity[PROPERTY_NAMES[name] ?? name] = typedValue(json[name], type);
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
