/**
 * The configuration's public face for the rest of the agent: the AgentConfig
 * type and the functions that read it. The variables themselves are declared
 * once in src/config/spec.ts and read by src/config/ (the only code that
 * touches `process.env`); see src/config/index.ts.
 */
import type { SamplingRuleSpec } from './sampling/rules';
import type { RouteCaptureSpec } from './instrumentations/http/route-capture';

export type LogLevel = 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all';
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export type SamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';
export type PropagatorName = 'tracecontext' | 'baggage' | 'b3' | 'b3multi' | 'jaeger';
export type TracesExporterName = 'otlp' | 'console' | 'zipkin';

export interface OtlpConfig {
  /** Full URL spans are sent to (for gRPC: the server URL). */
  endpoint: string;
  protocol: OtlpProtocol;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  compression: 'gzip' | 'none';
  certificate?: string;
  clientKey?: string;
  clientCertificate?: string;
}

export interface AgentConfig {
  disabled: boolean;
  serviceName: string;
  resourceAttributes: Readonly<Record<string, string>>;
  logLevel: LogLevel;
  tracesExporters: readonly TracesExporterName[];
  otlp: Readonly<OtlpConfig>;
  zipkinEndpoint: string;
  sampler: { name: SamplerName; ratio: number };
  propagators: readonly PropagatorName[];
  bsp: { scheduleDelayMs: number; exportTimeoutMs: number; maxQueueSize: number; maxExportBatchSize: number };
  spanLimits: {
    attributeValueLengthLimit: number;
    attributeCountLimit: number;
    eventCountLimit: number;
    linkCountLimit: number;
    attributePerEventCountLimit: number;
    attributePerLinkCountLimit: number;
  };
  /** null means "all that are on by default". */
  enabledInstrumentations: readonly string[] | null;
  disabledInstrumentations: readonly string[];
  resourceDetectors: readonly string[];
  metricsExporters: readonly string[];
  logsExporters: readonly string[];
  signals: {
    /** Set when OTEL_METRICS_EXPORTER names `otlp`: the metrics' own OTLP settings (OTEL_EXPORTER_OTLP_METRICS_*, else the general ones). */
    metricsOtlp?: Readonly<OtlpConfig>;
    /** Metrics are on because traces go to OTLP and OTEL_METRICS_EXPORTER is not set (not because the user asked). */
    metricsByDefault: boolean;
    /** Same for logs (OTEL_EXPORTER_OTLP_LOGS_*). */
    logsOtlp?: Readonly<OtlpConfig>;
    metricIntervalMs: number;
    metricTimeoutMs: number;
    temporality: 'cumulative' | 'delta' | 'lowmemory';
    exemplarFilter: 'trace_based' | 'always_on' | 'always_off';
    /** OTEL_METRICS_EXPORTER=prometheus: where the scrape endpoint listens. */
    prometheus: { host: string; port: number };
    /** Series kept per instrument and exporter before the overflow series (metrics/series.ts). */
    cardinalityLimit: number;
    blrp: { scheduleDelayMs: number; exportTimeoutMs: number; maxQueueSize: number; maxExportBatchSize: number };
    logLimits: { attributeValueLengthLimit: number; attributeCountLimit: number };
  };
  agent: {
    logCorrelation: readonly string[];
    /** OTEL_AGENT_CONSOLE_LOGS: console calls sent as log records too (console-logs.ts). */
    consoleLogs: boolean;
    queueHooks: string;
    /** OTEL_AGENT_EXTRA_INSTRUMENTATIONS: package names, loaded from the app's node_modules (instrumentations/extra/). */
    extraInstrumentations: readonly string[];
    enableInWorkers: boolean;
    /** Which root spans continue the trace context found in the environment at startup (src/env-context.ts). */
    envContext: 'startup' | 'process' | 'off';
    flushTimeoutMs: number;
    esmHooks: 'auto' | 'sync' | 'async' | 'off';
    /** Query parameter names redacted in URLs on top of the defaults (src/redact.ts), as written. */
    redactQueryParams: readonly string[];
    /** `io`: no fs spans for existence/metadata checks; `all`: every fs call (see own/fs-shaping.ts). */
    fsSpans: 'io' | 'all';
    /** Web frameworks' INTERNAL spans: `none`, `handlers` (route handlers), `all` (handlers and middleware). */
    webSpans: 'none' | 'handlers' | 'all';
    exceptionPaths: 'relative' | 'full';
    /** With metrics on: the Node.js runtime metrics (src/metrics/runtime.ts). */
    runtimeMetrics: boolean;
    /** GraphQL: an INTERNAL span per schema-defined resolver (OTEL_AGENT_GRAPHQL_RESOLVER_SPANS). */
    graphqlResolverSpans: boolean;
    /** Internal: set by `otel-agent doctor` for the app it runs; '' when unset. */
    doctorReport: string;
    /** Internal, for the agent's own reliability tests only (OTEL_AGENT_TEST_FAULTS); empty otherwise. */
    testFaults: readonly string[];
  };
  http: {
    captureServerRequestHeaders: readonly string[];
    captureServerResponseHeaders: readonly string[];
    captureClientRequestHeaders: readonly string[];
    captureClientResponseHeaders: readonly string[];
    /** Header capture per route, from the configuration file only (instrumentations/http/route-capture.ts). */
    serverRoutes: readonly RouteCaptureSpec[];
    clientRoutes: readonly RouteCaptureSpec[];
  };
  /** Sampling rules (src/sampling/rules.ts): the probe set, then the configuration file's rules, first match wins. */
  sampling: {
    dropProbes: boolean;
    rules: readonly SamplingRuleSpec[];
    /** Local tail mode (src/sampling/tail.ts); undefined when off. */
    tail?: { latencyMs: number; maxSpans: number; maxSpansPerTrace: number };
  };
  /** The propagation carriers found in the environment at startup (`TRACEPARENT`, ...), by normalised name. */
  envCarrier: Readonly<Record<string, string>>;
  /** For `doctor` and diagnostics: where each variable's value came from. */
  sources: Readonly<Record<string, { value: string; source: 'env' | 'default' | 'file'; origin?: string; warning?: string }>>;
  warnings: readonly string[];
  /** Said once at info at startup (e.g. which variables OTEL_CONFIG_FILE made the agent ignore). */
  notices: readonly string[];
}

export { INSTRUMENTATION_NAMES } from './config/instrumentation-names';
export { TEST_FAULTS } from './config/spec';
export { VARS, type VarDoc } from './config/docs';
export { loadConfig, earlyFlags, envSnapshot, childEnvCopy } from './config';
