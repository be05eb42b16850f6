import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import functions, { type HttpRequestInit, type HttpResponseInit } from '@azure/functions';
import { registerClientSignal } from '../shared/http/cancellation.js';
import { errorResponse, requestTooLarge } from '../shared/http/endpoint.js';
import { AppError } from '../shared/http/errors.js';
import { errorMessage, type Logger } from '../shared/logging.js';
import type { HttpDeclaration } from '../shared/runtime/declarations.js';
import { createRouteTable, splitPath, type RouteTable } from '../shared/runtime/routes.js';
import type { Invocations } from './invocations.js';

// The library is CommonJS and its classes are not detected as named ESM exports.
const { HttpRequest } = functions;

/** The HTTP functions' routes under the host's `routePrefix`, in the host's order of precedence. */
export function createHttpRoutes(declarations: readonly HttpDeclaration[], routePrefix: string): RouteTable<HttpDeclaration> {
  return createRouteTable(
    declarations.map((declaration) => ({
      route: joinRoute(routePrefix, declaration.options.route),
      methods: declaration.options.methods,
      value: declaration,
    })),
  );
}

export interface HttpServerOptions {
  readonly routes: RouteTable<HttpDeclaration>;
  readonly port: number;
  readonly hostname: string;
  readonly maxRequestBodyBytes: number;
  /** The key `POST /admin/functions/{name}` requires in `x-functions-key` (or `?code=`). */
  readonly masterKey: string;
  /** Runs a queue or timer function once, for `POST /admin/functions/{name}`. */
  readonly invoke: (name: string, input?: unknown) => Promise<void>;
  readonly log: Logger;
  readonly invocations: Invocations;
}

export interface HttpServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the HTTP functions as the host's front end does (streamed bodies within each route's limit,
 * X-Forwarded-For, the client's disconnect as the request's signal) and the admin API that runs a
 * queue or timer function on demand.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { hostname, invocations } = options;
  const server: Server = createServer((req, res) => {
    void handleHttp(req, res).catch((error: unknown) => {
      options.log.error('local runtime failed to answer', { error: String(error) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;

  const handleHttp = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? hostname}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const segments = splitPath(url.pathname);
    if (!segments) return send(res, errorResponse(new AppError(400, 'invalidPath', 'The request path is not valid URL encoding.')));

    if (segments[0]?.toLowerCase() === 'admin' && segments[1]?.toLowerCase() === 'functions' && segments.length === 3 && method === 'POST') {
      const refusal = adminRefusal(req, url, options.masterKey);
      if (refusal) {
        req.resume();
        return send(res, errorResponse(refusal));
      }
      const body = await readBody(req, options.maxRequestBodyBytes).catch(() => undefined);
      let input: unknown;
      try {
        input = body && body.length > 0 ? (JSON.parse(body.toString('utf8')) as { input?: unknown }).input : undefined;
      } catch {
        return send(res, errorResponse(new AppError(400, 'invalidJson', 'The request body is not valid JSON.')));
      }
      try {
        await options.invoke(segments[2] ?? '', input);
      } catch (error) {
        if (error instanceof AppError) return send(res, errorResponse(error));
        return send(res, { status: 500 });
      }
      return send(res, { status: 202 });
    }

    const match = options.routes.find(method, segments);
    if (!match) return send(res, errorResponse(new AppError(404, 'routeNotFound', 'No API is registered at this path.')));

    let body: ReadableStream<Uint8Array> | undefined;
    if (method !== 'GET' && method !== 'HEAD') {
      const limit = match.entry.maxBodyBytes?.() ?? options.maxRequestBodyBytes;
      const declared = Number(req.headers['content-length'] ?? '0');
      if (declared > limit) return sendAndClose(res, errorResponse(requestTooLarge(limit)));
      // Streamed to the function as the host streams it: the reader enforces the route's limit as it reads.
      if (declared > 0 || req.headers['transfer-encoding'] !== undefined) body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
    }

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    // The Functions front end appends the address of the peer it serves to X-Forwarded-For; so does this runtime.
    const peer = req.socket.remoteAddress ?? 'unknown';
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${peer}` : peer;
    // The library's constructor takes the request the host streams to the worker as `nativeRequest`,
    // which its public init type does not list.
    const href = url.toString();
    const init: HttpRequestInit & { nativeRequest: Partial<Request> } = {
      method,
      url: href,
      headers,
      params: match.params,
      nativeRequest: body ? new Request(url, { method, headers, body, duplex: 'half' }) : bodilessRequest(href, method, headers),
    };
    const request = new HttpRequest(init);
    // Made only when a function asks (an abort costs an exception object): most requests never do.
    let clientGone: AbortController | undefined;
    let gone = false;
    res.once('close', () => {
      if (res.writableFinished) return;
      gone = true;
      clientGone?.abort();
    });
    registerClientSignal(request, () => {
      if (!clientGone) {
        clientGone = new AbortController();
        if (gone) clientGone.abort();
      }
      return clientGone.signal;
    });
    const context = invocations.contextFor(match.entry.name, {});
    const started = Date.now();
    let response: HttpResponseInit;
    try {
      response = await match.entry.handler(request, context);
    } catch (error) {
      invocations.logInvocation(match.entry.name, context.invocationId, started, 'failed', { status: 500, error: errorMessage(error).slice(0, 500) });
      return send(res, { status: 500 });
    }
    invocations.logInvocation(match.entry.name, context.invocationId, started, 'succeeded', { method, status: response.status ?? 200 });
    // A body the function did not read (refused before reading it) is not drained: the connection closes.
    if (body && !req.complete) return sendAndClose(res, response);
    return send(res, response, method === 'HEAD');
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, hostname, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${hostname}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * What HttpRequest reads of a request without a body: its URL, method and headers. A fetch Request
 * would also make an AbortController and validate the URL and headers again on every GET, the most
 * common request; one is made only if a function reads the (empty) body.
 */
function bodilessRequest(url: string, method: string, headers: Record<string, string>): Partial<Request> {
  let real: Request | undefined;
  const request = () => (real ??= new Request(url, { method, headers }));
  return {
    url,
    method,
    headers: new Headers(headers),
    body: null,
    bodyUsed: false,
    arrayBuffer: () => request().arrayBuffer(),
    blob: () => request().blob(),
    json: () => request().json(),
    text: () => request().text(),
  };
}

/**
 * Why an admin request is refused: no or a wrong master key (401), or a body that is not declared
 * JSON (415), so a web page cannot trigger it with a form or a simple cross-origin request.
 */
function adminRefusal(req: IncomingMessage, url: URL, masterKey: string): AppError | undefined {
  const given = String(req.headers['x-functions-key'] ?? url.searchParams.get('code') ?? '');
  const expected = Buffer.from(masterKey, 'utf8');
  const actual = Buffer.from(given, 'utf8');
  if (masterKey.length < 16 || actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    return new AppError(401, 'unauthorized', 'The admin API requires the master key in the x-functions-key header.');
  }
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/json') return new AppError(415, 'unsupportedMediaType', 'Send the admin request body as application/json.');
  return undefined;
}

function joinRoute(prefix: string, route: string): string {
  return [prefix, route].filter((part) => part.length > 0).join('/');
}

/** Reads at most `limit` bytes; undefined when the body is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function send(res: ServerResponse, response: HttpResponseInit, headOnly = false): Promise<void> {
  const headers = headerRecord(response.headers);
  let payload: Buffer | undefined;
  if (response.jsonBody !== undefined) {
    payload = Buffer.from(JSON.stringify(response.jsonBody));
    headers['content-type'] ??= 'application/json';
  } else if (typeof response.body === 'string') {
    payload = Buffer.from(response.body);
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (response.body instanceof Uint8Array) {
    payload = Buffer.from(response.body);
  } else if (response.body instanceof ReadableStream) {
    res.writeHead(response.status ?? 200, headers);
    // Pull the next chunk only when the socket has taken the last one: never buffer a whole stream.
    for await (const chunk of response.body as ReadableStream<Uint8Array>) {
      if (res.destroyed) break;
      if (!res.write(chunk))
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
    }
    res.end();
    return;
  }
  if (payload) headers['content-length'] = String(payload.length);
  res.writeHead(response.status ?? 200, headers);
  res.end(headOnly ? undefined : payload);
}

/**
 * Response headers as the host sends them: names lower-cased, a name given twice joined with ", "
 * (as a fetch Headers object would, without making one per response).
 */
function headerRecord(init: HttpResponseInit['headers']): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!init) return headers;
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  };
  if (init instanceof Headers) init.forEach((value, name) => add(name, value));
  else if (Array.isArray(init)) for (const [name, value] of init) add(name, String(value));
  else for (const name of Object.keys(init)) add(name, String((init as Record<string, unknown>)[name]));
  return headers;
}

/** Answers and closes the connection without reading the rest of an oversized body. */
async function sendAndClose(res: ServerResponse, response: HttpResponseInit): Promise<void> {
  res.setHeader('Connection', 'close');
  await send(res, response);
}
