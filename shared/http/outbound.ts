import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { AppContext } from '../app-context.js';

/**
 * The one client for outbound HTTP (webhooks, the npm upstream, anything later). A request:
 *
 * - resolves the host name once, refuses it when any address it resolves to lies in a loopback,
 *   private, link-local, CGNAT, multicast, documentation, reserved or cloud metadata range (IPv4 and
 *   IPv6, IPv4-mapped and NAT64 forms included; decimal and hex IPv4 literals are normalised by the
 *   URL parser first), and connects to exactly the address it checked: no second lookup, so a DNS
 *   answer that changes between check and connect (rebinding) cannot redirect it;
 * - follows no redirects (a 3xx is the caller's answer, and callers treat it as a failure);
 * - ends after `timeoutMs` in total (connect, headers and body) and after `maxResponseBytes` of body.
 *
 * `OUTBOUND_ALLOWED_PRIVATE_HOSTS` names hosts that may be private anyway (local development only:
 * configuration refuses it on Azure); they are matched by host name exactly as written in the URL.
 */

export class OutboundRefused extends Error {
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super(`outbound request to ${host} refused: ${reason}`);
    this.name = 'OutboundRefused';
  }
}

export class OutboundResponseTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the response is larger than ${limit} bytes`);
    this.name = 'OutboundResponseTooLarge';
  }
}

const BLOCKED_V4: readonly [string, number, string][] = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
  // Azure's platform endpoint (wire server, instance metadata relay, DNS).
  ['168.63.129.16', 32, 'cloud platform endpoint'],
];

const BLOCKED_V6: readonly [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['64:ff9b::', 96, 'NAT64'],
  ['64:ff9b:1::', 48, 'NAT64'],
  ['100::', 64, 'discard'],
  ['2001::', 32, 'Teredo'],
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

function blockListOf(entries: readonly [string, number, string][], family: 'ipv4' | 'ipv6') {
  return entries.map(([network, prefix, reason]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, family);
    return { list, reason };
  });
}
const V4_RANGES = blockListOf(BLOCKED_V4, 'ipv4');
const V6_RANGES = blockListOf(BLOCKED_V6, 'ipv6');

/** The IPv4 address an IPv6 address carries (mapped `::ffff:a.b.c.d` or compatible `::a.b.c.d`), if any. */
function embeddedV4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^::(?:ffff:(?:0{1,4}:)?)?(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted?.[1]) return dotted[1];
  const hex = /^::ffff:(?:0{1,4}:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex?.[1] && hex[2]) {
    const high = parseInt(hex[1], 16);
    const low = parseInt(hex[2], 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return undefined;
}

/** Why an IP address may not be called, or undefined when it is a public address. */
export function blockedAddressReason(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0] ?? '';
  const family = isIP(bare);
  if (family === 4) return V4_RANGES.find(({ list }) => list.check(bare, 'ipv4'))?.reason;
  if (family === 6) {
    const v4 = embeddedV4(bare);
    if (v4) return blockedAddressReason(v4) ?? 'IPv4-mapped';
    return V6_RANGES.find(({ list }) => list.check(bare, 'ipv6'))?.reason;
  }
  return 'not an IP address';
}

const bareHost = (hostname: string) => hostname.replace(/^\[|\]$/g, '').toLowerCase();

function isNamedException(app: AppContext, hostname: string): boolean {
  return app.config.outbound.allowedPrivateHosts.includes(bareHost(hostname));
}

export interface CheckedDestination {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * Resolves the URL's host once and checks every address; throws OutboundRefused for a scheme other
 * than http(s), credentials in the URL, or a refused address. DNS failures are rethrown as they are.
 */
export async function checkDestination(app: AppContext, url: URL): Promise<CheckedDestination> {
  const host = bareHost(url.hostname);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OutboundRefused(host, `the scheme ${url.protocol} is not allowed`);
  if (url.username || url.password) throw new OutboundRefused(host, 'URLs with credentials are not allowed');
  const exception = isNamedException(app, url.hostname);
  const literal = isIP(host);
  const addresses = literal ? [{ address: host, family: literal }] : await lookup(host, { all: true, verbatim: true });
  const [first] = addresses;
  if (!first) throw new OutboundRefused(host, 'the name has no address');
  if (!exception) {
    for (const { address } of addresses) {
      const reason = blockedAddressReason(address);
      if (reason) throw new OutboundRefused(host, `it resolves to a ${reason} address`);
    }
  }
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

export interface OutboundRequest {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

function timeoutError(timeoutMs: number): Error {
  const error = new Error(`the request did not finish within ${timeoutMs} ms`);
  error.name = 'TimeoutError';
  return error;
}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * One guarded request. Answers a fetch `Response` whose body is capped at `maxResponseBytes` (reading
 * past it fails with OutboundResponseTooLarge) and ends with a TimeoutError once `timeoutMs` have passed
 * since the call, wherever the exchange is.
 */
export async function guardedFetch(app: AppContext, url: string, init: OutboundRequest): Promise<Response> {
  const target = new URL(url);
  const started = Date.now();
  const destination = await withDeadline(checkDestination(app, target), init.timeoutMs, started);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const host = bareHost(target.hostname);
  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    let response: IncomingMessage | undefined;
    const fail = (error: Error) => {
      req.destroy(error);
      response?.destroy(error);
      if (!settled) {
        settled = true;
        reject(error);
      }
    };
    const timer = setTimeout(() => fail(timeoutError(init.timeoutMs)), Math.max(1, init.timeoutMs - (Date.now() - started)));
    timer.unref();
    const req = send({
      protocol: target.protocol,
      hostname: host,
      port: target.port || undefined,
      path: `${target.pathname}${target.search}`,
      method: init.method ?? 'GET',
      headers: { ...init.headers, host: target.host },
      agent: false,
      ...(isIP(host) ? {} : { servername: host }),
      // Connect to the address that was checked, never to a second answer from DNS.
      lookup: (_hostname, options, callback) => {
        if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [destination]);
        else callback(null, destination.address, destination.family);
      },
    });
    req.on('error', (error) => fail(error));
    req.on('response', (incoming) => {
      response = incoming;
      const headers = new Headers();
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (value === undefined) continue;
        for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
      }
      const status = incoming.statusCode ?? 502;
      settled = true;
      incoming.on('close', () => clearTimeout(timer));
      if (NULL_BODY_STATUSES.has(status)) {
        incoming.resume();
        resolve(new Response(null, { status, headers }));
        return;
      }
      resolve(new Response(cappedBody(incoming, init.maxResponseBytes), { status, headers }));
    });
    req.end(init.body);
  });
}

/** The response body as a web stream that fails once more than `limit` bytes arrive. */
function cappedBody(incoming: IncomingMessage, limit: number): ReadableStream<Uint8Array> {
  let size = 0;
  let open = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      incoming.on('data', (chunk: Buffer) => {
        if (!open) return;
        size += chunk.length;
        if (size > limit) {
          open = false;
          controller.error(new OutboundResponseTooLarge(limit));
          incoming.destroy();
          return;
        }
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) incoming.pause();
      });
      incoming.on('end', () => {
        if (open) controller.close();
        open = false;
      });
      incoming.on('error', (error) => {
        if (open) controller.error(error);
        open = false;
      });
    },
    pull() {
      incoming.resume();
    },
    cancel() {
      open = false;
      incoming.destroy();
    },
  });
}

async function withDeadline<T>(work: Promise<T>, timeoutMs: number, started: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError(timeoutMs)), Math.max(1, timeoutMs - (Date.now() - started)));
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
