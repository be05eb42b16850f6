import type { InvocationContext } from '@azure/functions';
import {
  createContextKey,
  INVALID_SPAN_CONTEXT,
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
 * Trace context travels explicitly, never through an async context (AsyncLocalStorage puts a hook on
 * every promise a request makes): the span of an invocation is found from its InvocationContext
 * (`traceparentOf`, `annotateInvocation`), and whatever a request leaves for later (an outbox row, a
 * queue message) carries its W3C `traceparent` as a value, handed on by the audit context.
 *
 * What goes into telemetry: function names, route templates, status codes, outcomes, ids of audit
 * events and actions. Never a header value, a query string, a body or a token: nothing a caller
 * sends is copied into an attribute.
 */
export { SpanKind };

// One tracer for the process: the API's proxy finds the SDK's once the SDK is registered.
let gatehouseTracer: Tracer | undefined;
const tracer = () => (gatehouseTracer ??= trace.getTracer('gatehouse'));

/** Whether an SDK is registered: until then no span is started, not even a no-op one. */
let tracing = false;
const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** The span of each running invocation (HTTP request, queue message, timer run). */
const invocationSpans = new WeakMap<InvocationContext, Span>();

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  /** The parent (a remote one from a `traceparent`); without it the span starts a trace. */
  readonly parent?: Context;
  /** The invocation whose span this is, for `traceparentOf` and `annotateInvocation`. */
  readonly invocation?: InvocationContext;
}

/** Runs `work` in a span with an explicit parent; ends it, marks failures. Nothing is made active. */
export async function inSpan<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  if (!tracing) return work(NO_SPAN);
  const spanOptions = { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) };
  const span = tracer().startSpan(name, spanOptions, options.parent ?? ROOT_CONTEXT);
  if (options.invocation) invocationSpans.set(options.invocation, span);
  try {
    return await work(span);
  } catch (error) {
    // The error's class only: messages may quote input.
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
    throw error;
  } finally {
    span.end();
  }
}

/** Attributes for the span of an invocation (e.g. the audit event the writer stored). */
export function annotateInvocation(invocation: InvocationContext, attributes: Attributes): void {
  invocationSpans.get(invocation)?.setAttributes(attributes);
}

/**
 * The W3C `traceparent` of an invocation's span, to carry in a queue message or an outbox row (an
 * unsampled span's too, so the consumer does not record what its producer left out); undefined
 * while tracing is off.
 */
export function traceparentOf(invocation: InvocationContext): string | undefined {
  const spanContext = invocationSpans.get(invocation)?.spanContext();
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  return `00-${spanContext.traceId}-${spanContext.spanId}-${spanContext.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Marks a parent context whose `traceparent` Gatehouse itself put on a queue message: its sampled
 * flag is followed (shared/telemetry/sampling.ts), unlike one a caller or the host supplies.
 */
export const CARRIED_BY_GATEHOUSE = createContextKey('gatehouse.traceparent.carried');

/**
 * The context a W3C `traceparent` names (a remote parent); the root context when it is absent or
 * malformed. `carried`: the value came from a message Gatehouse made.
 */
export function contextOfTraceparent(value: unknown, carried = false): Context {
  const match = typeof value === 'string' ? TRACEPARENT.exec(value.trim().toLowerCase()) : null;
  if (!match) return ROOT_CONTEXT;
  // The pattern has all three groups; an empty id would only fail the validity check below.
  const [, traceId = '', spanId = '', flags = '0'] = match;
  const spanContext = { traceId, spanId, traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
  if (!isSpanContextValid(spanContext)) return ROOT_CONTEXT;
  const parent = trace.setSpanContext(ROOT_CONTEXT, spanContext);
  return carried ? parent.setValue(CARRIED_BY_GATEHOUSE, true) : parent;
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

/**
 * Called when the SDK is registered: instruments and the tracer made before were no-ops, so they are
 * made again, and spans start from now on.
 */
export function useRegisteredSdk(): void {
  instruments = undefined;
  gatehouseTracer = undefined;
  tracing = true;
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
