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
import { SPEC } from './spec';

const VAR_NAMES: readonly string[] = SPEC.map((s) => s.name);

type Signal = 'TRACES' | 'METRICS' | 'LOGS';

/**
 * `files` reads OTEL_CONFIG_FILE: by default the bundle dist/config-file.cjs (the YAML parser is only
 * loaded when a file is named); the unit tests hand in src/config/file directly.
 */
export function loadConfig(env: Env = process.env, files: FileSupport = bundledFileSupport): AgentConfig {
  const file = fromFile(env, files);
  const r = new Reader(file?.env ?? env, file?.origin);
  const v = r.readAll();
  if (file) r.warnings.unshift(...file.warnings);

  const base = v.OTEL_EXPORTER_OTLP_ENDPOINT;
  // A signal-specific URL is used as is; otherwise the signal's path goes on the base URL (gRPC: the base URL itself).
  const signalUrl = (specific: string | undefined, path: string, protocol: OtlpConfig['protocol']): string => {
    if (specific) return specific;
    if (protocol === 'grpc') return base ?? 'http://localhost:4317';
    return (base ?? 'http://localhost:4318').replace(/\/+$/, '') + path;
  };

  // An entry Node (or grpc-js) refuses to send would make every export throw for the life of the
  // process: it is dropped here with one warning naming it (never its value, often a secret).
  const checked = new Map<string, Record<string, string>>();
  const exportHeaders = (name: `OTEL_EXPORTER_OTLP_${'' | `${Signal}_`}HEADERS`, protocol: OtlpConfig['protocol']): Record<string, string> => {
    // The general headers are checked once per protocol, however many signals use them: one warning, not three.
    const key = `${name} ${protocol}`;
    const seen = checked.get(key);
    if (seen) return seen;
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
    checked.set(key, all);
    return all;
  };

  // Each signal's OTLP settings: its own variables, else the general ones (never another signal's).
  const otlpFor = (sig: Signal, path: string): OtlpConfig => {
    const protocol = v[`OTEL_EXPORTER_OTLP_${sig}_PROTOCOL`];
    return Object.freeze({
      endpoint: signalUrl(v[`OTEL_EXPORTER_OTLP_${sig}_ENDPOINT`], path, protocol),
      protocol,
      headers: Object.freeze({ ...exportHeaders('OTEL_EXPORTER_OTLP_HEADERS', protocol), ...exportHeaders(`OTEL_EXPORTER_OTLP_${sig}_HEADERS`, protocol) }),
      timeoutMs: v[`OTEL_EXPORTER_OTLP_${sig}_TIMEOUT`],
      compression: v[`OTEL_EXPORTER_OTLP_${sig}_COMPRESSION`],
      certificate: v[`OTEL_EXPORTER_OTLP_${sig}_CERTIFICATE`],
      clientKey: v[`OTEL_EXPORTER_OTLP_${sig}_CLIENT_KEY`],
      clientCertificate: v[`OTEL_EXPORTER_OTLP_${sig}_CLIENT_CERTIFICATE`],
    });
  };
  const otlp = otlpFor('TRACES', '/v1/traces');
  // Only the signals that export over OTLP are assembled: their header warnings would otherwise be said for nothing.
  // Metrics follow the traces' OTLP export when OTEL_METRICS_EXPORTER is not set (docs/metrics.md, "Default"):
  // not under OTEL_CONFIG_FILE (no meter_provider, no metrics), not when traces go only to console or zipkin.
  // A value with no valid entry (a typo) is warned about and means the default, as for any variable.
  const rawMetrics = r.raw('OTEL_METRICS_EXPORTER');
  const metricsAsked = rawMetrics !== undefined && (v.OTEL_METRICS_EXPORTER.length > 0 || /(^|,)\s*none\s*(,|$)/i.test(rawMetrics));
  const fileInUse = file !== undefined && file.env !== env;
  const metricsByDefault = !fileInUse && !metricsAsked && v.OTEL_TRACES_EXPORTER.includes('otlp');
  const metricsExporters: readonly string[] = metricsByDefault ? ['otlp'] : v.OTEL_METRICS_EXPORTER;
  const metricsOtlp = metricsExporters.includes('otlp') ? otlpFor('METRICS', '/v1/metrics') : undefined;
  const logsOtlp = v.OTEL_LOGS_EXPORTER.includes('otlp') ? otlpFor('LOGS', '/v1/logs') : undefined;

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
    metricsExporters: Object.freeze([...metricsExporters]),
    logsExporters: Object.freeze(v.OTEL_LOGS_EXPORTER),
    signals: Object.freeze({
      metricsOtlp,
      metricsByDefault,
      logsOtlp,
      metricIntervalMs: v.OTEL_METRIC_EXPORT_INTERVAL,
      // The SDK requires the timeout to fit in the interval.
      metricTimeoutMs: Math.min(v.OTEL_METRIC_EXPORT_TIMEOUT, v.OTEL_METRIC_EXPORT_INTERVAL),
      temporality: v.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
      exemplarFilter: v.OTEL_METRICS_EXEMPLAR_FILTER,
      prometheus: Object.freeze({ host: v.OTEL_EXPORTER_PROMETHEUS_HOST, port: v.OTEL_EXPORTER_PROMETHEUS_PORT }),
      cardinalityLimit: v.OTEL_AGENT_METRICS_CARDINALITY_LIMIT,
      blrp: Object.freeze({
        scheduleDelayMs: v.OTEL_BLRP_SCHEDULE_DELAY,
        exportTimeoutMs: v.OTEL_BLRP_EXPORT_TIMEOUT,
        maxQueueSize: v.OTEL_BLRP_MAX_QUEUE_SIZE,
        maxExportBatchSize: Math.min(v.OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, v.OTEL_BLRP_MAX_QUEUE_SIZE),
      }),
      logLimits: Object.freeze({
        attributeValueLengthLimit: v.OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT,
        attributeCountLimit: v.OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT,
      }),
    }),
    agent: Object.freeze({
      logCorrelation: Object.freeze(v.OTEL_AGENT_LOG_CORRELATION),
      consoleLogs: v.OTEL_AGENT_CONSOLE_LOGS,
      queueHooks: v.OTEL_AGENT_QUEUE_HOOKS,
      extraInstrumentations: Object.freeze(v.OTEL_AGENT_EXTRA_INSTRUMENTATIONS),
      enableInWorkers: v.OTEL_AGENT_ENABLE_IN_WORKERS,
      envContext: v.OTEL_AGENT_ENV_CONTEXT,
      flushTimeoutMs: v.OTEL_AGENT_FLUSH_TIMEOUT,
      esmHooks: v.OTEL_AGENT_ESM_HOOKS,
      redactQueryParams: Object.freeze(v.OTEL_AGENT_REDACT_QUERY_PARAMS),
      fsSpans: v.OTEL_AGENT_FS_SPANS,
      webSpans: v.OTEL_AGENT_WEB_SPANS,
      exceptionPaths: v.OTEL_AGENT_EXCEPTION_PATHS,
      runtimeMetrics: v.OTEL_AGENT_RUNTIME_METRICS,
      graphqlResolverSpans: v.OTEL_AGENT_GRAPHQL_RESOLVER_SPANS,
      doctorReport: v.OTEL_AGENT_DOCTOR_REPORT,
      testFaults: Object.freeze(v.OTEL_AGENT_TEST_FAULTS),
    }),
    http: Object.freeze({
      captureServerRequestHeaders: v.OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
      captureServerResponseHeaders: v.OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
      captureClientRequestHeaders: v.OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST,
      captureClientResponseHeaders: v.OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE,
      serverRoutes: Object.freeze(file?.httpRoutes?.server ?? []),
      clientRoutes: Object.freeze(file?.httpRoutes?.client ?? []),
    }),
    sampling: Object.freeze({
      dropProbes: v.OTEL_AGENT_DROP_PROBES,
      rules: Object.freeze(file?.samplingRules ?? []),
      tail: v.OTEL_AGENT_TAIL_SAMPLING
        ? Object.freeze({
            latencyMs: v.OTEL_AGENT_TAIL_LATENCY_THRESHOLD,
            maxSpans: v.OTEL_AGENT_TAIL_MAX_SPANS,
            maxSpansPerTrace: Math.min(v.OTEL_AGENT_TAIL_MAX_SPANS_PER_TRACE, v.OTEL_AGENT_TAIL_MAX_SPANS),
          })
        : undefined,
    }),
    envCarrier: envCarrier(env),
    sources: Object.freeze(r.sources),
    warnings: Object.freeze([...r.warnings]),
    notices: Object.freeze(file?.notices ?? []),
  };
  return Object.freeze(cfg);
}

/** Set by the agent's own tooling, never by a user: they keep coming from the environment when a file is used. */
const INTERNAL = new Set(['OTEL_AGENT_DOCTOR_REPORT', 'OTEL_AGENT_TEST_FAULTS']);

interface FromFile {
  env: Env;
  origin: Record<string, string>;
  /** Problems in the file (each names the file, line and key). */
  warnings: string[];
  /** The one line saying which set variables the file made the agent ignore (info: that is the specified behaviour). */
  notices: string[];
  /** What only a file can say: sampling rules, header capture per route. */
  samplingRules?: import('../sampling/rules').SamplingRuleSpec[];
  httpRoutes?: import('./file/model').HttpRoutes;
}

/**
 * OTEL_CONFIG_FILE: the file's model becomes the variables (file/model.ts), and the spec's other
 * variables are ignored, as the configuration specification requires; a file that cannot be used
 * falls back to the environment with one warning. The YAML parser is its own bundle (dist/config-file.cjs).
 */
function fromFile(env: Env, files: FileSupport): FromFile | undefined {
  const path = (env.OTEL_CONFIG_FILE ?? '').trim();
  if (!path) return undefined;
  let result: FileResult;
  try {
    result = files().loadConfigFile(path, env);
  } catch (e) {
    result = { ok: false, error: `could not be loaded (${e instanceof Error ? e.message : String(e)})` };
  }
  if (!result.ok) return { env, origin: {}, warnings: [`OTEL_CONFIG_FILE=${path} ${result.error}; using the environment variables instead`], notices: [] };
  const own: Record<string, string | undefined> = { ...result.mapped.vars };
  for (const name of INTERNAL) own[name] = env[name];
  own.OTEL_CONFIG_FILE = path;
  const ignored = VAR_NAMES.filter((n) => !INTERNAL.has(n) && n !== 'OTEL_CONFIG_FILE' && env[n] !== undefined && env[n]!.trim() !== '');
  const notices = ignored.length ? [`OTEL_CONFIG_FILE=${path} is in use, so these variables are ignored: ${ignored.join(', ')}`] : [];
  return {
    env: Object.freeze(own),
    origin: result.mapped.origin,
    warnings: [...result.mapped.warnings],
    notices,
    samplingRules: result.mapped.samplingRules,
    httpRoutes: result.mapped.httpRoutes,
  };
}

type FileSupport = () => typeof import('./file');
type FileResult = import('./file').FileResult;

// A computed specifier: esbuild leaves it alone instead of bundling the YAML parser into every entry.
const bundledFileSupport: FileSupport = () => require(`${__dirname}/config-file.cjs`) as typeof import('./file');

// The environment-variable form (env-carriers.md: upper case, `-` -> `_`) of every field the
// supported propagators read: W3C trace context and baggage, B3 single and multi, Jaeger.
const CARRIER_KEY = /^(?:TRACEPARENT|TRACESTATE|BAGGAGE|B3|X_B3_[A-Z]+|UBER_TRACE_ID|UBERCTX_[A-Z0-9_]+)$/;

/** The context carriers a parent process left in the environment, read once at startup (the spec's "immutable" rule). */
function envCarrier(env: Env): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(env)) {
    const value = env[k];
    if (typeof value === 'string' && CARRIER_KEY.test(k)) out[k] = value;
  }
  return Object.freeze(out);
}

/**
 * A fresh, mutable copy of the current environment, for a child process the app
 * spawns without an `env` of its own: Node would give the child exactly this,
 * and the agent adds the trace context to the copy, never to process.env.
 */
export function childEnvCopy(): Record<string, string | undefined> {
  return { ...process.env };
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
