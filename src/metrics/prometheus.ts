/**
 * OTEL_METRICS_EXPORTER=prometheus: a scrape endpoint (GET /metrics, the Prometheus
 * text exposition format 0.0.4) on OTEL_EXPORTER_PROMETHEUS_HOST:PORT. The only port
 * the agent ever opens, and only when asked.
 *
 * A minimal HTTP/1.1 responder on node:net rather than an http.Server: the agent's
 * http instrumentation wraps every http.Server, and the scrapes must not become
 * the app's SERVER spans, nor its request metrics. The listener and its
 * connections are unref'd: the endpoint never keeps a finished app alive. A
 * port in use is one warning; the app runs on without the endpoint.
 *
 * Names follow the OpenTelemetry-to-Prometheus rules: invalid characters to `_`,
 * the unit as a suffix (`s` -> `_seconds`, `By` -> `_bytes`), `_total` on counters,
 * up-down counters as gauges, histograms as `_bucket{le}`/`_sum`/`_count` with
 * cumulative buckets, the scope as `otel_scope_name`/`otel_scope_version`, and the
 * resource as `target_info`.
 */
import type * as netT from 'node:net';
import type { Attributes } from '@opentelemetry/api';
import type { AgentLog } from '../log';
import type { MetricData, ScopeData } from './sdk';
import type { ResourceLike } from './otlp-encode';

const UNITS: Record<string, string> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
};

const sanitize = (s: string, colons: boolean): string => {
  let out = s.replace(colons ? /[^a-zA-Z0-9_:]/g : /[^a-zA-Z0-9_]/g, '_').replace(/__+/g, '_');
  if (/^[0-9]/.test(out)) out = '_' + out;
  return out;
};

function unitSuffix(unit: string, gauge: boolean): string {
  // Annotations ({request}) say nothing a name needs.
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (!u) return '';
  if (u === '1') return gauge ? 'ratio' : '';
  const [a, b] = u.split('/');
  const name = (x: string): string => UNITS[x] ?? sanitize(x, false);
  return b !== undefined ? `${name(a!)}_per_${name(b)}` : name(a!);
}

/** The Prometheus metric family name of an OpenTelemetry metric. */
export function promName(m: Pick<MetricData, 'name' | 'unit' | 'kind'>): string {
  const counter = m.kind === 'counter' || m.kind === 'obs-counter';
  const gauge = !counter && m.kind !== 'histogram';
  let n = sanitize(m.name, true).replace(/_$/, '');
  const suffix = unitSuffix(m.unit, gauge);
  if (suffix && !n.endsWith(`_${suffix}`)) n += `_${suffix}`;
  if (counter && !n.endsWith('_total')) n += '_total';
  return n;
}

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function labelValue(v: unknown): string {
  return typeof v === 'string' ? v : Array.isArray(v) || (v && typeof v === 'object') ? JSON.stringify(v) : String(v);
}

function labels(attrs: Attributes, extra: [string, string][]): string {
  const merged = new Map<string, string>();
  for (const k of Object.keys(attrs)) {
    const key = sanitize(k, false);
    const v = labelValue(attrs[k]);
    // Two attributes that sanitize to one label: values joined with ';', as the specification says.
    merged.set(key, merged.has(key) ? `${merged.get(key)};${v}` : v);
  }
  for (const [k, v] of extra) merged.set(k, v);
  if (!merged.size) return '';
  return '{' + [...merged].map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',') + '}';
}

const num = (v: number): string => (v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : Number.isNaN(v) ? 'NaN' : String(v));

/** One scrape's body. */
export function exposition(scopes: ScopeData[], resource: ResourceLike): string {
  const families = new Map<string, { type: string; help: string; lines: string[] }>();
  for (const { scope, metrics } of scopes) {
    const scopeLabels: [string, string][] = [['otel_scope_name', scope.name]];
    if (scope.version) scopeLabels.push(['otel_scope_version', scope.version]);
    for (const m of metrics) {
      const name = promName(m);
      const type = m.kind === 'histogram' ? 'histogram' : m.kind === 'counter' || m.kind === 'obs-counter' ? 'counter' : 'gauge';
      let f = families.get(name);
      if (!f) families.set(name, (f = { type, help: m.description, lines: [] }));
      else if (f.type !== type) continue; // the same name with another type cannot be in one scrape
      for (const p of m.points) {
        if (type !== 'histogram') {
          f.lines.push(`${name}${labels(p.attributes, scopeLabels)} ${num(p.value)}`);
          continue;
        }
        const bounds = m.bounds ?? [];
        let cum = 0;
        const counts = p.bucketCounts ?? [];
        for (let i = 0; i < counts.length; i++) {
          cum += counts[i]!;
          const le = i < bounds.length ? num(bounds[i]!) : '+Inf';
          f.lines.push(`${name}_bucket${labels(p.attributes, [...scopeLabels, ['le', le]])} ${cum}`);
        }
        f.lines.push(`${name}_sum${labels(p.attributes, scopeLabels)} ${num(p.sum)}`);
        f.lines.push(`${name}_count${labels(p.attributes, scopeLabels)} ${p.count}`);
      }
    }
  }
  let out = '# HELP target_info Target metadata\n# TYPE target_info gauge\n' + `target_info${labels(resource.attributes, [])} 1\n`;
  for (const [name, f] of families) {
    if (!f.lines.length) continue;
    if (f.help) out += `# HELP ${name} ${escapeHelp(f.help)}\n`;
    out += `# TYPE ${name} ${f.type}\n${f.lines.join('\n')}\n`;
  }
  return out;
}

const HEAD_LIMIT = 16 << 10;

function answer(sock: netT.Socket, status: string, body: string, head: boolean, type = 'text/plain; charset=utf-8'): void {
  const b = Buffer.from(body, 'utf8');
  sock.end(
    Buffer.concat([
      Buffer.from(`HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nContent-Length: ${b.length}\r\nConnection: close\r\n\r\n`, 'latin1'),
      head ? Buffer.alloc(0) : b,
    ]),
  );
}

export interface PrometheusServer {
  close(): void;
}

export function startPrometheus(at: { host: string; port: number }, collect: () => ScopeData[], resource: ResourceLike, log: AgentLog): PrometheusServer {
  const net = process.getBuiltinModule('node:net') as typeof netT;
  const server = net.createServer((sock) => {
    sock.unref();
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) {
        if (got.length > HEAD_LIMIT) answer(sock, '431 Request Header Fields Too Large', '', false);
        return;
      }
      sock.removeListener('data', onData);
      const [method, target] = got.subarray(0, got.indexOf('\r\n')).toString('latin1').split(' ');
      const path = (target ?? '').split('?')[0];
      if (method !== 'GET' && method !== 'HEAD') return answer(sock, '405 Method Not Allowed', 'GET /metrics\n', false);
      if (path !== '/metrics' && path !== '/') return answer(sock, '404 Not Found', 'GET /metrics\n', method === 'HEAD');
      let body: string;
      try {
        body = exposition(collect(), resource);
      } catch (e) {
        log.rateLimited('prometheus-collect', `metrics: the Prometheus scrape failed (${e instanceof Error ? e.message : String(e)})`);
        return answer(sock, '500 Internal Server Error', '', false);
      }
      answer(sock, '200 OK', body, method === 'HEAD', 'text/plain; version=0.0.4; charset=utf-8');
    };
    sock.on('data', onData);
  });
  server.on('error', (e: NodeJS.ErrnoException) => {
    log.warn(
      `OTEL_METRICS_EXPORTER=prometheus: cannot listen on ${at.host}:${at.port} (${e.code ?? e.message}); no scrape endpoint for this process ` +
        `(set OTEL_EXPORTER_PROMETHEUS_PORT to a free port)`,
    );
  });
  // net takes an IPv6 address without the brackets a URL needs.
  server.listen(at.port, at.host.replace(/^\[(.*)\]$/, '$1'), () => log.debug(`metrics: Prometheus endpoint on http://${at.host}:${at.port}/metrics`));
  server.unref();
  return { close: () => server.close() };
}
