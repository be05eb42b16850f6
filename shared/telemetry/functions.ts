import type { InvocationContext } from '@azure/functions';
import type { Attributes } from '@opentelemetry/api';
import type { FunctionDeclaration, HttpDeclaration, QueueDeclaration, TimerDeclaration } from '../runtime/declarations.js';
import { contextOfTraceparent, inSpan, SpanKind, telemetry } from './telemetry.js';

/** host.json `extensions.queues.maxDequeueCount`: a message failing on this attempt goes to poison. */
export const MAX_DEQUEUE_COUNT = 5;

/**
 * Every function runs in a span, bound to its InvocationContext (`traceparentOf`, `annotateInvocation`):
 * HTTP as a server span continuing the caller's (or the host's) W3C trace context, a queue message as
 * a consumer span continuing the trace context it carries (set by the producer, see
 * `encodeQueueMessage` and the outbox), a timer as the root of its own trace. Which are recorded is
 * the sampler's decision (shared/telemetry/sampling.ts). Queue messages lose their `traceparent`
 * before the handler sees them, so strict message schemas hold.
 */
export function instrumented(declarations: readonly FunctionDeclaration[]): FunctionDeclaration[] {
  return declarations.map(instrument);
}

const hostTraceparent = (context: InvocationContext) => context.traceContext?.traceParent;

function instrument(declaration: FunctionDeclaration): FunctionDeclaration {
  switch (declaration.kind) {
    case 'http': {
      const { handler, name } = declaration;
      const route = `/${declaration.options.route}`;
      // Span name and attributes per method, made once (the SDK copies attributes it keeps).
      const spanOf = new Map<string, { name: string; attributes: Attributes }>();
      const spanFor = (method: string) => {
        let found = spanOf.get(method);
        if (!found) {
          found = { name: `${method} ${route}`, attributes: { 'http.request.method': method, 'http.route': route, 'faas.name': name, 'faas.trigger': 'http' } };
          if (spanOf.size < 16) spanOf.set(method, found);
        }
        return found;
      };
      const wrapped: HttpDeclaration = {
        ...declaration,
        handler: (request, context) =>
          inSpan(
            spanFor(request.method).name,
            {
              kind: SpanKind.SERVER,
              parent: contextOfTraceparent(request.headers.get('traceparent') ?? hostTraceparent(context)),
              attributes: spanFor(request.method).attributes,
              invocation: context,
            },
            async (span) => {
              const response = await handler(request, context);
              span.setAttribute('http.response.status_code', response.status ?? 200);
              return response;
            },
          ),
      };
      return wrapped;
    }
    case 'queue': {
      const { handler, name } = declaration;
      const wrapped: QueueDeclaration = {
        ...declaration,
        handler: (payload, context) => {
          const { message, traceparent } = withoutTraceContext(payload);
          return inSpan(
            `${name} process`,
            {
              kind: SpanKind.CONSUMER,
              parent: traceparent !== undefined ? contextOfTraceparent(traceparent, true) : contextOfTraceparent(hostTraceparent(context)),
              attributes: { 'faas.name': name, 'faas.trigger': 'pubsub' },
              invocation: context,
            },
            async () => {
              try {
                await handler(message, context);
              } catch (error) {
                if (Number(context.triggerMetadata?.dequeueCount ?? 0) >= MAX_DEQUEUE_COUNT) telemetry.poisonMessage(name);
                throw error;
              }
            },
          );
        },
      };
      return wrapped;
    }
    case 'timer': {
      const { handler, name } = declaration;
      const wrapped: TimerDeclaration = {
        ...declaration,
        handler: (timer, context) =>
          inSpan(name, { kind: SpanKind.INTERNAL, attributes: { 'faas.name': name, 'faas.trigger': 'timer' }, invocation: context }, async () => {
            try {
              await handler(timer, context);
              telemetry.timerRun(name, 'succeeded');
            } catch (error) {
              telemetry.timerRun(name, 'failed');
              throw error;
            }
          }),
      };
      return wrapped;
    }
  }
}

function withoutTraceContext(payload: unknown): { message: unknown; traceparent: string | undefined } {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || !('traceparent' in payload))
    return { message: payload, traceparent: undefined };
  const { traceparent, ...message } = payload as Record<string, unknown>;
  return { message, traceparent: typeof traceparent === 'string' ? traceparent : undefined };
}
