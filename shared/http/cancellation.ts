import type { HttpRequest } from '@azure/functions';

/**
 * Whether the client of a request is still there. A runtime that learns of disconnects (the local
 * runtime does) registers an AbortSignal per request; long work (package reads fanning out over
 * upstreams) checks it between steps and stops once the client has gone. Where none is registered
 * the request's other bounds (caps, timeouts) are what limit the work.
 */
const signals = new WeakMap<HttpRequest, () => AbortSignal>();

/** `signal` is called when a function first asks, so a runtime need not make one for every request. */
export function registerClientSignal(request: HttpRequest, signal: () => AbortSignal): void {
  signals.set(request, signal);
}

export function clientSignalOf(request: HttpRequest): AbortSignal | undefined {
  return signals.get(request)?.();
}
