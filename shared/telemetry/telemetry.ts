import {
  context,
  isSpanContextValid,
  metrics,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type ObservableCounter,
  type Span,
  type Tracer,
} from '@opentelemetry/api';

/**
 * Traces and metrics through the OpenTelemetry API only. Without an SDK (shared/telemetry/setup.ts,
 * loaded only when an exporter is configured) every call here is a no-op costing a function call.
 *
 * What goes into telemetry: function names, route templates, status codes, outcomes, ids of audit
 * events and actions. Never a header value, a query string, a body or a token: nothing a caller
 * sends is copied into an attribute.
 */
export { SpanKind };

// One tracer for the process: the API's proxy finds the SDK's once the SDK is registered.
let gatehouseTracer: Tracer | undefined;
const tracer = () => (gatehouseTracer ??= trace.getTracer('gatehouse'));

/** Runs `work` in a span (a child of `parent`, else of the active span); ends it, marks failures. */
export function inSpan<T>(name: string, options: { kind?: SpanKind; attributes?: Attributes; parent?: Context }, work: (span: Span) => Promise<T>): Promise<T> {
  const spanOptions = { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) };
  return tracer().startActiveSpan(name, spanOptions, options.parent ?? context.active(), async (span) => {
    try {
      return await work(span);
    } catch (error) {
      // The error's class only: messages may quote input.
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Attributes for the span of the current invocation (e.g. the audit event it stored). */
export function annotateSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The W3C `traceparent` of the active span, to carry in a queue message or an outbox row. */
export function currentTraceparent(): string | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  return `00-${spanContext.traceId}-${spanContext.spanId}-${spanContext.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** The context a W3C `traceparent` names (a remote parent); the root context when it is absent or malformed. */
export function contextOfTraceparent(value: unknown): Context {
  const match = typeof value === 'string' ? TRACEPARENT.exec(value.trim().toLowerCase()) : null;
  if (!match) return ROOT_CONTEXT;
  // The pattern has all three groups; an empty id would only fail the validity check below.
  const [, traceId = '', spanId = '', flags = '0'] = match;
  const spanContext = { traceId, spanId, traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
  return isSpanContextValid(spanContext) ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : ROOT_CONTEXT;
}

// ---- metrics --------------------------------------------------------------------------------------

interface Instruments {
  authentications: ObservableCounter;
  tokensCreated: Counter;
  tokensRevoked: Counter;
  auditLag: Histogram;
  poisonMessages: Counter;
  timerRuns: Counter;
}

let instruments: Instruments | undefined;

function instrumentsOf(): Instruments {
  if (instruments) return instruments;
  const meter = metrics.getMeter('gatehouse');
  instruments = {
    authentications: meter.createObservableCounter('gatehouse.authentications', { description: 'PAT authentications by outcome (ok or the refusal)' }),
    tokensCreated: meter.createCounter('gatehouse.tokens.created', { description: 'PATs and SSH keys created (from stored audit events)' }),
    tokensRevoked: meter.createCounter('gatehouse.tokens.revoked', { description: 'PATs and SSH keys revoked (from stored audit events)' }),
    auditLag: meter.createHistogram('gatehouse.audit.lag', { description: 'From an audit event’s commit to its storage in the audit log', unit: 'ms' }),
    poisonMessages: meter.createCounter('gatehouse.queue.poison', { description: 'Queue messages given up on (moved to the poison queue)' }),
    timerRuns: meter.createCounter('gatehouse.timer.runs', { description: 'Timer function runs by outcome' }),
  };
  instruments.authentications.addCallback((result) => {
    for (const [outcome, count] of authenticationCounts) result.observe(count, { outcome });
  });
  return instruments;
}

/**
 * Authentications happen on nearly every request: they are counted here and read by the SDK when it
 * collects (an observable counter), instead of a synchronous counter that hashes its attributes on
 * every add. The outcomes are a handful of fixed names.
 */
const authenticationCounts = new Map<string, number>();

/** Instruments and the tracer made before the SDK was registered are no-ops: the setup drops them to be made again. */
export function resetInstruments(): void {
  instruments = undefined;
  gatehouseTracer = undefined;
}

export const telemetry = {
  authentication: (outcome: string) => {
    instrumentsOf();
    authenticationCounts.set(outcome, (authenticationCounts.get(outcome) ?? 0) + 1);
  },
  tokenCreated: (kind: 'pat' | 'sshKey') => instrumentsOf().tokensCreated.add(1, { kind }),
  tokenRevoked: (kind: 'pat' | 'sshKey') => instrumentsOf().tokensRevoked.add(1, { kind }),
  auditLag: (ms: number) => instrumentsOf().auditLag.record(Math.max(0, ms)),
  poisonMessage: (queueFunction: string) => instrumentsOf().poisonMessages.add(1, { function: queueFunction }),
  timerRun: (timerFunction: string, outcome: 'succeeded' | 'failed') => instrumentsOf().timerRuns.add(1, { function: timerFunction, outcome }),
};
