import type { HttpMethod, HttpRequest, HttpResponseInit, InvocationContext, Timer, app as functionsApp } from '@azure/functions';
import type { EndpointDoc } from '../http/endpoint.js';

/**
 * One declaration per function: its name, trigger options and handler. The same objects are
 * registered with the Functions host (`registerWithHost`) and served by the local runtime, so the
 * two cannot disagree about routes, queues or schedules.
 */
export interface HttpDeclaration {
  readonly kind: 'http';
  readonly name: string;
  readonly options: { readonly route: string; readonly methods: HttpMethod[]; readonly authLevel: 'anonymous' };
  readonly handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
  readonly doc?: EndpointDoc;
  /**
   * The request body limit of this function when it differs from the app's (`MAX_REQUEST_BODY_BYTES`),
   * e.g. npm publish bodies carrying a base64 tarball. Read per request, since it comes from settings.
   */
  readonly maxBodyBytes?: () => number;
}

export interface QueueDeclaration {
  readonly kind: 'queue';
  readonly name: string;
  readonly options: { readonly queueName: string; readonly connection: string };
  readonly handler: (message: unknown, context: InvocationContext) => Promise<void>;
}

export interface TimerDeclaration {
  readonly kind: 'timer';
  readonly name: string;
  /** `schedule` is an NCRONTAB expression or an `%APP_SETTING%` reference to one. */
  readonly options: { readonly schedule: string; readonly runOnStartup: boolean; readonly useMonitor: boolean };
  readonly handler: (timer: Timer, context: InvocationContext) => Promise<void>;
}

export type FunctionDeclaration = HttpDeclaration | QueueDeclaration | TimerDeclaration;

/** The same HTTP function at a second route (another function name), e.g. a path Microsoft's examples use. */
export function atRoute(declaration: HttpDeclaration, name: string, route: string): HttpDeclaration {
  return {
    ...declaration,
    name,
    options: { ...declaration.options, route },
    ...(declaration.doc ? { doc: { ...declaration.doc, route } } : {}),
  };
}

export function queueFunction(name: string, options: QueueDeclaration['options'], handler: QueueDeclaration['handler']): QueueDeclaration {
  return { kind: 'queue', name, options, handler };
}

export function timerFunction(name: string, schedule: string, handler: TimerDeclaration['handler']): TimerDeclaration {
  return { kind: 'timer', name, options: { schedule, runOnStartup: false, useMonitor: true }, handler };
}

/** Registers every declaration with the real Functions host. */
export function registerWithHost(app: typeof functionsApp, declarations: readonly FunctionDeclaration[]): void {
  for (const declaration of declarations) {
    switch (declaration.kind) {
      case 'http':
        app.http(declaration.name, { ...declaration.options, handler: declaration.handler });
        break;
      case 'queue':
        app.storageQueue(declaration.name, { ...declaration.options, handler: declaration.handler });
        break;
      case 'timer':
        app.timer(declaration.name, { ...declaration.options, handler: declaration.handler });
        break;
    }
  }
}
