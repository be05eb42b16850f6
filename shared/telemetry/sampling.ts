import { isSpanContextValid, ROOT_CONTEXT, trace, TraceFlags, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import { RandomIdGenerator, SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import { CARRIED_BY_GATEHOUSE } from './telemetry.js';

const RECORD: SamplingResult = { decision: SamplingDecision.RECORD_AND_SAMPLED };
const SKIP: SamplingResult = { decision: SamplingDecision.NOT_RECORD };

/**
 * Which traces are recorded (an unrecorded span is a non-recording one: no attributes kept, nothing
 * exported). A trace starts at an HTTP request or a timer run, and whether it is recorded is the
 * decision of `roots`, a per-instance rate limit (TELEMETRY_TRACES_PER_SECOND). A `traceparent` the
 * caller or the host supplies is continued (same trace id) but has no say: neither its sampled flag
 * nor its trace id (which Azure Monitor's sampler hashes) can get a request recorded past the budget.
 * A queue message continues the trace its producer put on it (`CARRIED_BY_GATEHOUSE`) and follows
 * its sampled flag, so a recorded request stays recorded through the audit writer and the
 * notification sender, and an unrecorded one costs them nothing. A local parent is followed too.
 */
export class GatehouseSampler implements Sampler {
  private readonly ids = new RandomIdGenerator();

  constructor(private readonly roots: Sampler) {}

  shouldSample(context: Context, traceId: string, spanName: string, spanKind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const parent = trace.getSpanContext(context);
    if (parent && isSpanContextValid(parent)) {
      if (!parent.isRemote || context.getValue(CARRIED_BY_GATEHOUSE) === true) return parent.traceFlags & TraceFlags.SAMPLED ? RECORD : SKIP;
      return this.roots.shouldSample(ROOT_CONTEXT, this.ids.generateTraceId(), spanName, spanKind, attributes, links);
    }
    return this.roots.shouldSample(ROOT_CONTEXT, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `GatehouseSampler{${this.roots.toString()}}`;
  }
}

/**
 * At most `perSecond` traces a second on average, with bursts of up to a second's worth (at least
 * one): a token bucket, per instance.
 */
export class TokenBucketSampler implements Sampler {
  private readonly capacity: number;
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    if (!(perSecond > 0)) throw new Error('traces per second must be a positive number');
    this.capacity = Math.max(1, perSecond);
    this.tokens = this.capacity;
    this.last = nowMs();
  }

  shouldSample(): SamplingResult {
    const now = this.nowMs();
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
    }
    if (this.tokens < 1) return SKIP;
    this.tokens -= 1;
    return RECORD;
  }

  toString(): string {
    return `TokenBucketSampler{${this.perSecond}/s}`;
  }
}
