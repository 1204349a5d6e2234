/**
 * Every variable the agent reads, once: its kind, default, allowed values or
 * range, whether its value is a secret, the variable it falls back to, and its
 * docs text. Data only: src/config/read.ts reads and validates by it, the docs
 * table (scripts/readme-vars.mjs) and the doctor's listing are made from it, so
 * the three cannot disagree. Order here is the order of the docs table.
 */
import { INSTRUMENTATION_NAMES } from './instrumentation-names';

interface Common {
  name: string;
  /** The docs table's "Effect" column. */
  doc: string;
  /** The docs table's "Default" column when the default value alone does not say it (see src/config/docs.ts). */
  docDefault?: string;
  /** Values never shown: not in warnings, not in the doctor's report. */
  secret?: boolean;
  /** Unset or invalid: the value of this (more general) variable is used. */
  inherits?: string;
}

export type VarSpec = Common &
  (
    | { kind: 'bool'; default: boolean }
    /** Whole number in [min, max]. */
    | { kind: 'int'; default: number; min: number; max: number }
    /** Any number in [min, max]. */
    | { kind: 'number'; default: number; min: number; max: number }
    /** One of `allowed`, case-insensitive. */
    | { kind: 'enum'; allowed: readonly string[]; default: string }
    /**
     * Comma list of `allowed` entries; unknown ones dropped with a warning. `none`
     * (when allowed) means the empty list; `all` (when given) stands for those entries.
     */
    | { kind: 'list'; allowed: readonly string[]; default: readonly string[]; all?: readonly string[] }
    /** Comma list of free names, each matching `pattern` (lower-cased first); `what` names one in warnings. */
    | { kind: 'names'; pattern: RegExp; what: string }
    /** `key=value,...` with percent-encoded values. */
    | { kind: 'pairs' }
    /** An http(s) URL. */
    | { kind: 'url'; default?: string }
    /** A path to a readable file. */
    | { kind: 'file' }
    /** Free text; with `pattern`, text that must match it (`what` names it in the warning). */
    | { kind: 'string'; default: string; pattern?: RegExp; what?: string }
  );

/** Parts of the agent that OTEL_AGENT_TEST_FAULTS can make fail on purpose (see src/contain.ts). */
export const TEST_FAULTS = ['processor-on-start', 'processor-on-ending', 'processor-on-end', 'http-bookkeeping'] as const;

const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
const COMPRESSIONS = ['gzip', 'none'] as const;
const SIGNAL_EXPORTERS = ['otlp', 'console', 'none'] as const;
const METRICS_EXPORTERS = ['otlp', 'prometheus', 'console', 'none'] as const;
const MS_HOUR = 3_600_000;
const COUNT_MAX = 1_000_000;
/** RFC 9110 token: anything else can never match a header and is a typo worth a warning. */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** A query parameter name, `*` as a wildcard: starts with a letter, `_`, `$` or `*` and has a letter (`-1` or `1e12` is a typo, not a name). */
const QUERY_NAME = /^(?=.*[a-z])[a-z_$*][a-z0-9_.$*[\]-]*$/;

// Generic over the name so that each entry keeps its literal name (src/config/read.ts types values by it).
const limit = <N extends string>(name: N, doc: string, inherits?: string) =>
  ({ name, kind: 'int', default: 128, min: 0, max: COUNT_MAX, doc, ...(inherits ? { inherits } : {}) }) as const;
/**
 * The per-signal OTLP settings of metrics or logs. Each falls back to the general
 * OTEL_EXPORTER_OTLP_* variable, never to the traces' one (the specification's rule:
 * a traces-only setting must not change where metrics or logs go).
 */
const signalOtlp = <S extends 'METRICS' | 'LOGS'>(s: S, what: string, exporterVar: string) =>
  [
    {
      name: `OTEL_EXPORTER_OTLP_${s}_ENDPOINT`,
      kind: 'url',
      docDefault: `(OTEL_EXPORTER_OTLP_ENDPOINT + /v1/${what})`,
      doc: `Full ${what} URL, used as is (only with ${exporterVar}=otlp).`,
    },
    {
      name: `OTEL_EXPORTER_OTLP_${s}_PROTOCOL`,
      kind: 'enum',
      allowed: OTLP_PROTOCOLS,
      default: 'http/protobuf',
      inherits: 'OTEL_EXPORTER_OTLP_PROTOCOL',
      doc: `Protocol for ${what} only.`,
    },
    // Not `inherits`: merged over the general ones in src/config/index.ts, like the traces' headers.
    { name: `OTEL_EXPORTER_OTLP_${s}_HEADERS`, kind: 'pairs', secret: true, doc: `Headers for ${what} only, merged over the general ones.` },
    {
      name: `OTEL_EXPORTER_OTLP_${s}_TIMEOUT`,
      kind: 'int',
      default: 10000,
      min: 1,
      max: 600_000,
      inherits: 'OTEL_EXPORTER_OTLP_TIMEOUT',
      doc: `Timeout for ${what} only.`,
    },
    {
      name: `OTEL_EXPORTER_OTLP_${s}_COMPRESSION`,
      kind: 'enum',
      allowed: COMPRESSIONS,
      default: 'none',
      inherits: 'OTEL_EXPORTER_OTLP_COMPRESSION',
      doc: `Compression for ${what} only.`,
    },
    { name: `OTEL_EXPORTER_OTLP_${s}_CERTIFICATE`, kind: 'file', inherits: 'OTEL_EXPORTER_OTLP_CERTIFICATE', doc: `CA file for ${what} only.` },
    { name: `OTEL_EXPORTER_OTLP_${s}_CLIENT_KEY`, kind: 'file', inherits: 'OTEL_EXPORTER_OTLP_CLIENT_KEY', doc: `Client key for ${what} only.` },
    {
      name: `OTEL_EXPORTER_OTLP_${s}_CLIENT_CERTIFICATE`,
      kind: 'file',
      inherits: 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE',
      doc: `Client certificate for ${what} only.`,
    },
  ] as const;
const captureHeaders = <N extends string>(name: N, doc: string) => ({ name, kind: 'names', pattern: HEADER_NAME, what: 'header name', doc }) as const;

export const SPEC = [
  {
    name: 'OTEL_CONFIG_FILE',
    kind: 'string',
    default: '',
    docDefault: '(none)',
    doc: 'Path of a YAML configuration file (the OpenTelemetry configuration model, `file_format: "1.1"`). When set, the other variables of this table are ignored and the file says everything; see docs/configuration-file.md.',
  },
  { name: 'OTEL_SDK_DISABLED', kind: 'bool', default: false, doc: '`true` loads nothing but the entry file: no SDK, no hooks, no spans.' },
  {
    name: 'OTEL_SERVICE_NAME',
    kind: 'string',
    default: '',
    docDefault: 'package.json name of the app, else `unknown_service:node`',
    doc: 'Sets `service.name` (wins over `OTEL_RESOURCE_ATTRIBUTES`).',
  },
  { name: 'OTEL_RESOURCE_ATTRIBUTES', kind: 'pairs', doc: '`key=value,key2=value2` (values percent-decoded) added to the resource.' },
  {
    name: 'OTEL_LOG_LEVEL',
    kind: 'enum',
    allowed: ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'],
    default: 'warn',
    doc: 'Agent diagnostics on stderr: `none`, `error`, `warn`, `info`, `debug`, `verbose`, `all`.',
  },
  {
    name: 'OTEL_TRACES_EXPORTER',
    kind: 'list',
    allowed: ['otlp', 'console', 'zipkin', 'none'],
    default: ['otlp'],
    doc: 'Comma list of `otlp`, `console` (indented trace trees on stdout), `zipkin`, `none`.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    kind: 'url',
    docDefault: 'http://localhost:4318 (grpc: http://localhost:4317)',
    doc: 'Base URL; `/v1/traces` is appended for the HTTP protocols.',
  },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', kind: 'url', docDefault: '(from OTEL_EXPORTER_OTLP_ENDPOINT)', doc: 'Full traces URL, used as is.' },
  { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', kind: 'enum', allowed: OTLP_PROTOCOLS, default: 'http/protobuf', doc: '`http/protobuf`, `http/json` or `grpc`.' },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    kind: 'enum',
    allowed: OTLP_PROTOCOLS,
    default: 'http/protobuf',
    inherits: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    doc: 'Protocol for traces only.',
  },
  { name: 'OTEL_EXPORTER_OTLP_HEADERS', kind: 'pairs', secret: true, doc: '`key=value,...` sent with every export (values never printed).' },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    kind: 'pairs',
    secret: true,
    // Not `inherits`: merged over the general ones in src/config/index.ts, after each is checked on its own.
    doc: 'Headers for traces only, merged over the general ones.',
  },
  { name: 'OTEL_EXPORTER_OTLP_TIMEOUT', kind: 'int', default: 10000, min: 1, max: 600_000, doc: 'Milliseconds one export may take.' },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
    kind: 'int',
    default: 10000,
    min: 1,
    max: 600_000,
    inherits: 'OTEL_EXPORTER_OTLP_TIMEOUT',
    doc: 'Timeout for traces only.',
  },
  { name: 'OTEL_EXPORTER_OTLP_COMPRESSION', kind: 'enum', allowed: COMPRESSIONS, default: 'none', doc: '`gzip` or `none`.' },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
    kind: 'enum',
    allowed: COMPRESSIONS,
    default: 'none',
    inherits: 'OTEL_EXPORTER_OTLP_COMPRESSION',
    doc: 'Compression for traces only.',
  },
  { name: 'OTEL_EXPORTER_OTLP_CERTIFICATE', kind: 'file', docDefault: '(system CAs)', doc: 'PEM file of the CA(s) that sign the collector certificate.' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE', kind: 'file', inherits: 'OTEL_EXPORTER_OTLP_CERTIFICATE', doc: 'CA file for traces only.' },
  { name: 'OTEL_EXPORTER_OTLP_CLIENT_KEY', kind: 'file', doc: 'PEM private key for mutual TLS.' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY', kind: 'file', inherits: 'OTEL_EXPORTER_OTLP_CLIENT_KEY', doc: 'Client key for traces only.' },
  { name: 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE', kind: 'file', doc: 'PEM client certificate for mutual TLS.' },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE',
    kind: 'file',
    inherits: 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE',
    doc: 'Client certificate for traces only.',
  },
  { name: 'OTEL_EXPORTER_ZIPKIN_ENDPOINT', kind: 'url', default: 'http://localhost:9411/api/v2/spans', doc: 'Where the `zipkin` exporter posts.' },
  {
    name: 'OTEL_TRACES_SAMPLER',
    kind: 'enum',
    allowed: ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'],
    default: 'parentbased_always_on',
    doc: '`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`.',
  },
  {
    name: 'OTEL_TRACES_SAMPLER_ARG',
    kind: 'number',
    default: 1,
    min: 0,
    max: 1,
    docDefault: '1.0',
    doc: 'Ratio in [0, 1] for the `*traceidratio` samplers: consistent probability sampling, `th` on kept spans ([Sampling](sampling.md)).',
  },
  {
    name: 'OTEL_PROPAGATORS',
    kind: 'list',
    allowed: ['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger', 'none'],
    default: ['tracecontext', 'baggage'],
    doc: 'Comma list of `tracecontext`, `baggage`, `b3` (single header), `b3multi`, `jaeger`, `none`.',
  },
  { name: 'OTEL_BSP_SCHEDULE_DELAY', kind: 'int', default: 5000, min: 0, max: MS_HOUR, doc: 'Milliseconds between batch exports.' },
  { name: 'OTEL_BSP_EXPORT_TIMEOUT', kind: 'int', default: 30000, min: 1, max: MS_HOUR, doc: 'Milliseconds one batch export may take.' },
  {
    name: 'OTEL_BSP_MAX_QUEUE_SIZE',
    kind: 'int',
    // The spec's default is 2048. At 100k spans/s a collector answer that stalls 20 ms (common on
    // a busy host) fills 2048 and drops; 8192 kept 150k spans/s drop-free (bench/NOTES.md, span rate).
    default: 8192,
    min: 1,
    max: COUNT_MAX,
    doc: 'Spans held while waiting for export; beyond it spans are dropped and counted. The spec says 2048; the agent holds more so that bursts of 100k spans/s are not dropped (docs/performance.md).',
  },
  { name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', kind: 'int', default: 512, min: 1, max: COUNT_MAX, doc: 'Spans per export request (at most the queue size).' },
  {
    name: 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    kind: 'int',
    default: Number.POSITIVE_INFINITY,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    docDefault: 'unlimited',
    doc: 'Longest string attribute value kept (longer ones are truncated).',
  },
  limit('OTEL_ATTRIBUTE_COUNT_LIMIT', 'Most attributes per span/event/link.'),
  {
    name: 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    kind: 'int',
    default: Number.POSITIVE_INFINITY,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    inherits: 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    doc: 'Same, for span attributes.',
  },
  limit('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'Same, for span attributes.', 'OTEL_ATTRIBUTE_COUNT_LIMIT'),
  limit('OTEL_SPAN_EVENT_COUNT_LIMIT', 'Most events per span.'),
  limit('OTEL_SPAN_LINK_COUNT_LIMIT', 'Most links per span.'),
  limit('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', 'Most attributes per event.', 'OTEL_ATTRIBUTE_COUNT_LIMIT'),
  limit('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', 'Most attributes per link.', 'OTEL_ATTRIBUTE_COUNT_LIMIT'),
  {
    name: 'OTEL_NODE_ENABLED_INSTRUMENTATIONS',
    kind: 'list',
    allowed: INSTRUMENTATION_NAMES,
    default: [],
    docDefault: '(all)',
    doc: `Comma list: only these instrumentations. Names: ${INSTRUMENTATION_NAMES.join(', ')}.`,
  },
  {
    name: 'OTEL_NODE_DISABLED_INSTRUMENTATIONS',
    kind: 'list',
    allowed: INSTRUMENTATION_NAMES,
    default: [],
    doc: 'Comma list of instrumentations to turn off (wins over the enabled list).',
  },
  {
    name: 'OTEL_NODE_RESOURCE_DETECTORS',
    kind: 'list',
    allowed: ['env', 'host', 'os', 'process', 'serviceinstance', 'all', 'none'],
    default: ['env', 'host', 'os', 'process'],
    all: ['env', 'host', 'os', 'process', 'serviceinstance'],
    doc: '`env`, `host`, `os`, `process`, `serviceinstance`, `all`, `none`. No network (cloud) detector runs.',
  },
  {
    name: 'OTEL_METRICS_EXPORTER',
    kind: 'list',
    allowed: METRICS_EXPORTERS,
    default: [],
    docDefault: '`otlp` when traces go to OTLP, else none',
    doc: "Where metrics go: `otlp`, `prometheus` (a pull endpoint, see below), `console`, `none`. Unset, metrics follow the traces' OTLP export (not under `OTEL_CONFIG_FILE`). See [Metrics](metrics.md).",
  },
  {
    name: 'OTEL_METRICS_EXEMPLAR_FILTER',
    kind: 'enum',
    allowed: ['trace_based', 'always_on', 'always_off'],
    default: 'trace_based',
    doc: 'Which measurements may become exemplars (trace and span id on a histogram bucket or sum): `trace_based` (those made in a sampled span), `always_on`, `always_off`.',
  },
  {
    name: 'OTEL_EXPORTER_PROMETHEUS_HOST',
    kind: 'string',
    default: 'localhost',
    // A host name whose labels start with a letter (RFC 952), an IPv4 address, or an IPv6 address (brackets optional).
    pattern:
      /^(?:[a-z][a-z0-9-]{0,62}(?:\.[a-z][a-z0-9-]{0,62})*|(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)|\[?[0-9a-f:.]*:[0-9a-f:.]*\]?)$/i,
    what: 'a host name or IP address',
    doc: 'With `OTEL_METRICS_EXPORTER=prometheus`: the address the scrape endpoint (`/metrics`) listens on. The only port the agent ever opens.',
  },
  {
    name: 'OTEL_EXPORTER_PROMETHEUS_PORT',
    kind: 'int',
    default: 9464,
    min: 0,
    max: 65535,
    doc: 'With `OTEL_METRICS_EXPORTER=prometheus`: its port. In use: one warning, and the app runs on without it.',
  },
  {
    name: 'OTEL_AGENT_METRICS_CARDINALITY_LIMIT',
    kind: 'int',
    default: 2000,
    min: 2,
    max: COUNT_MAX,
    doc: 'Attribute sets (series) one instrument keeps per exporter; beyond it measurements go to one series with `otel.metric.overflow=true`, so counts stay exact.',
  },
  {
    name: 'OTEL_LOGS_EXPORTER',
    kind: 'list',
    allowed: SIGNAL_EXPORTERS,
    default: [],
    doc: 'Logs pipeline only when this names `otlp` or `console`: pino/winston/bunyan records are then also sent as OTLP logs.',
  },
  ...signalOtlp('METRICS', 'metrics', 'OTEL_METRICS_EXPORTER'),
  ...signalOtlp('LOGS', 'logs', 'OTEL_LOGS_EXPORTER'),
  { name: 'OTEL_METRIC_EXPORT_INTERVAL', kind: 'int', default: 60000, min: 1, max: MS_HOUR, doc: 'Milliseconds between metric exports.' },
  {
    name: 'OTEL_METRIC_EXPORT_TIMEOUT',
    kind: 'int',
    default: 30000,
    min: 1,
    max: MS_HOUR,
    doc: 'Milliseconds one metric export may take (at most the interval).',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
    kind: 'enum',
    allowed: ['cumulative', 'delta', 'lowmemory'],
    default: 'cumulative',
    doc: '`cumulative` (every point since start), `delta` (counters and histograms since the last export), `lowmemory` (delta for synchronous counters and histograms only).',
  },
  { name: 'OTEL_BLRP_SCHEDULE_DELAY', kind: 'int', default: 1000, min: 0, max: MS_HOUR, doc: 'Milliseconds between log record batch exports.' },
  { name: 'OTEL_BLRP_EXPORT_TIMEOUT', kind: 'int', default: 30000, min: 1, max: MS_HOUR, doc: 'Milliseconds one log batch export may take.' },
  {
    name: 'OTEL_BLRP_MAX_QUEUE_SIZE',
    kind: 'int',
    default: 2048,
    min: 1,
    max: COUNT_MAX,
    doc: 'Log records held while waiting for export; beyond it records are dropped.',
  },
  {
    name: 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE',
    kind: 'int',
    default: 512,
    min: 1,
    max: COUNT_MAX,
    doc: 'Log records per export request (at most the queue size).',
  },
  {
    name: 'OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    kind: 'int',
    default: Number.POSITIVE_INFINITY,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    inherits: 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    doc: 'Longest string attribute value kept on a log record.',
  },
  limit('OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT', 'Most attributes per log record.', 'OTEL_ATTRIBUTE_COUNT_LIMIT'),
  captureHeaders(
    'OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST',
    'Comma list of request header names recorded on SERVER spans as `http.request.header.<name>`.',
  ),
  captureHeaders('OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE', 'Same for response headers on SERVER spans.'),
  captureHeaders('OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST', 'Same for request headers on CLIENT spans.'),
  captureHeaders('OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE', 'Same for response headers on CLIENT spans.'),
  {
    name: 'OTEL_AGENT_LOG_CORRELATION',
    kind: 'list',
    allowed: ['pino', 'winston', 'bunyan', 'console', 'none'],
    default: ['pino', 'winston', 'bunyan'],
    doc: 'Which loggers get `trace_id`/`span_id`/`trace_flags`; add `console` for console.log/error lines, `none` for none.',
  },
  {
    name: 'OTEL_AGENT_CONSOLE_LOGS',
    kind: 'bool',
    default: false,
    doc: "With a logs exporter (`OTEL_LOGS_EXPORTER`): `true` sends console.log/info/debug/warn/error calls as log records too (the active span's ids, severity from the method, errors as `exception.*` with credentials redacted); what console prints is unchanged. See [Logs](logs.md).",
  },
  {
    name: 'OTEL_AGENT_QUEUE_HOOKS',
    kind: 'string',
    default: '',
    doc:
      'Traces your own task queue: `<module>#<export>=<role>(<where the context travels>, <options>)`, several separated by `;`. ' +
      'Roles: `submit` (PRODUCER span; the trace context is written into that argument under `_otel`), `execute` (CONSUMER span continuing it; add `link` for a new linked trace), `span` (INTERNAL span). ' +
      'Example: `./lib/queue.js#TaskQueue.prototype.submit=submit(arg1, queue=orders); ./lib/worker.js#execute=execute(arg0.input, queue=orders)`. Grammar and options in "Queue tracing".',
  },
  {
    name: 'OTEL_AGENT_EXTRA_INSTRUMENTATIONS',
    kind: 'names',
    pattern: /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/,
    what: 'npm package name',
    doc:
      'Comma list of OpenTelemetry instrumentation packages installed in your app (for example `@opentelemetry/instrumentation-knex,@prisma/instrumentation`), ' +
      "loaded from the app's own `node_modules` and switched on at the first load of a module they patch, for `require` and `import`, with the agent's tracer provider. " +
      'A package that cannot be found or loaded is named in one warning and left out. See "Other instrumentations".',
  },
  {
    name: 'OTEL_AGENT_ENABLE_IN_WORKERS',
    kind: 'bool',
    default: false,
    doc: '`true` also starts the agent inside worker threads, and a worker started inside a span continues its trace (docs/context-propagation.md).',
  },
  {
    name: 'OTEL_AGENT_ENV_CONTEXT',
    kind: 'enum',
    allowed: ['startup', 'process', 'off'],
    default: 'startup',
    doc: 'Trace context in `TRACEPARENT`/`TRACESTATE`/`BAGGAGE` at startup: `startup` (root spans started before the first SERVER or CONSUMER span and within 10 s continue it), `process` (every root span that is not SERVER or CONSUMER), `off` (ignored). See docs/context-propagation.md.',
  },
  {
    name: 'OTEL_AGENT_FLUSH_TIMEOUT',
    kind: 'int',
    default: 2000,
    min: 0,
    max: 600_000,
    doc: 'Milliseconds the agent may spend delivering spans when the process exits.',
  },
  {
    name: 'OTEL_AGENT_FS_SPANS',
    kind: 'enum',
    allowed: ['io', 'all'],
    default: 'io',
    doc: '`io`: fs spans for reads, writes, opens, listings and changes, none for existence and metadata checks (`exists`, `access`, `stat`, `lstat`, `realpath`, `readlink`, sync and promise forms too); `all`: every fs call. A check that finds no file is never an error.',
  },
  {
    name: 'OTEL_AGENT_DROP_PROBES',
    kind: 'bool',
    default: false,
    doc: '`true`: no spans for health and readiness probes (SERVER spans for `/health`, `/healthz`, `/ready`, `/readyz`, `/live`, `/livez`, `/metrics`, `/favicon.ico`). Sampling rules of your own go in the configuration file; see [Sampling rules](sampling-rules.md).',
  },
  {
    name: 'OTEL_AGENT_TAIL_SAMPLING',
    kind: 'bool',
    default: false,
    doc: '`true`: requests the sampler did not keep are recorded in memory, and exported anyway (marked `otel.agent.tail_kept`) when their SERVER or CONSUMER span ends with an error or takes longer than OTEL_AGENT_TAIL_LATENCY_THRESHOLD; the others are dropped. Downstream services still see them as unsampled. See [Sampling rules](sampling-rules.md#local-tail-mode).',
  },
  {
    name: 'OTEL_AGENT_TAIL_LATENCY_THRESHOLD',
    kind: 'int',
    default: 1000,
    min: 0,
    max: MS_HOUR,
    doc: 'With OTEL_AGENT_TAIL_SAMPLING: milliseconds after which an unsampled request is kept as slow; `0`: only errors keep a request.',
  },
  {
    name: 'OTEL_AGENT_TAIL_MAX_SPANS',
    kind: 'int',
    default: 2048,
    min: 1,
    max: COUNT_MAX,
    doc: 'With OTEL_AGENT_TAIL_SAMPLING: spans held in memory at once for requests still running, across all of them; spans past it are not kept, and counted.',
  },
  {
    name: 'OTEL_AGENT_TAIL_MAX_SPANS_PER_TRACE',
    kind: 'int',
    default: 128,
    min: 1,
    max: COUNT_MAX,
    doc: "With OTEL_AGENT_TAIL_SAMPLING: spans held for one request besides its SERVER or CONSUMER span (which is always kept); the request's later spans are not kept, and counted.",
  },
  {
    name: 'OTEL_AGENT_RUNTIME_METRICS',
    kind: 'bool',
    default: true,
    doc: 'With metrics on (`OTEL_METRICS_EXPORTER`): Node.js runtime metrics (`nodejs.eventloop.*`, `v8js.*`, `process.cpu.*`, `process.memory.usage`); `false` leaves them out. See [Metrics](metrics.md).',
  },
  {
    name: 'OTEL_AGENT_WEB_SPANS',
    kind: 'enum',
    allowed: ['none', 'handlers', 'all'],
    default: 'none',
    doc: 'Web frameworks: `none` (the route names the SERVER span and nothing more), `handlers` (an INTERNAL span for each route handler), `all` (handlers and every middleware). See docs/web-frameworks.md.',
  },
  {
    name: 'OTEL_AGENT_EXCEPTION_PATHS',
    kind: 'enum',
    allowed: ['relative', 'full'],
    default: 'relative',
    doc: 'File paths in exported stack traces (`exception.stacktrace` on span events and log records): `relative` (app files relative to the working directory, dependencies from `node_modules/` on, other files by name: no host directory layout leaves the process), `full` (as Node wrote them). See [Guarantees](guarantees.md).',
  },
  {
    name: 'OTEL_AGENT_GRAPHQL_RESOLVER_SPANS',
    kind: 'bool',
    default: false,
    doc: '`true`: an INTERNAL span `{Type}.{field}` for each GraphQL resolver the schema defines (never for default property resolvers), under its operation span. Off by default: a list of 100 items with 3 resolved fields is 300 spans. See docs/graphql.md.',
  },
  {
    name: 'OTEL_AGENT_ESM_HOOKS',
    kind: 'enum',
    allowed: ['auto', 'sync', 'async', 'off'],
    default: 'auto',
    doc: '`auto` (in-thread sync hooks where Node supports them, else the loader thread), `sync`, `async`, `off`.',
  },
  {
    name: 'OTEL_AGENT_REDACT_QUERY_PARAMS',
    kind: 'names',
    pattern: QUERY_NAME,
    what: 'query parameter name',
    doc: 'Comma list of URL query parameter names whose values are replaced by `REDACTED`, on top of the built-in list (tokens, keys, secrets, passwords, signatures, sessions, one-time codes). Case and `_`/`-`/`.` are ignored (`order_ref` also matches `orderRef`); `*` matches any run of characters.',
  },
  {
    name: 'OTEL_AGENT_DOCTOR_REPORT',
    kind: 'string',
    default: '',
    doc: 'Internal, set by `otel-agent doctor` for the app it runs: a file the agent keeps updated with what it patched and what reached the exporter; it also makes the agent send one span named `otel-agent doctor`. Not for normal use.',
  },
  {
    name: 'OTEL_AGENT_TEST_FAULTS',
    kind: 'list',
    allowed: TEST_FAULTS,
    default: [],
    doc: `Internal, for the agent's own reliability tests: makes named parts of the agent fail on purpose (${TEST_FAULTS.join(', ')}) to prove the app is unaffected. Not for normal use.`,
  },
] as const satisfies readonly VarSpec[];

export type VarName = (typeof SPEC)[number]['name'];
