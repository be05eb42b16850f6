import type { HttpRequest } from '@azure/functions';
import { BlockList, isIP } from 'node:net';
import { getAppContext } from '../app-context.js';
import type { AppConfig } from '../config.js';

/**
 * The client address of a request, for rate limits, PAT usage and audit events.
 *
 * The Functions front end appends the address of the peer that connected to it to `X-Forwarded-For`
 * (as `ip:port`; IPv6 in brackets), after whatever the request already carried. So only the rightmost
 * entry is known to be true; an entry to its left is believed only when every hop to its right is a
 * configured trusted proxy (`TRUSTED_PROXIES`, e.g. Front Door or an Application Gateway subnet). The
 * header is read from the right, skipping trusted hops; the first untrusted address is the client.
 * An entry that is not an IP address ends the walk and is never used: the last address read stands.
 * The local runtime appends the socket's address exactly as the front end does.
 */

const trustLists = new WeakMap<AppConfig['trustedProxies'], BlockList>();

function trustListOf(ranges: AppConfig['trustedProxies']): BlockList {
  let list = trustLists.get(ranges);
  if (!list) {
    list = new BlockList();
    for (const range of ranges) list.addSubnet(range.network, range.prefix, range.family === 6 ? 'ipv6' : 'ipv4');
    trustLists.set(ranges, list);
  }
  return list;
}

/** One X-Forwarded-For entry as a bare IP address (port and brackets removed, mapped IPv4 unwrapped), or undefined. */
export function parseForwardedEntry(entry: string): string | undefined {
  const value = entry.trim();
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(value);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?$/.exec(value);
  const candidate = bracketed?.[1] ?? v4WithPort?.[1] ?? value;
  const family = isIP(candidate);
  if (family === 0) return undefined;
  if (family === 6) {
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(candidate);
    return mapped?.[1] ?? candidate.toLowerCase();
  }
  return candidate;
}

function isTrusted(list: BlockList | undefined, address: string): boolean {
  return list !== undefined && list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** The client address per the rules above; undefined only when the header holds no address at all. */
export function clientAddressFrom(forwardedFor: string | null | undefined, trustedProxies: AppConfig['trustedProxies']): string | undefined {
  if (!forwardedFor) return undefined;
  const entries = forwardedFor.split(',').slice(-64);
  // Without trusted proxies the rightmost address is the client; BlockList.check costs an object per call.
  const list = trustedProxies.length > 0 ? trustListOf(trustedProxies) : undefined;
  let last: string | undefined;
  for (let i = entries.length - 1; i >= 0; i--) {
    const address = parseForwardedEntry(entries[i] ?? '');
    if (!address) break;
    last = address;
    if (!isTrusted(list, address)) return address;
  }
  return last;
}

/** Per request: rate limits, last-used tracking and audit events all ask for it. */
const addresses = new WeakMap<HttpRequest, { trustedProxies: AppConfig['trustedProxies']; address: string | undefined }>();

export function clientAddressOf(request: HttpRequest, config: AppConfig = getAppContext().config): string | undefined {
  const known = addresses.get(request);
  if (known?.trustedProxies === config.trustedProxies) return known.address;
  const address = clientAddressFrom(request.headers.get('x-forwarded-for'), config.trustedProxies);
  addresses.set(request, { trustedProxies: config.trustedProxies, address });
  return address;
}
