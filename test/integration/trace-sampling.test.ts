import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseSampler, TokenBucketSampler } from '../../shared/telemetry/sampling.js';
import { registerTelemetry } from '../../shared/telemetry/setup.js';
import { client } from '../helpers/client.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { createPat } from '../helpers/http.js';
import { deliverAuditQueue } from '../helpers/queues.js';

/** The SDK with the production sampler at 3 traces a second, on a clock the test moves (no refill meanwhile). */
const BUDGET = 3;
let nowMs = 0;
const spans = new InMemorySpanExporter();
const { meterProvider } = registerTelemetry({
  sampler: new GatehouseSampler(new TokenBucketSampler(BUDGET, () => nowMs)),
  spanProcessors: [new SimpleSpanProcessor(spans)],
  metricReaders: [],
});

let env: TestEnvironment;
const api = client(() => env);
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.stop();
  await meterProvider.shutdown();
});

const traceIdOf = (traceparent: string | undefined) => traceparent?.split('-')[1];

describe('trace sampling', () => {
  it('records at most the budget of a burst, whatever callers ask, and the queue work of recorded requests only', async () => {
    const alice = await env.userToken('alice@contoso.com');
    const pat = await createPat(env, { token: alice }, { displayName: 'sampled' });
    // Its first use records the client's address (an audit event), so the burst below makes none.
    expect((await api.as(pat.token).get('/contoso/_apis/connectionData')).status).toBe(200);
    await deliverAuditQueue(env);

    nowMs += 10_000;
    spans.reset();
    const recordedCreate = await createPat(env, { token: alice }, { displayName: 'recorded' });
    const burst = await Promise.all(Array.from({ length: 50 }, () => api.as(pat.token).get('/contoso/_apis/connectionData')));
    expect(burst.every((reply) => reply.status === 200)).toBe(true);
    const served = spans.getFinishedSpans().filter((span) => span.name === 'GET /{organization}/_apis/connectionData');
    expect(served.length).toBe(BUDGET - 1);

    // The budget is spent: a caller's sampled flag does not get its request recorded.
    const callerTraceId = '0af7651916cd43dd8448eb211c80319c';
    const forced = await api.as(pat.token).get('/contoso/_apis/connectionData', { headers: { traceparent: `00-${callerTraceId}-b7ad6b7169203331-01` } });
    expect(forced.status).toBe(200);
    const unrecordedCreate = await createPat(env, { token: alice }, { displayName: 'unrecorded' });
    expect(spans.getFinishedSpans().filter((span) => span.name.startsWith('POST ')).length).toBe(1);

    // The writer follows each message's producer: the recorded request's event is traced, the other's not.
    const texts: string[] = [];
    const stored = await deliverAuditQueue(env, texts);
    const messageOf = (authorizationId: string) => {
      const event = stored.find((e) => e.actionId === 'Token.PatCreateEvent' && e.data.AuthorizationId === authorizationId);
      return texts.map((text) => JSON.parse(text) as { id: string; traceparent?: string }).find((message) => message.id === event?.id);
    };
    const recordedMessage = messageOf(recordedCreate.authorizationId);
    const unrecordedMessage = messageOf(unrecordedCreate.authorizationId);
    expect(recordedMessage?.traceparent).toMatch(/-01$/);
    expect(unrecordedMessage?.traceparent).toMatch(/-00$/);
    const writers = spans.getFinishedSpans().filter((span) => span.name === 'audit-writer process');
    expect(writers.map((span) => span.attributes['gatehouse.audit.event_id'])).toEqual([recordedMessage?.id]);
    expect(writers[0]?.spanContext().traceId).toBe(traceIdOf(recordedMessage?.traceparent));
    expect(spans.getFinishedSpans().some((span) => [callerTraceId, traceIdOf(unrecordedMessage?.traceparent)].includes(span.spanContext().traceId))).toBe(
      false,
    );
  });
});
