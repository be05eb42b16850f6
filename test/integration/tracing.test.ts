import { AlwaysOnSampler, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTelemetry } from '../../shared/telemetry/setup.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { createPat } from '../helpers/http.js';
import { deliverAuditQueue, drainQueueTexts } from '../helpers/queues.js';
import { settleBackgroundWork } from '../../shared/runtime/background.js';
import { QUEUES, TABLES } from '../../shared/storage/names.js';
import { listOutboxRows } from '../../shared/audit/outbox.js';
import { auditEventSchema } from '../../shared/audit/events.js';
import { patPartitionOf } from '../../shared/tokens/repository.js';

/** The SDK as setup.ts registers it, with in-memory exporters instead of Application Insights, recording every trace. */
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const { meterProvider } = registerTelemetry({
  sampler: new AlwaysOnSampler(),
  spanProcessors: [new SimpleSpanProcessor(spans)],
  metricReaders: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })],
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

async function metricPoints(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]> {
  await meterProvider.forceFlush();
  const last = metricExporter.getMetrics().at(-1);
  const metric = last?.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((point) => ({ attributes: point.attributes, value: point.value }));
}

const sumOf = (points: { value: unknown }[]) => points.reduce((sum, point) => sum + (typeof point.value === 'number' ? point.value : 0), 0);

describe('tracing and metrics', () => {
  it('follows one PAT create from the HTTP request through the outbox and the queue to the stored audit row', async () => {
    spans.reset();
    const pat = await createPat(env, { token: await env.userToken('alice@contoso.com') }, { displayName: 'traced' });
    const [outboxRow] = await listOutboxRows(env.app, TABLES.pats, patPartitionOf(pat.authorizationId));
    const texts: string[] = [];
    const stored = await deliverAuditQueue(env, texts);
    const event = stored.find((e) => e.actionId === 'Token.PatCreateEvent' && e.data.AuthorizationId === pat.authorizationId);
    expect(event).toBeDefined();

    const finished = spans.getFinishedSpans();
    const request = finished.find((span) => span.name === 'POST /{organization}/_apis/tokens/pats');
    expect(request, finished.map((span) => span.name).join(', ')).toBeDefined();
    expect(request!.attributes['http.response.status_code']).toBe(200);
    const traceId = request!.spanContext().traceId;

    // The queue message carried the request's W3C trace context.
    const message = texts.map((text) => JSON.parse(text) as { id: string; traceparent?: string }).find((m) => m.id === event!.id);
    expect(message?.traceparent).toBe(`00-${traceId}-${request!.spanContext().spanId}-01`);
    // So did the outbox row; the event itself does not carry it (the strict schema holds without it).
    expect(outboxRow?.traceparent).toBe(message?.traceparent);
    const { traceparent: _traceparent, delivery: _delivery, ...eventFields } = message as Record<string, unknown>;
    expect(auditEventSchema.strict().safeParse(eventFields).success).toBe(true);

    // The writer's span continues that trace and names the event it stored.
    const writer = finished.find((span: ReadableSpan) => span.name === 'audit-writer process' && span.attributes['gatehouse.audit.event_id'] === event!.id);
    expect(writer).toBeDefined();
    expect(writer!.spanContext().traceId).toBe(traceId);
    expect(writer!.parentSpanContext?.spanId).toBe(request!.spanContext().spanId);
    expect(writer!.attributes['gatehouse.audit.outcome']).toBe('written');

    // No secret reached telemetry.
    expect(JSON.stringify(finished.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })))).not.toContain(pat.token);
  });

  it('follows a leak report from the HTTP request through the notification queue to the sender', async () => {
    const pat = await createPat(env, { token: await env.userToken('bob@contoso.com') }, { displayName: 'leaked' });
    await deliverAuditQueue(env);
    spans.reset();
    const reported = await api.post('/_apis/tokens/leaks', { tokens: [pat.token] }, { headers: { 'x-forwarded-for': '192.0.2.77' } });
    expect(reported.status).toBe(202);
    await settleBackgroundWork(env.app);
    const request = spans.getFinishedSpans().find((span) => span.name === 'POST /_apis/tokens/leaks');
    expect(request).toBeDefined();
    const texts = await drainQueueTexts(env, QUEUES.notifications);
    const messages = texts.map((text) => JSON.parse(text) as { traceparent?: string });
    expect(messages.length).toBeGreaterThan(0);
    for (const message of messages) {
      expect(message.traceparent?.split('-')[1]).toBe(request!.spanContext().traceId);
      await env.runtime.invoke('notification-sender', message);
    }
    const sender = spans.getFinishedSpans().filter((span) => span.name === 'notification-sender process');
    expect(sender.length).toBe(messages.length);
    for (const span of sender) expect(span.spanContext().traceId).toBe(request!.spanContext().traceId);
    expect(JSON.stringify(spans.getFinishedSpans().map((span) => span.attributes))).not.toContain(pat.token);
    // The leak's audit events (discovery, revocation) continue the request's trace too.
    const auditTexts: string[] = [];
    const stored = await deliverAuditQueue(env, auditTexts);
    const discovery = stored.find((e) => e.actionId === 'Token.PatPublicDiscoveryEvent' && e.data.AuthorizationId === pat.authorizationId);
    const discoveryMessage = auditTexts.map((text) => JSON.parse(text) as { id: string; traceparent?: string }).find((m) => m.id === discovery?.id);
    expect(discoveryMessage?.traceparent?.split('-')[1]).toBe(request!.spanContext().traceId);
  });

  it('counts authentications by outcome, tokens created and revoked, audit lag and poison messages', async () => {
    const revokedPats = async () => sumOf((await metricPoints('gatehouse.tokens.revoked')).filter((p) => p.attributes.kind === 'pat'));
    const revokedBefore = await revokedPats();
    const poisonBefore = sumOf(await metricPoints('gatehouse.queue.poison'));
    const alice = await env.userToken('alice@contoso.com');
    const pat = await createPat(env, { token: alice }, { displayName: 'counted' });
    expect((await api.as(pat.token).get('/contoso/_apis/connectionData')).status).toBe(200);
    expect((await api.as(alice).delete(`/contoso/_apis/tokens/pats?api-version=7.1-preview.1&authorizationId=${pat.authorizationId}`)).status).toBe(204);
    expect((await api.as(pat.token).get('/contoso/_apis/connectionData')).status).toBe(401);
    await deliverAuditQueue(env);
    await env.runtime.invoke('audit-writer', 'not an audit event');

    const authentications = await metricPoints('gatehouse.authentications');
    expect(sumOf(authentications.filter((p) => p.attributes.outcome === 'ok'))).toBeGreaterThanOrEqual(1);
    expect(sumOf(authentications.filter((p) => p.attributes.outcome === 'revoked'))).toBeGreaterThanOrEqual(1);
    expect(sumOf((await metricPoints('gatehouse.tokens.created')).filter((p) => p.attributes.kind === 'pat'))).toBeGreaterThanOrEqual(2);
    expect((await revokedPats()) - revokedBefore).toBe(1);
    const lag = await metricPoints('gatehouse.audit.lag');
    expect((lag[0]?.value as { count: number } | undefined)?.count ?? 0).toBeGreaterThanOrEqual(2);
    expect(sumOf(await metricPoints('gatehouse.queue.poison')) - poisonBefore).toBe(1);
  });
});
