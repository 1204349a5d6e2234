/**
 * The only reader of `process.env` in the agent. Every supported variable is
 * declared once in VARS below; `loadConfig()` reads them, validates each value,
 * warns once per bad value (naming the variable, the value and the default used
 * instead) and returns one frozen config object. Components take options from
 * that object and never look at the environment themselves.
 *
 * It never writes to process.env.
 */

export type LogLevel = 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all';
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';
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
  signals: { metricsEndpoint: string; logsEndpoint: string; metricIntervalMs: number };
  agent: {
    logCorrelation: readonly string[];
    queueHooks: string;
    enableInWorkers: boolean;
    flushTimeoutMs: number;
    esmHooks: 'auto' | 'sync' | 'async' | 'off';
    /** Query parameter names redacted in URLs on top of the defaults (src/redact.ts), as written. */
    redactQueryParams: readonly string[];
    /** `io`: no fs spans for existence/metadata checks; `all`: every fs call (see own/fs-shaping.ts). */
    fsSpans: 'io' | 'all';
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
  };
  /** For `doctor` and diagnostics: where each variable's value came from. */
  sources: Readonly<Record<string, { value: string; source: 'env' | 'default'; warning?: string }>>;
  warnings: readonly string[];
}

/** Parts of the agent that OTEL_AGENT_TEST_FAULTS can make fail on purpose (see src/contain.ts). */
export const TEST_FAULTS = ['processor-on-start', 'processor-on-ending', 'processor-on-end', 'http-bookkeeping'] as const;

/** Every instrumentation short name the agent knows; kept here so env validation needs no other module. */
export const INSTRUMENTATION_NAMES = [
  'http',
  'undici',
  'fs',
  'aws-sdk',
  'kafkajs',
  'pg',
  'mysql2',
  'redis',
  'ioredis',
  'mongodb',
  'amqplib',
  'sqlite',
  'better-sqlite3',
  'bullmq',
  'pino',
  'winston',
  'bunyan',
  'queue-hooks',
] as const;

const SAMPLERS: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];
const PROPAGATORS: readonly string[] = ['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger', 'none'];
const TRACES_EXPORTERS: readonly string[] = ['otlp', 'console', 'zipkin', 'none'];
const SIGNAL_EXPORTERS: readonly string[] = ['otlp', 'console', 'none'];
const DETECTORS: readonly string[] = ['env', 'host', 'os', 'process', 'serviceinstance', 'all', 'none'];
const LOG_LEVELS: readonly LogLevel[] = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'];

type Env = Record<string, string | undefined>;

const QUERY_NAME = /^[a-z_$*][a-z0-9_.$*[\]-]*$/;
const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** Documentation table: the README's variable table is generated from/checked against this. */
export interface VarDoc {
  name: string;
  default: string;
  effect: string;
}

export const VARS: readonly VarDoc[] = [
  { name: 'OTEL_SDK_DISABLED', default: 'false', effect: '`true` loads nothing but the entry file: no SDK, no hooks, no spans.' },
  { name: 'OTEL_SERVICE_NAME', default: 'package.json name of the app, else `unknown_service:node`', effect: 'Sets `service.name` (wins over `OTEL_RESOURCE_ATTRIBUTES`).' },
  { name: 'OTEL_RESOURCE_ATTRIBUTES', default: '(none)', effect: '`key=value,key2=value2` (values percent-decoded) added to the resource.' },
  { name: 'OTEL_LOG_LEVEL', default: 'warn', effect: 'Agent diagnostics on stderr: `none`, `error`, `warn`, `info`, `debug`, `verbose`, `all`.' },
  { name: 'OTEL_TRACES_EXPORTER', default: 'otlp', effect: 'Comma list of `otlp`, `console` (indented trace trees on stdout), `zipkin`, `none`.' },
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', default: 'http://localhost:4318 (grpc: http://localhost:4317)', effect: 'Base URL; `/v1/traces` is appended for the HTTP protocols.' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', default: '(from OTEL_EXPORTER_OTLP_ENDPOINT)', effect: 'Full traces URL, used as is.' },
  { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', default: 'http/protobuf', effect: '`http/protobuf`, `http/json` or `grpc`.' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', default: '(from OTEL_EXPORTER_OTLP_PROTOCOL)', effect: 'Protocol for traces only.' },
  { name: 'OTEL_EXPORTER_OTLP_HEADERS', default: '(none)', effect: '`key=value,...` sent with every export (values never printed).' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', default: '(none)', effect: 'Headers for traces only, merged over the general ones.' },
  { name: 'OTEL_EXPORTER_OTLP_TIMEOUT', default: '10000', effect: 'Milliseconds one export may take.' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', default: '(from OTEL_EXPORTER_OTLP_TIMEOUT)', effect: 'Timeout for traces only.' },
  { name: 'OTEL_EXPORTER_OTLP_COMPRESSION', default: 'none', effect: '`gzip` or `none`.' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', default: '(from OTEL_EXPORTER_OTLP_COMPRESSION)', effect: 'Compression for traces only.' },
  { name: 'OTEL_EXPORTER_OTLP_CERTIFICATE', default: '(system CAs)', effect: 'PEM file of the CA(s) that sign the collector certificate.' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE', default: '(from OTEL_EXPORTER_OTLP_CERTIFICATE)', effect: 'CA file for traces only.' },
  { name: 'OTEL_EXPORTER_OTLP_CLIENT_KEY', default: '(none)', effect: 'PEM private key for mutual TLS.' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY', default: '(from OTEL_EXPORTER_OTLP_CLIENT_KEY)', effect: 'Client key for traces only.' },
  { name: 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE', default: '(none)', effect: 'PEM client certificate for mutual TLS.' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE', default: '(from OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)', effect: 'Client certificate for traces only.' },
  { name: 'OTEL_EXPORTER_ZIPKIN_ENDPOINT', default: 'http://localhost:9411/api/v2/spans', effect: 'Where the `zipkin` exporter posts.' },
  { name: 'OTEL_TRACES_SAMPLER', default: 'parentbased_always_on', effect: '`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`.' },
  { name: 'OTEL_TRACES_SAMPLER_ARG', default: '1.0', effect: 'Ratio in [0, 1] for the `*traceidratio` samplers.' },
  { name: 'OTEL_PROPAGATORS', default: 'tracecontext,baggage', effect: 'Comma list of `tracecontext`, `baggage`, `b3` (single header), `b3multi`, `jaeger`, `none`.' },
  { name: 'OTEL_BSP_SCHEDULE_DELAY', default: '5000', effect: 'Milliseconds between batch exports.' },
  { name: 'OTEL_BSP_EXPORT_TIMEOUT', default: '30000', effect: 'Milliseconds one batch export may take.' },
  { name: 'OTEL_BSP_MAX_QUEUE_SIZE', default: '2048', effect: 'Spans held while waiting for export; beyond it spans are dropped and counted.' },
  { name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', default: '512', effect: 'Spans per export request (at most the queue size).' },
  { name: 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', default: 'unlimited', effect: 'Longest string attribute value kept (longer ones are truncated).' },
  { name: 'OTEL_ATTRIBUTE_COUNT_LIMIT', default: '128', effect: 'Most attributes per span/event/link.' },
  { name: 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', default: '(from OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT)', effect: 'Same, for span attributes.' },
  { name: 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', default: '(from OTEL_ATTRIBUTE_COUNT_LIMIT)', effect: 'Same, for span attributes.' },
  { name: 'OTEL_SPAN_EVENT_COUNT_LIMIT', default: '128', effect: 'Most events per span.' },
  { name: 'OTEL_SPAN_LINK_COUNT_LIMIT', default: '128', effect: 'Most links per span.' },
  { name: 'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', default: '128', effect: 'Most attributes per event.' },
  { name: 'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', default: '128', effect: 'Most attributes per link.' },
  { name: 'OTEL_NODE_ENABLED_INSTRUMENTATIONS', default: '(all)', effect: `Comma list: only these instrumentations. Names: ${INSTRUMENTATION_NAMES.join(', ')}.` },
  { name: 'OTEL_NODE_DISABLED_INSTRUMENTATIONS', default: '(none)', effect: 'Comma list of instrumentations to turn off (wins over the enabled list).' },
  { name: 'OTEL_NODE_RESOURCE_DETECTORS', default: 'env,host,os,process', effect: '`env`, `host`, `os`, `process`, `serviceinstance`, `all`, `none`. No network (cloud) detector runs.' },
  { name: 'OTEL_METRICS_EXPORTER', default: 'none', effect: 'This agent is about traces: metrics are set up only when this names `otlp` or `console`.' },
  { name: 'OTEL_LOGS_EXPORTER', default: 'none', effect: 'Logs pipeline only when this names `otlp` or `console`: pino/winston/bunyan records are then also sent as OTLP logs.' },
  { name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', default: '(OTEL_EXPORTER_OTLP_ENDPOINT + /v1/metrics)', effect: 'Full metrics URL, used as is (only with OTEL_METRICS_EXPORTER=otlp).' },
  { name: 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', default: '(OTEL_EXPORTER_OTLP_ENDPOINT + /v1/logs)', effect: 'Full logs URL, used as is (only with OTEL_LOGS_EXPORTER=otlp).' },
  { name: 'OTEL_METRIC_EXPORT_INTERVAL', default: '60000', effect: 'Milliseconds between metric exports.' },
  { name: 'OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST', default: '(none)', effect: 'Comma list of request header names recorded on SERVER spans as `http.request.header.<name>`.' },
  { name: 'OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE', default: '(none)', effect: 'Same for response headers on SERVER spans.' },
  { name: 'OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST', default: '(none)', effect: 'Same for request headers on CLIENT spans.' },
  { name: 'OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE', default: '(none)', effect: 'Same for response headers on CLIENT spans.' },
  { name: 'OTEL_AGENT_LOG_CORRELATION', default: 'pino,winston,bunyan', effect: 'Which loggers get `trace_id`/`span_id`/`trace_flags`; add `console` for console.log/error lines, `none` for none.' },
  {
    name: 'OTEL_AGENT_QUEUE_HOOKS',
    default: '(none)',
    effect:
      'Traces your own task queue: `<module>#<export>=<role>(<where the context travels>, <options>)`, several separated by `;`. ' +
      'Roles: `submit` (PRODUCER span; the trace context is written into that argument under `_otel`), `execute` (CONSUMER span continuing it; add `link` for a new linked trace), `span` (INTERNAL span). ' +
      'Example: `./lib/queue.js#TaskQueue.prototype.submit=submit(arg1, queue=orders); ./lib/worker.js#execute=execute(arg0.input, queue=orders)`. Grammar and options in "Queue tracing".',
  },
  { name: 'OTEL_AGENT_ENABLE_IN_WORKERS', default: 'false', effect: '`true` also starts the agent inside worker threads.' },
  { name: 'OTEL_AGENT_FLUSH_TIMEOUT', default: '2000', effect: 'Milliseconds the agent may spend delivering spans when the process exits.' },
  {
    name: 'OTEL_AGENT_FS_SPANS',
    default: 'io',
    effect:
      '`io`: fs spans for reads, writes, opens, listings and changes, none for existence and metadata checks (`exists`, `access`, `stat`, `lstat`, `realpath`, `readlink`, sync and promise forms too); `all`: every fs call. A check that finds no file is never an error.',
  },
  { name: 'OTEL_AGENT_ESM_HOOKS', default: 'auto', effect: '`auto` (in-thread sync hooks where Node supports them, else the loader thread), `sync`, `async`, `off`.' },
  {
    name: 'OTEL_AGENT_REDACT_QUERY_PARAMS',
    default: '(none)',
    effect:
      'Comma list of URL query parameter names whose values are replaced by `REDACTED`, on top of the built-in list (tokens, keys, secrets, passwords, signatures, sessions, one-time codes). Case and `_`/`-`/`.` are ignored (`order_ref` also matches `orderRef`); `*` matches any run of characters.',
  },
  {
    name: 'OTEL_AGENT_DOCTOR_REPORT',
    default: '(none)',
    effect:
      'Internal, set by `otel-agent doctor` for the app it runs: a file the agent keeps updated with what it patched and what reached the exporter; it also makes the agent send one span named `otel-agent doctor`. Not for normal use.',
  },
  {
    name: 'OTEL_AGENT_TEST_FAULTS',
    default: '(none)',
    effect: `Internal, for the agent's own reliability tests: makes named parts of the agent fail on purpose (${TEST_FAULTS.join(', ')}) to prove the app is unaffected. Not for normal use.`,
  },
];

const warned = new Set<string>();

class Reader {
  readonly warnings: string[] = [];
  readonly sources: Record<string, { value: string; source: 'env' | 'default'; warning?: string }> = {};
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  }

  note(name: string, value: string | undefined, shown?: string): void {
    if (value !== undefined) this.sources[name] = { value: shown ?? value, source: 'env' };
  }

  warn(name: string, value: string, problem: string, fallback: string, secret = false): void {
    const shownValue = secret ? '<redacted>' : JSON.stringify(value.length > 200 ? value.slice(0, 200) + '...' : value);
    const msg = `${name}=${shownValue} ${problem}; using ${fallback}`;
    this.warnings.push(msg);
    const src = this.sources[name];
    if (src) src.warning = src.warning ? `${src.warning}; ${msg}` : msg;
    else this.sources[name] = { value: secret ? '<redacted>' : value, source: 'env', warning: msg };
  }

  str(name: string, def: string): string {
    const v = this.raw(name);
    this.note(name, v);
    return v ?? def;
  }

  bool(name: string, def: boolean): boolean {
    const v = this.raw(name);
    this.note(name, v);
    if (v === undefined) return def;
    const l = v.toLowerCase();
    if (l === 'true') return true;
    if (l === 'false') return false;
    this.warn(name, v, 'is not true or false', `the default (${def})`);
    return def;
  }

  /** Non-negative integer within [min, max]. */
  int(name: string, def: number, min = 0, max = 2 ** 31 - 1): number {
    const v = this.raw(name);
    this.note(name, v);
    if (v === undefined) return def;
    const n = Number(v);
    if (!/^[+]?\d+(\.0+)?$/.test(v) || !Number.isFinite(n)) {
      this.warn(name, v, 'is not a whole number', `the default (${def})`);
      return def;
    }
    if (n < min || n > max) {
      this.warn(name, v, `is outside ${min}..${max}`, `the default (${def})`);
      return def;
    }
    return n;
  }

  oneOf<T extends string>(name: string, allowed: readonly string[], def: T): T {
    const v = this.raw(name);
    this.note(name, v);
    if (v === undefined) return def;
    const l = v.toLowerCase();
    if (allowed.includes(l)) return l as T;
    this.warn(name, v, `is not one of ${allowed.join(', ')}`, `the default (${def})`);
    return def;
  }

  list(name: string, allowed: readonly string[] | null, def: readonly string[], defLabel?: string): string[] {
    const v = this.raw(name);
    this.note(name, v);
    if (v === undefined) return [...def];
    const items = v
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    if (!allowed) return items;
    const bad = items.filter((i) => !allowed.includes(i));
    const good = items.filter((i) => allowed.includes(i));
    // Nothing usable left: the default, not an empty list (an empty propagator or detector list would silently turn a feature off).
    const fallback = good.length ? 'the rest of the list' : `the default (${defLabel ?? (def.join(',') || 'none')})`;
    if (bad.length) this.warn(name, v, `names unknown ${bad.length > 1 ? 'entries' : 'entry'} ${bad.join(', ')} (known: ${allowed.join(', ')})`, fallback);
    if (!good.length) return [...def];
    return [...new Set(good)];
  }

  /** `k=v,k2=v2` with percent-encoded values (W3C baggage octets), as OTEL_RESOURCE_ATTRIBUTES and *_HEADERS use. */
  pairs(name: string, secret: boolean): Record<string, string> {
    const v = this.raw(name);
    if (v === undefined) return {};
    const out: Record<string, string> = {};
    const bad: string[] = [];
    for (const part of v.split(',')) {
      if (!part.trim()) continue;
      const eq = part.indexOf('=');
      const key = eq > 0 ? part.slice(0, eq).trim() : '';
      if (!key) {
        bad.push(secret ? '<redacted>' : part.trim());
        continue;
      }
      let val = part.slice(eq + 1).trim();
      try {
        val = decodeURIComponent(val);
      } catch {
        bad.push(secret ? key + '=<redacted>' : part.trim());
        continue;
      }
      out[key] = val;
    }
    const shown = secret ? Object.keys(out).map((k) => `${k}=<redacted>`).join(',') : v;
    this.note(name, v, shown);
    if (bad.length) this.warn(name, v, `has malformed entries (${bad.join(', ')}), expected key=value`, 'the well-formed entries', secret);
    return out;
  }
}

/**
 * Why an export header cannot be sent, or undefined. HTTP: the name an RFC 9110
 * token, the value field-value octets (no CR, LF, NUL or other controls but tab).
 * gRPC metadata is stricter: lower-case [0-9a-z_.-] names (grpc-js lower-cases
 * them itself) and printable ASCII values.
 */
function headerProblem(name: string, value: string, grpc: boolean): string | undefined {
  const lower = name.toLowerCase();
  if (!HEADER_TOKEN.test(lower)) return 'has a name that is not a valid header name';
  if (grpc && !/^[0-9a-z_.-]+$/.test(lower)) return 'has a name gRPC metadata does not allow';
  if (grpc && lower.endsWith('-bin')) return 'names binary gRPC metadata (-bin), which takes bytes, not text';
  // eslint-disable-next-line no-control-regex
  if (/[\r\n]/.test(value)) return 'has a value that contains CR or LF';
  // eslint-disable-next-line no-control-regex
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) return 'has a value with characters a header cannot carry';
  if (grpc && !/^[\x20-\x7e]*$/.test(value)) return 'has a value gRPC metadata cannot carry (printable ASCII only)';
  return undefined;
}

function validUrl(r: Reader, name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return value;
  } catch {
    r.warn(name, value, 'is not an http(s) URL', 'the default');
    return undefined;
  }
}

function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.username || url.password) {
      url.username = url.username ? 'REDACTED' : '';
      url.password = url.password ? 'REDACTED' : '';
    }
    return url.toString();
  } catch {
    return u;
  }
}

export function loadConfig(env: Env = process.env): AgentConfig {
  const r = new Reader(env);

  const disabled = r.bool('OTEL_SDK_DISABLED', false);
  const logLevel = r.oneOf<LogLevel>('OTEL_LOG_LEVEL', LOG_LEVELS, 'warn');

  const resourceAttributes = r.pairs('OTEL_RESOURCE_ATTRIBUTES', false);
  const serviceName = r.str('OTEL_SERVICE_NAME', '');

  let tracesExporters = r.list('OTEL_TRACES_EXPORTER', TRACES_EXPORTERS, ['otlp']);
  if (tracesExporters.length === 0 && r.raw('OTEL_TRACES_EXPORTER') !== undefined) tracesExporters = ['otlp'];
  if (tracesExporters.includes('none')) tracesExporters = [];

  const protocol = r.oneOf<OtlpProtocol>(
    'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    ['http/protobuf', 'http/json', 'grpc'],
    r.oneOf<OtlpProtocol>('OTEL_EXPORTER_OTLP_PROTOCOL', ['http/protobuf', 'http/json', 'grpc'], 'http/protobuf'),
  );
  const base = validUrl(r, 'OTEL_EXPORTER_OTLP_ENDPOINT', r.raw('OTEL_EXPORTER_OTLP_ENDPOINT'));
  r.note('OTEL_EXPORTER_OTLP_ENDPOINT', base && redactUrl(base));
  const specific = validUrl(r, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', r.raw('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'));
  r.note('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', specific && redactUrl(specific));
  let endpoint: string;
  if (specific) endpoint = specific;
  else if (protocol === 'grpc') endpoint = base ?? 'http://localhost:4317';
  else endpoint = (base ?? 'http://localhost:4318').replace(/\/+$/, '') + '/v1/traces';

  // An entry Node (or grpc-js) refuses to send would make every export throw for the life of the
  // process: it is dropped here with one warning naming it (never its value, often a secret).
  const exportHeaders = (name: string): Record<string, string> => {
    const all = r.pairs(name, true);
    const bad: string[] = [];
    for (const [k, v] of Object.entries(all)) {
      const why = headerProblem(k, v, protocol === 'grpc');
      if (!why) continue;
      bad.push(`${JSON.stringify(k)} ${why}`);
      delete all[k];
    }
    if (bad.length) r.warn(name, '', `has ${bad.length > 1 ? 'entries' : 'an entry'} that cannot be sent as a header (${bad.join('; ')})`, 'the other entries', true);
    return all;
  };
  const headers = { ...exportHeaders('OTEL_EXPORTER_OTLP_HEADERS'), ...exportHeaders('OTEL_EXPORTER_OTLP_TRACES_HEADERS') };
  const timeoutMs = r.int('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', r.int('OTEL_EXPORTER_OTLP_TIMEOUT', 10000, 1, 600000), 1, 600000);
  const compression = r.oneOf<'gzip' | 'none'>(
    'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
    ['gzip', 'none'],
    r.oneOf<'gzip' | 'none'>('OTEL_EXPORTER_OTLP_COMPRESSION', ['gzip', 'none'], 'none'),
  );
  // An unreadable TLS file would otherwise take the whole exporter down at startup; warn and use the default instead.
  const readable = (name: string): string | undefined => {
    const v = r.raw(name);
    if (v === undefined) return undefined;
    const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
    try {
      fs.accessSync(v, fs.constants.R_OK);
      if (!fs.statSync(v).isFile()) throw Object.assign(new Error('not a file'), { code: 'not a file' });
      return v;
    } catch (e) {
      r.warn(name, v, `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, 'the default');
      return undefined;
    }
  };
  const file = (specificName: string, generalName: string): string | undefined => readable(specificName) ?? readable(generalName);
  for (const n of [
    'OTEL_EXPORTER_OTLP_CERTIFICATE',
    'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE',
    'OTEL_EXPORTER_OTLP_CLIENT_KEY',
    'OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY',
    'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE',
    'OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE',
  ])
    r.note(n, r.raw(n));
  const otlp: OtlpConfig = Object.freeze({
    endpoint,
    protocol,
    headers: Object.freeze(headers),
    timeoutMs,
    compression,
    certificate: file('OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE', 'OTEL_EXPORTER_OTLP_CERTIFICATE'),
    clientKey: file('OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY', 'OTEL_EXPORTER_OTLP_CLIENT_KEY'),
    clientCertificate: file('OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE', 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE'),
  });

  const zipkinEndpoint =
    validUrl(r, 'OTEL_EXPORTER_ZIPKIN_ENDPOINT', r.raw('OTEL_EXPORTER_ZIPKIN_ENDPOINT')) ?? 'http://localhost:9411/api/v2/spans';
  r.note('OTEL_EXPORTER_ZIPKIN_ENDPOINT', r.raw('OTEL_EXPORTER_ZIPKIN_ENDPOINT'));

  const samplerName = r.oneOf<SamplerName>('OTEL_TRACES_SAMPLER', SAMPLERS, 'parentbased_always_on');
  let ratio = 1;
  const argRaw = r.raw('OTEL_TRACES_SAMPLER_ARG');
  r.note('OTEL_TRACES_SAMPLER_ARG', argRaw);
  if (argRaw !== undefined) {
    const n = Number(argRaw);
    if (!Number.isFinite(n) || n < 0 || n > 1) r.warn('OTEL_TRACES_SAMPLER_ARG', argRaw, 'is not a number in [0, 1]', 'the default (1.0)');
    else ratio = n;
  }

  let propagators = r.list('OTEL_PROPAGATORS', PROPAGATORS, ['tracecontext', 'baggage']);
  if (propagators.includes('none')) propagators = [];

  let maxQueueSize = r.int('OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1, 1_000_000);
  let maxExportBatchSize = r.int('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1, 1_000_000);
  // Only a batch size the user set is worth a warning; the default simply follows a smaller queue.
  if (maxExportBatchSize > maxQueueSize && r.raw('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') !== undefined) {
    r.warn(
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      String(maxExportBatchSize),
      `is larger than OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize})`,
      `${maxQueueSize}`,
    );
    maxExportBatchSize = maxQueueSize;
  } else if (maxExportBatchSize > maxQueueSize) maxExportBatchSize = maxQueueSize;
  const bsp = {
    scheduleDelayMs: r.int('OTEL_BSP_SCHEDULE_DELAY', 5000, 0, 3_600_000),
    exportTimeoutMs: r.int('OTEL_BSP_EXPORT_TIMEOUT', 30000, 1, 3_600_000),
    maxQueueSize,
    maxExportBatchSize,
  };

  const INF = Number.POSITIVE_INFINITY;
  const generalLen = r.int('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', INF as number, 0, Number.MAX_SAFE_INTEGER);
  const generalCount = r.int('OTEL_ATTRIBUTE_COUNT_LIMIT', 128, 0, 1_000_000);
  const spanLimits = {
    attributeValueLengthLimit: r.int('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', generalLen, 0, Number.MAX_SAFE_INTEGER),
    attributeCountLimit: r.int('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', generalCount, 0, 1_000_000),
    eventCountLimit: r.int('OTEL_SPAN_EVENT_COUNT_LIMIT', 128, 0, 1_000_000),
    linkCountLimit: r.int('OTEL_SPAN_LINK_COUNT_LIMIT', 128, 0, 1_000_000),
    attributePerEventCountLimit: r.int('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', 128, 0, 1_000_000),
    attributePerLinkCountLimit: r.int('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', 128, 0, 1_000_000),
  };

  const names: readonly string[] = INSTRUMENTATION_NAMES;
  const enabledRaw = r.raw('OTEL_NODE_ENABLED_INSTRUMENTATIONS');
  const enabledList = enabledRaw === undefined ? [] : r.list('OTEL_NODE_ENABLED_INSTRUMENTATIONS', names, [], 'all');
  const enabledInstrumentations = enabledList.length ? enabledList : null;
  const disabledInstrumentations = r.list('OTEL_NODE_DISABLED_INSTRUMENTATIONS', names, []);

  let resourceDetectors = r.list('OTEL_NODE_RESOURCE_DETECTORS', DETECTORS, ['env', 'host', 'os', 'process']);
  if (resourceDetectors.includes('none')) resourceDetectors = [];
  if (resourceDetectors.includes('all')) resourceDetectors = ['env', 'host', 'os', 'process', 'serviceinstance'];

  let metricsExporters = r.list('OTEL_METRICS_EXPORTER', SIGNAL_EXPORTERS, []);
  if (metricsExporters.includes('none')) metricsExporters = [];
  let logsExporters = r.list('OTEL_LOGS_EXPORTER', SIGNAL_EXPORTERS, []);
  if (logsExporters.includes('none')) logsExporters = [];
  const signalUrl = (name: string, path: string): string => {
    const v = validUrl(r, name, r.raw(name));
    r.note(name, v && redactUrl(v));
    if (v) return v;
    if (protocol === 'grpc') return base ?? 'http://localhost:4317';
    return (base ?? 'http://localhost:4318').replace(/\/+$/, '') + path;
  };
  const signals = Object.freeze({
    metricsEndpoint: signalUrl('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', '/v1/metrics'),
    logsEndpoint: signalUrl('OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', '/v1/logs'),
    metricIntervalMs: r.int('OTEL_METRIC_EXPORT_INTERVAL', 60000, 1, 3_600_000),
  });

  let logCorrelation = r.list('OTEL_AGENT_LOG_CORRELATION', ['pino', 'winston', 'bunyan', 'console', 'none'], ['pino', 'winston', 'bunyan']);
  if (logCorrelation.includes('none')) logCorrelation = [];

  // Header names are RFC 9110 tokens; anything else can never match a header and is a typo worth a warning.
  const headerList = (n: string): string[] => {
    const items = r.list(n, null, []);
    const bad = items.filter((h) => !HEADER_TOKEN.test(h));
    if (bad.length) r.warn(n, r.raw(n) ?? '', `names invalid header name(s) ${bad.map((b) => JSON.stringify(b)).join(', ')}`, 'the rest of the list');
    return [...new Set(items.filter((h) => HEADER_TOKEN.test(h)))];
  };

  // Query parameter names, `*` as a wildcard: a name starts with a letter, `_`, `$` or `*` (`-1` or `1e12` is a typo, not a name).
  const queryNames = (n: string): string[] => {
    const items = r.list(n, null, []);
    const ok = (q: string): boolean => QUERY_NAME.test(q) && /[a-z]/.test(q);
    const bad = items.filter((q) => !ok(q));
    if (bad.length) r.warn(n, r.raw(n) ?? '', `names invalid query parameter name(s) ${bad.map((b) => JSON.stringify(b)).join(', ')}`, bad.length === items.length ? 'the default (none)' : 'the rest of the list');
    return [...new Set(items.filter(ok))];
  };

  const cfg: AgentConfig = {
    disabled,
    serviceName,
    resourceAttributes: Object.freeze(resourceAttributes),
    logLevel,
    tracesExporters: Object.freeze(tracesExporters as TracesExporterName[]),
    otlp,
    zipkinEndpoint,
    sampler: Object.freeze({ name: samplerName, ratio }),
    propagators: Object.freeze(propagators as PropagatorName[]),
    bsp: Object.freeze(bsp),
    spanLimits: Object.freeze(spanLimits),
    enabledInstrumentations: enabledInstrumentations && Object.freeze(enabledInstrumentations),
    disabledInstrumentations: Object.freeze(disabledInstrumentations),
    resourceDetectors: Object.freeze(resourceDetectors),
    metricsExporters: Object.freeze(metricsExporters),
    logsExporters: Object.freeze(logsExporters),
    signals,
    agent: Object.freeze({
      logCorrelation: Object.freeze(logCorrelation),
      queueHooks: r.str('OTEL_AGENT_QUEUE_HOOKS', ''),
      enableInWorkers: r.bool('OTEL_AGENT_ENABLE_IN_WORKERS', false),
      flushTimeoutMs: r.int('OTEL_AGENT_FLUSH_TIMEOUT', 2000, 0, 600_000),
      esmHooks: r.oneOf<'auto' | 'sync' | 'async' | 'off'>('OTEL_AGENT_ESM_HOOKS', ['auto', 'sync', 'async', 'off'], 'auto'),
      redactQueryParams: Object.freeze(queryNames('OTEL_AGENT_REDACT_QUERY_PARAMS')),
      fsSpans: r.oneOf<'io' | 'all'>('OTEL_AGENT_FS_SPANS', ['io', 'all'], 'io'),
      doctorReport: r.str('OTEL_AGENT_DOCTOR_REPORT', ''),
      testFaults: Object.freeze(r.list('OTEL_AGENT_TEST_FAULTS', TEST_FAULTS, [])),
    }),
    http: Object.freeze({
      captureServerRequestHeaders: headerList('OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST'),
      captureServerResponseHeaders: headerList('OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE'),
      captureClientRequestHeaders: headerList('OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST'),
      captureClientResponseHeaders: headerList('OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE'),
    }),
    sources: {},
    warnings: Object.freeze([...r.warnings]),
  };
  for (const v of VARS) {
    if (!r.sources[v.name]) r.sources[v.name] = { value: v.default, source: 'default' };
  }
  cfg.sources = Object.freeze(r.sources);
  return Object.freeze(cfg);
}

/** Reads only the switches the thin entry needs, so a disabled agent loads nothing else. */
export function earlyFlags(env: Env = process.env): { disabled: boolean; enableInWorkers: boolean } {
  const d = (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase();
  const w = (env.OTEL_AGENT_ENABLE_IN_WORKERS ?? '').trim().toLowerCase();
  return { disabled: d === 'true', enableInWorkers: w === 'true' };
}

/** The environment, as a read-only snapshot, for things that must pass it on unchanged (e.g. the doctor's child process). */
export function envSnapshot(): Readonly<Env> {
  return Object.freeze({ ...process.env });
}

/** True once per message per process: used so a bad value is reported one time, not per component. */
export function firstTime(key: string): boolean {
  if (warned.has(key)) return false;
  warned.add(key);
  return true;
}

