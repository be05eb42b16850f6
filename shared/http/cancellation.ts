import type { HttpRequest } from '@azure/functions';

/**
 * Whether the client of a request is still there. A runtime that learns of disconnects (the local
 * runtime does) registers an AbortSignal per request; long work (package reads fanning out over
 * upstreams) checks it between steps and stops once the client has gone. Where none is registered
 * the request's other bounds (caps, timeouts) are what limit the work.
 */
const signals = new WeakMap<HttpRequest, AbortSignal>();

export function registerClientSignal(request: HttpRequest, signal: AbortSignal): void {
  signals.set(request, signal);
}

export function clientSignalOf(request: HttpRequest): AbortSignal | undefined {
  return signals.get(request);
}
