import { ROOT_CONTEXT, SpanKind, type Context } from '@opentelemetry/api';
import { RateLimitedSampler } from '@azure/monitor-opentelemetry-exporter';
import { BasicTracerProvider, InMemorySpanExporter, SamplingDecision, SimpleSpanProcessor, type Sampler } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { GatehouseSampler, TokenBucketSampler } from '../../shared/telemetry/sampling.js';
import { contextOfTraceparent } from '../../shared/telemetry/telemetry.js';

/** A tracer with its own provider (not the global one) and a clock the test moves. */
function tracerWith(perSecond: number) {
  let now = 0;
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler: new GatehouseSampler(new TokenBucketSampler(perSecond, () => now)),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('test');
  /** Starts and ends a span; answers whether it was recorded, and its context. */
  const start = (kind: SpanKind, parent: Context = ROOT_CONTEXT) => {
    const span = tracer.startSpan('work', { kind }, parent);
    const recording = span.isRecording();
    span.end();
    return { recording, traceId: span.spanContext().traceId };
  };
  return { start, advance: (ms: number) => (now += ms), recorded: () => exporter.getFinishedSpans() };
}

const callerTraceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('trace sampling', () => {
  it('records at most the budget of a burst of requests, and refills with time', () => {
    const { start, advance, recorded } = tracerWith(5);
    const burst = Array.from({ length: 50 }, () => start(SpanKind.SERVER));
    expect(burst.filter((span) => span.recording).length).toBe(5);
    expect(recorded().length).toBe(5);
    advance(400);
    expect(Array.from({ length: 10 }, () => start(SpanKind.SERVER)).filter((span) => span.recording).length).toBe(2);
    advance(60_000);
    // Never more than a second's worth at once, however long the bucket was idle.
    expect(Array.from({ length: 50 }, () => start(SpanKind.INTERNAL)).filter((span) => span.recording).length).toBe(5);
  });

  it("gives a caller's sampled flag no say, but follows the flag of a traceparent Gatehouse put on a message", () => {
    const { start, advance } = tracerWith(1);
    expect(start(SpanKind.SERVER).recording).toBe(true);
    // The budget is spent: a caller asking for sampling is not recorded, yet continues its trace.
    const forced = start(SpanKind.SERVER, contextOfTraceparent(callerTraceparent));
    expect(forced.recording).toBe(false);
    expect(forced.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    // A message from a recorded request is recorded, one from an unrecorded request is not, budget or no budget.
    expect(start(SpanKind.CONSUMER, contextOfTraceparent(callerTraceparent, true)).recording).toBe(true);
    advance(10_000);
    expect(start(SpanKind.CONSUMER, contextOfTraceparent(callerTraceparent.replace(/01$/, '00'), true)).recording).toBe(false);
    // The budget the unrecorded message did not spend is still there; a caller's unsampled flag does not refuse it.
    expect(start(SpanKind.SERVER, contextOfTraceparent(callerTraceparent.replace(/01$/, '00'))).recording).toBe(true);
  });

  it("decides a caller's trace on a trace id the caller did not choose (Azure Monitor's sampler hashes it)", () => {
    const seen: { context: Context; traceId: string }[] = [];
    const roots: Sampler = {
      shouldSample: (context, traceId) => {
        seen.push({ context, traceId });
        return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      },
    };
    const sampler = new GatehouseSampler(roots);
    sampler.shouldSample(contextOfTraceparent(callerTraceparent), '0af7651916cd43dd8448eb211c80319c', 'GET /', SpanKind.SERVER, {}, []);
    sampler.shouldSample(ROOT_CONTEXT, '4bf92f3577b34da6a3ce929d0e0e4736', 'GET /', SpanKind.SERVER, {}, []);
    expect(seen[0]?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(seen[0]?.traceId).not.toBe('0af7651916cd43dd8448eb211c80319c');
    expect(seen[0]?.context).toBe(ROOT_CONTEXT);
    expect(seen[1]?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it("with Azure Monitor's rate-limited sampler, limits a burst and marks the sample rate Application Insights scales by", () => {
    const sampler = new GatehouseSampler(new RateLimitedSampler(5));
    const results = Array.from({ length: 1000 }, (_, i) =>
      sampler.shouldSample(contextOfTraceparent(callerTraceparent), callerTraceparent.slice(3, 35), 'GET /', SpanKind.SERVER, { n: i }, []),
    );
    const recorded = results.filter((result) => result.decision === SamplingDecision.RECORD_AND_SAMPLED).length;
    expect(recorded).toBeLessThan(100);
    const rated = results.filter((result) => {
      const rate = result.attributes?.['microsoft.sample_rate'];
      return typeof rate === 'number' && rate > 0 && rate < 100;
    });
    expect(rated.length).toBeGreaterThan(990);
  });
});
