import type { HttpRequest } from '@azure/functions';
import type { AppConfig } from '../config.js';
import { truncate } from '../text.js';
import { redactSecrets } from '../secrets/redaction.js';
import { clientAddressOf } from './client-address.js';

/**
 * Where a request came from, as domain code may know and keep it (audit events, PAT usage, leak
 * reports); the endpoint layer reads it from the request once.
 */
export interface RequestOrigin {
  /** The client address (see client-address.ts: trusted proxy hops are skipped from the right). */
  readonly ip: string | undefined;
  /** The User-Agent as it may be kept: at most 512 characters, token-shaped text redacted. */
  readonly userAgent: string | undefined;
  /** The path the request was made to. */
  readonly path: string;
}

export function requestOriginOf(request: HttpRequest, config: AppConfig): RequestOrigin {
  const userAgent = request.headers.get('user-agent');
  return {
    ip: clientAddressOf(request, config),
    userAgent: userAgent ? truncate(redactSecrets(userAgent), 512) : undefined,
    path: new URL(request.url).pathname,
  };
}
