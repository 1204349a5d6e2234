/**
 * Metrics and logs pipelines. This agent is about traces: these are set up
 * only when OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER name an exporter, and
 * this file (with the SDK parts it bundles) is loaded only then.
 *
 * With metrics on, the instrumentations' own metrics (e.g. http.server.request.duration)
 * and the Node.js runtime metrics (metrics/runtime.ts) are exported; with logs on, pino/winston/bunyan records are sent as OTLP logs
 * in addition to being correlated.
 */
// The logs API lives in @opentelemetry/api since 1.10, which is where the log
// instrumentations look for the global logger provider.
import { logs, metrics } from '@opentelemetry/api';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BatchLogRecordProcessor, ConsoleLogRecordExporter, LoggerProvider, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { Resource } from '@opentelemetry/resources';
import type { AgentConfig, OtlpConfig } from './env';
import { OtlpHttpLogExporter, OtlpHttpMetricExporter, SignalReport, reported, temporalitySelector } from './exporters/otlp-signal';
import { describeUrl, readTls } from './exporters/transport';
import type { AgentLog } from './log';
import { startRuntimeMetrics } from './metrics/runtime';
import { LogRedactingProcessor } from './logs-redact';
import { AGENT_VERSION } from './version';

export interface SignalsHandle {
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
  /** The loop drained: one last export of everything, each bounded by OTEL_AGENT_FLUSH_TIMEOUT. */
  exitFlush(): Promise<void>;
  /** Log records still waiting in the batch processors (for the exit flush of exit.ts). */
  pending(): number;
  /** process.exit() or a signal: the waiting log records, sent synchronously (metrics cannot be: the SDK collects asynchronously). */
  flushSync(timeoutMs: number): void;
}

/** The batch processor's queue (sdk-logs 3.x keeps it in `_finishedLogRecords`); taken at exit, when nothing else will send it. */
type Queued = { _finishedLogRecords?: ReadableLogRecord[] };
const queued = (p: BatchLogRecordProcessor): ReadableLogRecord[] | undefined => {
  const q = (p as unknown as Queued)._finishedLogRecords;
  return Array.isArray(q) ? q : undefined;
};

interface Exiting {
  exit?(): void;
}

/** Every setting handed to the upstream gRPC exporter explicitly, so its own reading of the environment changes nothing. */
function grpcOptions(o: OtlpConfig): Record<string, unknown> {
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(o.headers)) metadata.set(k, v);
  const tls = readTls(o);
  const credentials = o.endpoint.startsWith('https:')
    ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
    : grpc.credentials.createInsecure();
  return { url: o.endpoint, metadata, credentials, timeoutMillis: o.timeoutMs, compression: o.compression };
}

function metricExporter(name: string, cfg: AgentConfig, log: AgentLog): PushMetricExporter {
  const temporality = cfg.signals.temporality;
  if (name === 'console') return new ConsoleMetricExporter({ temporalitySelector: temporalitySelector(temporality) });
  const o = cfg.signals.metricsOtlp!;
  if (o.protocol !== 'grpc') return new OtlpHttpMetricExporter(o, temporality, log, cfg.agent.flushTimeoutMs);
  const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-grpc') as typeof import('@opentelemetry/exporter-metrics-otlp-grpc');
  const { AggregationTemporalityPreference: P } =
    require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http');
  const temporalityPreference = temporality === 'delta' ? P.DELTA : temporality === 'lowmemory' ? P.LOWMEMORY : P.CUMULATIVE;
  return reported(
    new OTLPMetricExporter({ ...grpcOptions(o), temporalityPreference }),
    new SignalReport('metrics', `OTLP grpc ${describeUrl(o.endpoint)}`, log),
  );
}

function logExporter(name: string, cfg: AgentConfig, log: AgentLog): LogRecordExporter {
  if (name === 'console') return new ConsoleLogRecordExporter();
  const o = cfg.signals.logsOtlp!;
  if (o.protocol !== 'grpc') return new OtlpHttpLogExporter(o, log, cfg.agent.flushTimeoutMs);
  const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-grpc') as typeof import('@opentelemetry/exporter-logs-otlp-grpc');
  return reported(new OTLPLogExporter(grpcOptions(o)), new SignalReport('logs', `OTLP grpc ${describeUrl(o.endpoint)}`, log));
}

export function startSignals(cfg: AgentConfig, resource: Resource, log: AgentLog): SignalsHandle {
  const parts: { shutdown(): Promise<void>; forceFlush(): Promise<void> }[] = [];
  const exporters: Exiting[] = [];
  const atExit: { processor: BatchLogRecordProcessor; exporter: OtlpHttpLogExporter }[] = [];
  const keep = <E extends object>(e: E): E => (exporters.push(e as Exiting), e);
  if (cfg.metricsExporters.length) {
    const readers = cfg.metricsExporters.map(
      (n) =>
        new PeriodicExportingMetricReader({
          exporter: keep(metricExporter(n, cfg, log)),
          exportIntervalMillis: cfg.signals.metricIntervalMs,
          exportTimeoutMillis: cfg.signals.metricTimeoutMs,
        }),
    );
    const mp = new MeterProvider({ resource, readers });
    if (!metrics.setGlobalMeterProvider(mp)) log.warn('another OpenTelemetry SDK registered a global meter provider first; OTEL_METRICS_EXPORTER is ignored');
    else if (cfg.agent.runtimeMetrics) {
      try {
        const runtime = startRuntimeMetrics(mp.getMeter('@x/otel-agent/runtime', AGENT_VERSION));
        parts.push({ shutdown: async () => runtime.stop(), forceFlush: async () => undefined });
      } catch (e) {
        log.warn(`runtime metrics could not start (${e instanceof Error ? e.message : String(e)}); the other metrics go on`);
      }
    }
    parts.push(mp);
  }
  if (cfg.logsExporters.length) {
    const b = cfg.signals.blrp;
    const lp = new LoggerProvider({
      resource,
      logRecordLimits: cfg.signals.logLimits,
      // Redaction first: the batch processors keep the record as it is when they see it.
      processors: [
        new LogRedactingProcessor(),
        ...cfg.logsExporters.map((n) => {
          const exporter = keep(logExporter(n, cfg, log));
          const processor = new BatchLogRecordProcessor({
            exporter,
            scheduledDelayMillis: b.scheduleDelayMs,
            exportTimeoutMillis: b.exportTimeoutMs,
            maxQueueSize: b.maxQueueSize,
            maxExportBatchSize: b.maxExportBatchSize,
          });
          if (exporter instanceof OtlpHttpLogExporter) atExit.push({ processor, exporter });
          return processor;
        }),
      ],
    });
    if (!logs.setGlobalLoggerProvider(lp)) log.warn('another OpenTelemetry SDK registered a global logger provider first; OTEL_LOGS_EXPORTER is ignored');
    else {
      // @opentelemetry/winston-transport (what instrumentation-winston sends through) still asks the
      // older @opentelemetry/api-logs package, whose global is a slot of its own: the same provider goes there too.
      const { logs: apiLogs } = require('@opentelemetry/api-logs') as typeof import('@opentelemetry/api-logs');
      apiLogs.setGlobalLoggerProvider(lp as unknown as Parameters<typeof apiLogs.setGlobalLoggerProvider>[0]);
    }
    parts.push(lp);
  }
  return {
    shutdown: async () => {
      await Promise.all(parts.map((p) => p.shutdown().catch(() => undefined)));
    },
    forceFlush: async () => {
      await Promise.all(parts.map((p) => p.forceFlush().catch(() => undefined)));
    },
    pending: () => atExit.reduce((n, x) => n + (queued(x.processor)?.length ?? 0), 0),
    flushSync: (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (const x of atExit) {
        const q = queued(x.processor);
        if (!q?.length) continue;
        const records = q.splice(0, q.length);
        x.exporter.exportSync(records, Math.max(1, deadline - Date.now()));
      }
    },
    exitFlush: async () => {
      for (const e of exporters) e.exit?.();
      await Promise.all(parts.map((p) => p.forceFlush().catch(() => undefined)));
    },
  };
}
