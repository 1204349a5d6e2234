/**
 * The OpenTelemetry configuration data model (file_format 1.x, the schema of
 * open-telemetry/opentelemetry-configuration) mapped onto the variables of
 * src/config/spec.ts: a file becomes the same typed, validated, frozen
 * AgentConfig an environment gives, through the same reader, so a value means
 * the same wherever it came from and is checked the same way.
 *
 * What the model says that the agent cannot do (a second OTLP trace exporter,
 * a sampler the agent does not have, a view) and keys the model does not have
 * get one warning each, naming the file, the line and the key; the rest of
 * the file still applies. docs/configuration-file.md lists what is read.
 */
import type { Data, Parsed } from './parse';
import type { RuleKind, SamplingRuleSpec } from '../../sampling/rules';
import type { RouteCaptureSpec } from '../../instrumentations/http/route-capture';
import { HEADER_NAME } from '../spec';

export interface Mapped {
  /** Spec variable -> value, as an environment would have given it. */
  vars: Record<string, string>;
  /** Spec variable -> `config.yaml:12 tracer_provider.processors[0].batch.schedule_delay`, for warnings and the doctor. */
  origin: Record<string, string>;
  warnings: string[];
  /** `tracer_provider.sampler.rule_based/development.rules` (sampling-rules.md). */
  samplingRules?: SamplingRuleSpec[];
  /** `instrumentation/development.js.http.{server,client}.routes`: header capture per route (configuration-file.md). */
  httpRoutes?: HttpRoutes;
}

export interface HttpRoutes {
  server: RouteCaptureSpec[];
  client: RouteCaptureSpec[];
}

type Obj = { [key: string]: Data };
type Handler = (v: Data, path: string) => void;

const isObj = (v: Data): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const scalarText = (v: Data): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);
/** `key=value` for OTEL_*_HEADERS / OTEL_RESOURCE_ATTRIBUTES, the reader percent-decodes values. */
const pair = (k: string, v: string): string => `${k}=${encodeURIComponent(v)}`;

const SAMPLERS: Record<string, string> = { always_on: 'always_on', always_off: 'always_off', trace_id_ratio_based: 'traceidratio' };
const PROPAGATORS = new Set(['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger']);
const DETECTORS: Record<string, string> = { host: 'host', os: 'os', process: 'process', service: 'serviceinstance' };

export function mapModel(parsed: Parsed, file: string): Mapped {
  const out: Mapped = { vars: {}, origin: {}, warnings: [] };
  const at = (path: string): string => {
    const line = parsed.lines.get(path);
    return `${file}${line ? `:${line}` : ''} ${path}`;
  };
  const warn = (path: string, what: string): void => void out.warnings.push(`${at(path)} ${what}`);
  const set = (name: string, value: string | undefined, path: string): void => {
    if (value === undefined) return;
    if (name in out.vars) return warn(path, `is ignored: ${out.origin[name]} already set it`);
    out.vars[name] = value;
    out.origin[name] = at(path);
  };
  /** A mapping whose keys are each handled, or warned about. */
  const object = (v: Data, path: string, keys: Record<string, Handler>): void => {
    if (v === null) return;
    if (!isObj(v)) return warn(path, 'is not a mapping; ignored');
    for (const [k, val] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k;
      const h = keys[k];
      if (h) h(val, p);
      else warn(p, `is not a key this agent reads here; ignored`);
    }
  };
  const scalar =
    (name: string, kind: 'any' | 'bool' | 'number' = 'any'): Handler =>
    (v, path) => {
      if (v === null) return;
      const t = scalarText(v);
      if (t === undefined || (kind === 'bool' && typeof v !== 'boolean') || (kind === 'number' && typeof v !== 'number'))
        return warn(path, `should be a ${kind === 'any' ? 'scalar' : kind === 'bool' ? 'boolean' : 'number'}; ignored`);
      set(name, t, path);
    };
  const unsupported =
    (why: string): Handler =>
    (v, path) =>
      v !== null && warn(path, `is not supported by this agent (${why}); ignored`);
  const list = (v: Data, path: string, each: (item: Data, path: string) => void): void => {
    if (v === null) return;
    if (!Array.isArray(v)) return warn(path, 'is not a list; ignored');
    v.forEach((item, i) => each(item, `${path}[${i}]`));
  };
  /** `[{name, value}]` lists (headers, resource attributes) to `k=v,...`; the model says they win over the `*_list` string form, so it goes first. */
  const pairs = (items: Data, listText: Data, path: string): string | undefined => {
    const parts: string[] = [];
    if (typeof listText === 'string' && listText.trim()) parts.push(listText.trim());
    list(items, `${path}`, (item, p) => {
      if (!isObj(item) || typeof item.name !== 'string') return warn(p, 'should be {name, value}; ignored');
      if (item.value === null || item.value === undefined) return warn(p, `(${item.name}) has no value (an unset variable?); ignored`);
      const value = scalarText(item.value);
      if (value === undefined) return warn(p, `(${item.name}) has a value that is not a scalar; ignored`);
      parts.push(pair(item.name, value));
    });
    return parts.length ? parts.join(',') : undefined;
  };
  const one = (v: Data, path: string): [string, Data] | undefined => {
    if (!isObj(v) || Object.keys(v).length !== 1) {
      warn(path, 'should name exactly one kind; ignored');
      return undefined;
    }
    return Object.entries(v)[0]!;
  };

  // One OTLP exporter per signal: the agent has one pipeline each.
  const exporter = (signal: 'TRACES' | 'METRICS' | 'LOGS', chosen: string[]) => (v: Data, path: string) => {
    const e = one(v, path);
    if (!e) return;
    const [kind, cfg] = e;
    const p = `${path}.${kind}`;
    if (kind === 'console') return void chosen.push('console');
    if (kind === 'zipkin' && signal === 'TRACES') {
      chosen.push('zipkin');
      return object(cfg, p, { endpoint: scalar('OTEL_EXPORTER_ZIPKIN_ENDPOINT'), timeout: unsupported('the Zipkin timeout is fixed') });
    }
    if (kind !== 'otlp_http' && kind !== 'otlp_grpc') return warn(p, 'is not an exporter this agent has; ignored');
    if (chosen.includes('otlp')) return warn(p, 'is a second OTLP exporter for this signal; only the first is used');
    chosen.push('otlp');
    const prefix = `OTEL_EXPORTER_OTLP_${signal}`;
    const c = isObj(cfg) ? cfg : {};
    // Every signal has its own OTLP settings (OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*).
    set(`${prefix}_PROTOCOL`, kind === 'otlp_grpc' ? 'grpc' : c.encoding === 'json' ? 'http/json' : 'http/protobuf', p);
    object(cfg, p, {
      endpoint: scalar(`${prefix}_ENDPOINT`),
      encoding: () => undefined,
      compression: scalar(`${prefix}_COMPRESSION`),
      timeout: scalar(`${prefix}_TIMEOUT`, 'number'),
      headers: (h, hp) => set(`${prefix}_HEADERS`, pairs(h, isObj(cfg) ? (cfg.headers_list ?? null) : null, hp), hp),
      headers_list: (h, hp) => (isObj(cfg) && cfg.headers !== undefined ? undefined : set(`${prefix}_HEADERS`, pairs(null, h, hp), hp)),
      tls: (t, tp) =>
        object(t, tp, {
          ca_file: scalar(`${prefix}_CERTIFICATE`),
          key_file: scalar(`${prefix}_CLIENT_KEY`),
          cert_file: scalar(`${prefix}_CLIENT_CERTIFICATE`),
          insecure: () => undefined,
        }),
      temporality_preference:
        signal === 'METRICS'
          ? (t, tp) => (typeof t === 'string' ? set('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', t.replace('_', ''), tp) : scalar('')(t, tp))
          : unsupported('metrics only'),
      // Explicit buckets are what the agent does: saying so is not a problem.
      default_histogram_aggregation: (h, hp) => (h === null || h === 'explicit_bucket_histogram' ? undefined : unsupported('explicit buckets only')(h, hp)),
    });
  };

  const sampler = (v: Data, path: string): void => {
    const s = one(v, path);
    if (!s) return;
    const [kind, cfg] = s;
    if (kind === 'rule_based/development') {
      const p = `${path}.${kind}`;
      object(cfg, p, {
        rules: (l, lp) => {
          const rules: SamplingRuleSpec[] = [];
          list(l, lp, (item, ip) => {
            const r = rule(item, ip, rules.length + 1);
            if (r) rules.push(r);
          });
          out.samplingRules = rules;
        },
        fallback: (f, fp) => sampler(f, fp),
        drop_probes: scalar('OTEL_AGENT_DROP_PROBES', 'bool'),
      });
      return;
    }
    if (kind === 'parent_based') {
      const c = isObj(cfg) ? cfg : {};
      const root: [string, Data] | undefined = c.root === undefined ? ['always_on', null] : one(c.root, `${path}.parent_based.root`);
      if (!root) return;
      const base = SAMPLERS[root[0]];
      if (!base) return warn(`${path}.parent_based.root`, `${root[0]} is not a sampler this agent has; ignored`);
      // The agent's parent-based samplers follow a sampled parent and drop an unsampled one, as the model's defaults do.
      const dflt: Record<string, string> = {
        remote_parent_sampled: 'always_on',
        remote_parent_not_sampled: 'always_off',
        local_parent_sampled: 'always_on',
        local_parent_not_sampled: 'always_off',
      };
      for (const [k, val] of Object.entries(c)) {
        if (k === 'root') continue;
        const o = dflt[k] ? one(val, `${path}.parent_based.${k}`) : undefined;
        if (!dflt[k]) warn(`${path}.parent_based.${k}`, 'is not a key this agent reads here; ignored');
        else if (o && o[0] !== dflt[k]) warn(`${path}.parent_based.${k}`, `is not supported by this agent (only ${dflt[k]}); ignored`);
      }
      set('OTEL_TRACES_SAMPLER', `parentbased_${base}`, path);
      if (root[0] === 'trace_id_ratio_based') ratio(root[1], `${path}.parent_based.root.trace_id_ratio_based`);
      return;
    }
    const name = SAMPLERS[kind];
    if (!name) return warn(`${path}.${kind}`, 'is not a sampler this agent has; ignored');
    set('OTEL_TRACES_SAMPLER', name, path);
    if (kind === 'trace_id_ratio_based') ratio(cfg, `${path}.${kind}`);
  };
  const ratio = (cfg: Data, path: string): void => object(cfg, path, { ratio: scalar('OTEL_TRACES_SAMPLER_ARG', 'number') });
  const RULE_KINDS = ['server', 'client', 'producer', 'consumer', 'internal'];
  /** One sampling rule, or undefined (with a warning) when it cannot be used as written. */
  const rule = (v: Data, path: string, n: number): SamplingRuleSpec | undefined => {
    if (!isObj(v)) return void warn(path, 'should be a mapping with an action; ignored');
    const r: Partial<SamplingRuleSpec> = {};
    let bad = false;
    const no = (p: string, what: string): void => {
      bad = true;
      warn(p, `${what}; this rule is ignored`);
    };
    object(v, path, {
      action: (a, ap) => (a === 'drop' || a === 'sample' ? (r.action = a) : no(ap, 'should be drop or sample')),
      ratio: (x, xp) => (typeof x === 'number' && x >= 0 && x <= 1 ? (r.ratio = x) : no(xp, 'should be a number in [0, 1]')),
      span_kind: (k, kp) =>
        typeof k === 'string' && RULE_KINDS.includes(k.toLowerCase())
          ? (r.kind = k.toLowerCase() as RuleKind)
          : no(kp, `should be one of ${RULE_KINDS.join(', ')}`),
      span_name: (x, xp) => (typeof x === 'string' ? (r.name = x) : no(xp, 'should be a string')),
      attributes: (a, ap) => {
        if (!isObj(a)) return no(ap, 'should be a mapping of attribute name to value pattern');
        const attrs: Record<string, string> = {};
        for (const [k, x] of Object.entries(a)) {
          const t = scalarText(x);
          if (t === undefined) return no(`${ap}.${k}`, 'should be a value pattern');
          attrs[k] = t;
        }
        r.attributes = attrs;
      },
      override_parent: (x, xp) => (typeof x === 'boolean' ? (r.overrideParent = x) : no(xp, 'should be a boolean')),
    });
    if (!r.action && !bad) no(path, 'has no action (drop or sample)');
    if (bad || !r.action) return undefined;
    const what = [r.kind, r.name && `name=${r.name}`, ...Object.entries(r.attributes ?? {}).map(([k, x]) => `${k}=${x}`)].filter(Boolean).join(' ');
    return { ...r, action: r.action, label: `rule ${n} (${r.action}${r.action === 'sample' ? ` ${r.ratio ?? 1}` : ''}${what ? ` ${what}` : ''})` };
  };

  const batch = (prefix: 'BSP' | 'BLRP', signal: 'TRACES' | 'LOGS', chosen: string[]) => (v: Data, path: string) => {
    const e = one(v, path);
    if (!e) return;
    const [kind, cfg] = e;
    const p = `${path}.${kind}`;
    if (kind !== 'batch' && kind !== 'simple') return warn(p, 'is not a processor this agent has; ignored');
    if (kind === 'simple') warn(p, 'is run as a batch processor (the agent exports in batches, and flushes at exit)');
    const settings: Record<string, Handler> =
      prefix === 'BSP' && kind === 'batch'
        ? {
            schedule_delay: scalar('OTEL_BSP_SCHEDULE_DELAY', 'number'),
            export_timeout: scalar('OTEL_BSP_EXPORT_TIMEOUT', 'number'),
            max_queue_size: scalar('OTEL_BSP_MAX_QUEUE_SIZE', 'number'),
            max_export_batch_size: scalar('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'number'),
          }
        : kind === 'batch'
          ? {
              schedule_delay: scalar('OTEL_BLRP_SCHEDULE_DELAY', 'number'),
              export_timeout: scalar('OTEL_BLRP_EXPORT_TIMEOUT', 'number'),
              max_queue_size: scalar('OTEL_BLRP_MAX_QUEUE_SIZE', 'number'),
              max_export_batch_size: scalar('OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', 'number'),
            }
          : {};
    object(cfg, p, { ...settings, exporter: exporter(signal, chosen) });
  };

  const exporters = (name: string, chosen: string[], path: string): void => set(name, chosen.length ? chosen.join(',') : 'none', path);
  const root = parsed.data;
  if (!isObj(root)) {
    out.warnings.push(`${file} holds no configuration mapping; nothing in it is used`);
    return out;
  }
  const format = scalarText(root.file_format ?? null);
  if (format === undefined) warn('file_format', 'is missing; read as 1.x');
  else if (!/^1(\.|$)/.test(format)) warn('file_format', `"${format}" is not a 1.x format; read as 1.x where the keys agree`);

  // What the model says an absent section means: no tracer provider is a no-op one, no propagator propagates nothing,
  // no detection section detects nothing.
  if (root.tracer_provider === undefined || root.tracer_provider === null) {
    set('OTEL_TRACES_EXPORTER', 'none', 'tracer_provider');
    set('OTEL_TRACES_SAMPLER', 'always_off', 'tracer_provider');
  }
  if (root.propagator === undefined || root.propagator === null) set('OTEL_PROPAGATORS', 'none', 'propagator');
  const res = isObj(root.resource ?? null) ? (root.resource as Obj) : {};
  // `env` is not a detector here: it is how the agent applies OTEL_RESOURCE_ATTRIBUTES, which the file's attributes became.
  if (res['detection/development'] === undefined) set('OTEL_NODE_RESOURCE_DETECTORS', 'env', 'resource');
  object(root, '', {
    file_format: () => undefined,
    disabled: scalar('OTEL_SDK_DISABLED', 'bool'),
    // The model's severities (trace..fatal, with numbered steps) onto the agent's diagnostic levels.
    log_level: (v, p) => {
      const m = typeof v === 'string' ? /^(trace|debug|info|warn|error|fatal)\d?$/.exec(v) : null;
      if (!m) return warn(p, 'is not one of trace, debug, info, warn, error, fatal; ignored');
      set('OTEL_LOG_LEVEL', { trace: 'verbose', debug: 'debug', info: 'info', warn: 'warn', error: 'error', fatal: 'error' }[m[1]!], p);
    },
    attribute_limits: (v, p) =>
      object(v, p, {
        attribute_value_length_limit: scalar('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'number'),
        attribute_count_limit: scalar('OTEL_ATTRIBUTE_COUNT_LIMIT', 'number'),
        attribute_value_depth_limit: unsupported('attribute values are not nested'),
      }),
    resource: (v, p) => {
      const r = isObj(v) ? v : {};
      object(v, p, {
        attributes: (a, ap) => set('OTEL_RESOURCE_ATTRIBUTES', pairs(a, r.attributes_list ?? null, ap), ap),
        attributes_list: (a, ap) => (r.attributes !== undefined ? undefined : set('OTEL_RESOURCE_ATTRIBUTES', pairs(null, a, ap), ap)),
        'detection/development': (d, dp) =>
          object(d, dp, {
            detectors: (l, lp) => {
              const names: string[] = [];
              list(l, lp, (item, ip) => {
                const e = one(item, ip);
                if (e && DETECTORS[e[0]]) names.push(DETECTORS[e[0]]!);
                else if (e) warn(`${ip}.${e[0]}`, 'is not a detector this agent has (no cloud or container detector is bundled); ignored');
              });
              set('OTEL_NODE_RESOURCE_DETECTORS', ['env', ...names].join(','), lp);
            },
            attributes: unsupported('detected attributes are not filtered'),
          }),
        schema_url: unsupported('no schema URL is sent'),
      });
    },
    propagator: (v, p) => {
      const names: string[] = [];
      const add = (n: string, np: string): void => {
        if (!PROPAGATORS.has(n)) return warn(np, `${n} is not a propagator this agent has; ignored`);
        if (!names.includes(n)) names.push(n);
      };
      object(v, p, {
        composite: (l, lp) =>
          list(l, lp, (item, ip) => {
            const e = one(item, ip);
            if (e) add(e[0], ip);
          }),
        composite_list: (l, lp) => {
          if (typeof l !== 'string') return warn(lp, 'should be a comma list; ignored');
          for (const n of l
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean))
            add(n, lp);
        },
      });
      set('OTEL_PROPAGATORS', names.length ? names.join(',') : 'none', p);
    },
    tracer_provider: (v, p) => {
      // `tracer_provider:` with nothing under it is an absent one (set above), not a second say on the exporters.
      if (v === null) return;
      const chosen: string[] = [];
      object(v, p, {
        processors: (l, lp) => list(l, lp, batch('BSP', 'TRACES', chosen)),
        limits: (lv, lp) =>
          object(lv, lp, {
            attribute_value_length_limit: scalar('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'number'),
            attribute_count_limit: scalar('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'number'),
            event_count_limit: scalar('OTEL_SPAN_EVENT_COUNT_LIMIT', 'number'),
            link_count_limit: scalar('OTEL_SPAN_LINK_COUNT_LIMIT', 'number'),
            event_attribute_count_limit: scalar('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', 'number'),
            link_attribute_count_limit: scalar('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', 'number'),
            attribute_value_depth_limit: unsupported('attribute values are not nested'),
          }),
        sampler,
        'tracer_configurator/development': unsupported('tracers cannot be configured one by one'),
      });
      exporters('OTEL_TRACES_EXPORTER', chosen, `${p}.processors`);
    },
    meter_provider: (v, p) => {
      const chosen: string[] = [];
      object(v, p, {
        readers: (l, lp) =>
          list(l, lp, (item, ip) => {
            const e = one(item, ip);
            if (!e) return;
            if (e[0] !== 'periodic') return warn(`${ip}.${e[0]}`, 'is not supported by this agent (periodic readers only); ignored');
            object(e[1], `${ip}.periodic`, {
              interval: scalar('OTEL_METRIC_EXPORT_INTERVAL', 'number'),
              timeout: scalar('OTEL_METRIC_EXPORT_TIMEOUT', 'number'),
              exporter: exporter('METRICS', chosen),
              cardinality_limits: unsupported('the SDK default applies'),
              producers: unsupported('no extra metric producers'),
            });
          }),
        views: unsupported('no views'),
        exemplar_filter: unsupported('exemplars are not recorded yet'),
        'meter_configurator/development': unsupported('meters cannot be configured one by one'),
      });
      exporters('OTEL_METRICS_EXPORTER', chosen, `${p}.readers`);
    },
    logger_provider: (v, p) => {
      const chosen: string[] = [];
      object(v, p, {
        processors: (l, lp) => list(l, lp, batch('BLRP', 'LOGS', chosen)),
        limits: (l, lp) =>
          object(l, lp, {
            attribute_value_length_limit: scalar('OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'number'),
            attribute_count_limit: scalar('OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT', 'number'),
            attribute_value_depth_limit: unsupported('attribute values are not nested'),
          }),
        'logger_configurator/development': unsupported('loggers cannot be configured one by one'),
      });
      exporters('OTEL_LOGS_EXPORTER', chosen, `${p}.processors`);
    },
    'instrumentation/development': (v, p) => {
      const routes = instrumentation(v, p, { object, scalar, set, warn, list });
      if (routes) out.httpRoutes = routes;
    },
  });
  return out;
}

interface Kit {
  object(v: Data, path: string, keys: Record<string, Handler>): void;
  scalar(name: string, kind?: 'any' | 'bool' | 'number'): Handler;
  set(name: string, value: string | undefined, path: string): void;
  warn(path: string, what: string): void;
  list(v: Data, path: string, each: (item: Data, path: string) => void): void;
}

/** Agent settings in `instrumentation/development.js.agent` (the model leaves `js` to each language). */
const AGENT_KEYS: Record<string, string> = {
  fs_spans: 'OTEL_AGENT_FS_SPANS',
  web_spans: 'OTEL_AGENT_WEB_SPANS',
  runtime_metrics: 'OTEL_AGENT_RUNTIME_METRICS',
  queue_hooks: 'OTEL_AGENT_QUEUE_HOOKS',
  log_correlation: 'OTEL_AGENT_LOG_CORRELATION',
  redact_query_params: 'OTEL_AGENT_REDACT_QUERY_PARAMS',
  flush_timeout: 'OTEL_AGENT_FLUSH_TIMEOUT',
  enable_in_workers: 'OTEL_AGENT_ENABLE_IN_WORKERS',
  env_context: 'OTEL_AGENT_ENV_CONTEXT',
  esm_hooks: 'OTEL_AGENT_ESM_HOOKS',
  tail_sampling: 'OTEL_AGENT_TAIL_SAMPLING',
  tail_latency_threshold: 'OTEL_AGENT_TAIL_LATENCY_THRESHOLD',
  tail_max_spans: 'OTEL_AGENT_TAIL_MAX_SPANS',
  tail_max_spans_per_trace: 'OTEL_AGENT_TAIL_MAX_SPANS_PER_TRACE',
};

const listText = (v: Data): string | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(',') : typeof v === 'string' ? v : undefined;

function instrumentation(v: Data, path: string, k: Kit): HttpRoutes | undefined {
  const headers = (name: string) => (h: Data, hp: string) => {
    const t = listText(h);
    if (t === undefined) return k.warn(hp, 'should be a list of header names; ignored');
    k.set(name, t, hp);
  };
  const side = (dir: 'CLIENT' | 'SERVER') => (s: Data, sp: string) =>
    k.object(s, sp, {
      request_captured_headers: headers(`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_${dir}_REQUEST`),
      response_captured_headers: headers(`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_${dir}_RESPONSE`),
    });
  const disabled: string[] = [];
  let routes: HttpRoutes | undefined;
  k.object(v, path, {
    general: (g, gp) =>
      k.object(g, gp, {
        http: (h, hp) => k.object(h, hp, { client: side('CLIENT'), server: side('SERVER') }),
        stability_opt_in_list: (x, xp) =>
          x !== null && k.warn(xp, 'is not supported by this agent (it emits the stable HTTP and database conventions only); ignored'),
      }),
    js: (j, jp) => {
      if (j === null || typeof j !== 'object' || Array.isArray(j)) return k.warn(jp, 'is not a mapping; ignored');
      for (const [name, cfg] of Object.entries(j)) {
        const p = `${jp}.${name}`;
        if (name === 'agent') {
          const keys = Object.fromEntries(
            Object.entries(AGENT_KEYS).map(([key, env]): [string, Handler] => [
              key,
              (val, vp) => k.set(env, listText(val) ?? (typeof val === 'object' ? undefined : String(val)), vp),
            ]),
          );
          k.object(cfg, p, keys);
          continue;
        }
        // Any other key names an instrumentation: `enabled: false` turns it off (the reader checks the name).
        const enabled: Handler = (e, ep) => {
          if (typeof e !== 'boolean') return k.warn(ep, 'should be a boolean; ignored');
          if (!e) disabled.push(name);
        };
        if (name === 'http') {
          routes ??= { server: [], client: [] };
          const r = routes;
          k.object(cfg, p, {
            enabled,
            server: (s, sp) => k.object(s, sp, { routes: (l, lp) => k.list(l, lp, (item, ip) => route(item, ip, 'path', r.server, k)) }),
            client: (c, cp) => k.object(c, cp, { routes: (l, lp) => k.list(l, lp, (item, ip) => route(item, ip, 'url', r.client, k)) }),
          });
          continue;
        }
        k.object(cfg, p, { enabled });
      }
    },
  });
  if (disabled.length) k.set('OTEL_NODE_DISABLED_INSTRUMENTATIONS', disabled.join(','), `${path}.js`);
  return routes && (routes.server.length || routes.client.length) ? routes : undefined;
}

/** One `{path|url, request_captured_headers, response_captured_headers}` entry; warned about and left out when unusable. */
function route(v: Data, path: string, key: 'path' | 'url', into: RouteCaptureSpec[], k: Kit): void {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return k.warn(path, `should be a mapping with ${key} and header lists; ignored`);
  let match: string | undefined;
  let bad = false;
  const lists: { request: string[]; response: string[] } = { request: [], response: [] };
  const names =
    (which: 'request' | 'response'): Handler =>
    (h, hp) => {
      const t = listText(h);
      if (t === undefined) {
        bad = true;
        return k.warn(hp, 'should be a list of header names; this route is ignored');
      }
      for (const n of t
        .split(',')
        .map((x) => x.trim().toLowerCase())
        .filter(Boolean)) {
        if (HEADER_NAME.test(n)) lists[which].push(n);
        else k.warn(hp, `${JSON.stringify(n)} is not a header name; left out`);
      }
    };
  k.object(v, path, {
    [key]: (m, mp) => {
      if (typeof m === 'string' && m) match = m;
      else {
        bad = true;
        k.warn(mp, 'should be a pattern (`*` any run of characters); this route is ignored');
      }
    },
    request_captured_headers: names('request'),
    response_captured_headers: names('response'),
  });
  if (bad) return;
  if (match === undefined) return k.warn(path, `has no ${key}; ignored`);
  into.push({ match, request: lists.request, response: lists.response });
}
