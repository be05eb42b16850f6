import { randomUUID } from 'node:crypto';
import functions, { type InvocationContext } from '@azure/functions';
import type { Logger } from '../shared/logging.js';

export type Outcome = 'succeeded' | 'failed';

/** What every trigger kind shares: the invocation context a function gets, and one log line per invocation. */
export interface Invocations {
  /** A context whose logs go to the runtime's logger, tagged with the function and the invocation. */
  readonly contextFor: (name: string, triggerMetadata: Record<string, unknown>, invocationId?: string) => InvocationContext;
  readonly logInvocation: (name: string, invocationId: string, started: number, outcome: Outcome, extra?: Record<string, string | number>) => void;
}

export function createInvocations(log: Logger): Invocations {
  return {
    contextFor: (name, triggerMetadata, invocationId = randomUUID()) =>
      // The library is CommonJS and its classes are not detected as named ESM exports.
      new functions.InvocationContext({
        invocationId,
        functionName: name,
        triggerMetadata,
        logHandler: (level, ...args) => {
          const message = args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ');
          const write = level === 'error' || level === 'critical' ? log.error : level === 'warning' ? log.warn : log.info;
          write(message, { function: name, invocationId });
        },
      }),
    logInvocation: (name, invocationId, started, outcome, extra = {}) =>
      log.info('invocation', { function: name, invocationId, durationMs: Date.now() - started, outcome, ...extra }),
  };
}
