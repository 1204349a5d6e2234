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
import { BatchLogRecordProcessor, ConsoleLogRecordExporter, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { Resource } from '@opentelemetry/resources';
import type { AgentConfig } from './env';
import type { AgentLog } from './log';
import { startRuntimeMetrics } from './metrics/runtime';
import { AGENT_VERSION } from './version';

export interface SignalsHandle {
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
}

function otlpOptions(cfg: AgentConfig, url: string): Record<string, unknown> {
  return { url, headers: { ...cfg.otlp.headers }, timeoutMillis: cfg.otlp.timeoutMs, compression: cfg.otlp.compression };
}

function metricExporter(name: string, cfg: AgentConfig): PushMetricExporter {
  if (name === 'console') return new ConsoleMetricExporter();
  const url = cfg.signals.metricsEndpoint;
  if (cfg.otlp.protocol === 'grpc') {
    const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-grpc') as typeof import('@opentelemetry/exporter-metrics-otlp-grpc');
    return new OTLPMetricExporter(otlpOptions(cfg, url));
  }
  if (cfg.otlp.protocol === 'http/json') {
    const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http');
    return new OTLPMetricExporter(otlpOptions(cfg, url));
  }
  const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-proto') as typeof import('@opentelemetry/exporter-metrics-otlp-proto');
  return new OTLPMetricExporter(otlpOptions(cfg, url));
}

function logExporter(name: string, cfg: AgentConfig): LogRecordExporter {
  if (name === 'console') return new ConsoleLogRecordExporter();
  const url = cfg.signals.logsEndpoint;
  if (cfg.otlp.protocol === 'grpc') {
    const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-grpc') as typeof import('@opentelemetry/exporter-logs-otlp-grpc');
    return new OTLPLogExporter(otlpOptions(cfg, url));
  }
  if (cfg.otlp.protocol === 'http/json') {
    const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http') as typeof import('@opentelemetry/exporter-logs-otlp-http');
    return new OTLPLogExporter(otlpOptions(cfg, url));
  }
  const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-proto') as typeof import('@opentelemetry/exporter-logs-otlp-proto');
  return new OTLPLogExporter(otlpOptions(cfg, url));
}

export function startSignals(cfg: AgentConfig, resource: Resource, log: AgentLog): SignalsHandle {
  const parts: { shutdown(): Promise<void>; forceFlush(): Promise<void> }[] = [];
  if (cfg.metricsExporters.length) {
    const readers = cfg.metricsExporters.map(
      (n) =>
        new PeriodicExportingMetricReader({
          exporter: metricExporter(n, cfg),
          exportIntervalMillis: cfg.signals.metricIntervalMs,
          exportTimeoutMillis: Math.min(cfg.signals.metricIntervalMs, cfg.otlp.timeoutMs),
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
    const lp = new LoggerProvider({ resource, processors: cfg.logsExporters.map((n) => new BatchLogRecordProcessor({ exporter: logExporter(n, cfg) })) });
    if (!logs.setGlobalLoggerProvider(lp)) log.warn('another OpenTelemetry SDK registered a global logger provider first; OTEL_LOGS_EXPORTER is ignored');
    parts.push(lp);
  }
  return {
    shutdown: async () => {
      await Promise.all(parts.map((p) => p.shutdown().catch(() => undefined)));
    },
    forceFlush: async () => {
      await Promise.all(parts.map((p) => p.forceFlush().catch(() => undefined)));
    },
  };
}
