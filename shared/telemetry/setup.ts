import { metrics, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { DEFAULT_TRACES_PER_SECOND, type TelemetrySettings } from '../config.js';
import type { Logger } from '../logging.js';
import { GatehouseSampler, TokenBucketSampler } from './sampling.js';
import { useRegisteredSdk } from './telemetry.js';

/**
 * The OpenTelemetry SDK, loaded (a lazy chunk) only when an exporter is configured:
 * - Azure: the Azure Monitor exporters (`@azure/monitor-opentelemetry-exporter`) to the Application
 *   Insights of the templates, with the managed identity (AZURE_CLIENT_ID). No automatic
 *   instrumentation: it would record URLs (query strings) and log lines; Gatehouse's own spans cover
 *   every invocation.
 * - OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces`, `/v1/metrics`).
 * - The console (TELEMETRY_CONSOLE=true), for local development.
 *
 * At most TELEMETRY_TRACES_PER_SECOND traces start per instance (shared/telemetry/sampling.ts). For
 * Azure Monitor the decision is the exporter's `RateLimitedSampler` (what the Azure Monitor distro
 * uses by default): it puts the sample rate on each span it keeps, so Application Insights scales its
 * counts; elsewhere a token bucket.
 */
export async function setUpTelemetry(settings: TelemetrySettings, log: Logger): Promise<void> {
  switch (settings.exporter) {
    case 'off':
      return;
    case 'azureMonitor': {
      const [{ AzureMonitorMetricExporter, AzureMonitorTraceExporter, RateLimitedSampler }, { ManagedIdentityCredential }] = await Promise.all([
        import('@azure/monitor-opentelemetry-exporter'),
        import('@azure/identity'),
      ]);
      const clientId = settings.managedIdentityClientId;
      const options = {
        connectionString: settings.applicationInsightsConnectionString,
        ...(clientId ? { credential: new ManagedIdentityCredential({ clientId }) } : {}),
      };
      registerTelemetry({
        sampler: new GatehouseSampler(new RateLimitedSampler(settings.tracesPerSecond)),
        spanProcessors: [new BatchSpanProcessor(new AzureMonitorTraceExporter(options))],
        metricReaders: [new PeriodicExportingMetricReader({ exporter: new AzureMonitorMetricExporter(options), exportIntervalMillis: 60_000 })],
      });
      break;
    }
    case 'otlp': {
      const [{ OTLPTraceExporter }, { OTLPMetricExporter }] = await Promise.all([
        import('@opentelemetry/exporter-trace-otlp-http'),
        import('@opentelemetry/exporter-metrics-otlp-http'),
      ]);
      const base = (settings.otlpEndpoint ?? '').replace(/\/+$/, '');
      registerTelemetry({
        sampler: new GatehouseSampler(new TokenBucketSampler(settings.tracesPerSecond)),
        spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))],
        metricReaders: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: 15_000 })],
      });
      break;
    }
    case 'console':
      registerTelemetry({
        sampler: new GatehouseSampler(new TokenBucketSampler(settings.tracesPerSecond)),
        spanProcessors: [new BatchSpanProcessor(new ConsoleSpanExporter())],
        metricReaders: [new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 60_000 })],
      });
      break;
  }
  log.info('telemetry on', { exporter: settings.exporter, tracesPerSecond: settings.tracesPerSecond });
}

/**
 * Registers the SDK globally with these processors and readers (also how tests read spans and
 * metrics). `sampler` decides which traces are recorded: by default at most
 * DEFAULT_TRACES_PER_SECOND a second; tests that follow every trace pass an AlwaysOnSampler. No
 * context manager is registered: trace context is passed explicitly (shared/telemetry/telemetry.ts).
 */
export function registerTelemetry(options: { spanProcessors: SpanProcessor[]; metricReaders: MetricReader[]; sampler?: Sampler }): {
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
} {
  const sampler = options.sampler ?? new GatehouseSampler(new TokenBucketSampler(DEFAULT_TRACES_PER_SECOND));
  const tracerProvider = new BasicTracerProvider({ sampler, spanProcessors: options.spanProcessors });
  trace.setGlobalTracerProvider(tracerProvider);
  const meterProvider = new MeterProvider({ readers: options.metricReaders });
  metrics.setGlobalMeterProvider(meterProvider);
  useRegisteredSdk();
  return { tracerProvider, meterProvider };
}

export type { SpanExporter };
