/**
 * The agent's configuration: the one place that touches `process.env`. The
 * variables are read and validated by src/config/read.ts from the spec in
 * src/config/spec.ts; this file only assembles them into the frozen AgentConfig
 * the rest of the agent uses, with the rules that join several variables (URLs
 * built from a base endpoint, a batch no larger than the queue). Components take
 * options from that object and never look at the environment themselves.
 */
import type { AgentConfig, OtlpConfig, PropagatorName, TracesExporterName } from '../env';
import { headerProblem } from './export-headers';
import { Reader, type Env } from './read';

export function loadConfig(env: Env = process.env): AgentConfig {
  const r = new Reader(env);
  const v = r.readAll();

  const protocol = v.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL;
  const base = v.OTEL_EXPORTER_OTLP_ENDPOINT;
  // A signal-specific URL is used as is; otherwise the signal's path goes on the base URL (gRPC: the base URL itself).
  const signalUrl = (specific: string | undefined, path: string): string => {
    if (specific) return specific;
    if (protocol === 'grpc') return base ?? 'http://localhost:4317';
    return (base ?? 'http://localhost:4318').replace(/\/+$/, '') + path;
  };

  // An entry Node (or grpc-js) refuses to send would make every export throw for the life of the
  // process: it is dropped here with one warning naming it (never its value, often a secret).
  const exportHeaders = (name: 'OTEL_EXPORTER_OTLP_HEADERS' | 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'): Record<string, string> => {
    const all = { ...v[name] };
    const bad: string[] = [];
    for (const [k, value] of Object.entries(all)) {
      const why = headerProblem(k, value, protocol === 'grpc');
      if (!why) continue;
      bad.push(`${JSON.stringify(k)} ${why}`);
      delete all[k];
    }
    if (bad.length)
      r.warn(name, '', `has ${bad.length > 1 ? 'entries' : 'an entry'} that cannot be sent as a header (${bad.join('; ')})`, 'the other entries', true);
    return all;
  };

  const otlp: OtlpConfig = Object.freeze({
    endpoint: signalUrl(v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, '/v1/traces'),
    protocol,
    headers: Object.freeze({ ...exportHeaders('OTEL_EXPORTER_OTLP_HEADERS'), ...exportHeaders('OTEL_EXPORTER_OTLP_TRACES_HEADERS') }),
    timeoutMs: v.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    compression: v.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    certificate: v.OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    clientKey: v.OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    clientCertificate: v.OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
  });

  const maxQueueSize = v.OTEL_BSP_MAX_QUEUE_SIZE;
  let maxExportBatchSize = v.OTEL_BSP_MAX_EXPORT_BATCH_SIZE;
  if (maxExportBatchSize > maxQueueSize) {
    // Only a batch size the user set is worth a warning; the default simply follows a smaller queue.
    if (r.raw('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') !== undefined) {
      r.warn('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', String(maxExportBatchSize), `is larger than OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize})`, `${maxQueueSize}`);
    }
    maxExportBatchSize = maxQueueSize;
  }

  const enabled = v.OTEL_NODE_ENABLED_INSTRUMENTATIONS;
  const cfg: AgentConfig = {
    disabled: v.OTEL_SDK_DISABLED,
    serviceName: v.OTEL_SERVICE_NAME,
    resourceAttributes: Object.freeze(v.OTEL_RESOURCE_ATTRIBUTES),
    logLevel: v.OTEL_LOG_LEVEL,
    tracesExporters: Object.freeze(v.OTEL_TRACES_EXPORTER satisfies TracesExporterName[]),
    otlp,
    zipkinEndpoint: v.OTEL_EXPORTER_ZIPKIN_ENDPOINT ?? 'http://localhost:9411/api/v2/spans',
    sampler: Object.freeze({ name: v.OTEL_TRACES_SAMPLER, ratio: v.OTEL_TRACES_SAMPLER_ARG }),
    propagators: Object.freeze(v.OTEL_PROPAGATORS satisfies PropagatorName[]),
    bsp: Object.freeze({
      scheduleDelayMs: v.OTEL_BSP_SCHEDULE_DELAY,
      exportTimeoutMs: v.OTEL_BSP_EXPORT_TIMEOUT,
      maxQueueSize,
      maxExportBatchSize,
    }),
    spanLimits: Object.freeze({
      attributeValueLengthLimit: v.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
      attributeCountLimit: v.OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
      eventCountLimit: v.OTEL_SPAN_EVENT_COUNT_LIMIT,
      linkCountLimit: v.OTEL_SPAN_LINK_COUNT_LIMIT,
      attributePerEventCountLimit: v.OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
      attributePerLinkCountLimit: v.OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
    }),
    enabledInstrumentations: enabled.length ? Object.freeze(enabled) : null,
    disabledInstrumentations: Object.freeze(v.OTEL_NODE_DISABLED_INSTRUMENTATIONS),
    resourceDetectors: Object.freeze(v.OTEL_NODE_RESOURCE_DETECTORS),
    metricsExporters: Object.freeze(v.OTEL_METRICS_EXPORTER),
    logsExporters: Object.freeze(v.OTEL_LOGS_EXPORTER),
    signals: Object.freeze({
      metricsEndpoint: signalUrl(v.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, '/v1/metrics'),
      logsEndpoint: signalUrl(v.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, '/v1/logs'),
      metricIntervalMs: v.OTEL_METRIC_EXPORT_INTERVAL,
    }),
    agent: Object.freeze({
      logCorrelation: Object.freeze(v.OTEL_AGENT_LOG_CORRELATION),
      queueHooks: v.OTEL_AGENT_QUEUE_HOOKS,
      enableInWorkers: v.OTEL_AGENT_ENABLE_IN_WORKERS,
      flushTimeoutMs: v.OTEL_AGENT_FLUSH_TIMEOUT,
      esmHooks: v.OTEL_AGENT_ESM_HOOKS,
      redactQueryParams: Object.freeze(v.OTEL_AGENT_REDACT_QUERY_PARAMS),
      fsSpans: v.OTEL_AGENT_FS_SPANS,
      webSpans: v.OTEL_AGENT_WEB_SPANS,
      doctorReport: v.OTEL_AGENT_DOCTOR_REPORT,
      testFaults: Object.freeze(v.OTEL_AGENT_TEST_FAULTS),
    }),
    http: Object.freeze({
      captureServerRequestHeaders: v.OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
      captureServerResponseHeaders: v.OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
      captureClientRequestHeaders: v.OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST,
      captureClientResponseHeaders: v.OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE,
    }),
    sources: Object.freeze(r.sources),
    warnings: Object.freeze([...r.warnings]),
  };
  return Object.freeze(cfg);
}

/** Reads only the switches the thin entry needs, so a disabled agent loads nothing else. */
export function earlyFlags(env: Env = process.env): { disabled: boolean; enableInWorkers: boolean } {
  const d = (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase();
  const w = (env.OTEL_AGENT_ENABLE_IN_WORKERS ?? '').trim().toLowerCase();
  return { disabled: d === 'true', enableInWorkers: w === 'true' };
}

/** The environment, as a read-only snapshot, for things that must pass it on unchanged (e.g. the doctor's child process). */
export function envSnapshot(): Env {
  return Object.freeze({ ...process.env });
}
