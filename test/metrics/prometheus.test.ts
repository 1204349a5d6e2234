/**
 * OTEL_METRICS_EXPORTER=prometheus: a scrape endpoint on OTEL_EXPORTER_PROMETHEUS_HOST/PORT.
 * The scrape is parsed by a Prometheus text-format parser (parse-prometheus-text-format) and
 * checked line by line against the exposition format's rules; the counts are the requests made.
 * The app's own server is unaffected, the scrapes are neither traced nor counted, and a port in
 * use is one warning while the app runs on.
 */
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { startFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});
beforeEach(() => rx.clear());

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(`^(${NAME})(\\{${LABEL}(?:,${LABEL})*\\})? (-?[0-9.e+-]+|[+-]Inf|NaN)$`);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * The text format's rules, strictly (the npm parser is lenient, and folds a histogram's labelled
 * series into one): the syntax of every line, one TYPE per family before its samples, a family's
 * samples together. Returns every sample with its labels unescaped.
 */
function strictParse(text: string): Sample[] {
  expect(text.endsWith('\n')).toBe(true);
  const typed = new Map<string, string>();
  const done = new Set<string>();
  const samples: Sample[] = [];
  let current = '';
  for (const line of text.split('\n').slice(0, -1)) {
    if (line.startsWith('# HELP ')) continue;
    const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      expect(typed.has(t[1]!), `second TYPE for ${t[1]}`).toBe(false);
      typed.set(t[1]!, t[2]!);
      if (current) done.add(current);
      current = t[1]!;
      continue;
    }
    const m = SAMPLE.exec(line);
    expect(m, `not a valid sample line: ${line}`).not.toBeNull();
    const name = m![1]!;
    const family = typed.get(current) === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : name;
    expect(family, `${name} outside its family's block`).toBe(current);
    expect(done.has(family)).toBe(false);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      expect(labels[k!], `label ${k} twice in ${line}`).toBeUndefined();
      labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name, labels, value: m![3] === '+Inf' ? Infinity : Number(m![3]) });
  }
  return samples;
}

type Family = { name: string; type: string; help: string; metrics: { labels?: Record<string, string>; value?: string }[] };

interface Histogram {
  labels: Record<string, string>;
  buckets: [number, number][];
  sum: number;
  count: number;
}

/** A histogram family's series, keyed by their labels (without `le`). */
function histograms(samples: Sample[], family: string): Histogram[] {
  const out = new Map<string, Histogram>();
  for (const s of samples.filter((x) => x.name.startsWith(family + '_'))) {
    const { le, ...labels } = s.labels;
    const key = JSON.stringify(Object.entries(labels).sort());
    let h = out.get(key);
    if (!h) out.set(key, (h = { labels, buckets: [], sum: NaN, count: NaN }));
    if (s.name === `${family}_bucket`) h.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    else if (s.name === `${family}_sum`) h.sum = s.value;
    else if (s.name === `${family}_count`) h.count = s.value;
  }
  return [...out.values()];
}

async function scrape(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  const samples = strictParse(text);
  // The npm parser reads the same document: families, types and help texts.
  const families = new Map((parsePrometheusTextFormat(text) as Family[]).map((f) => [f.name, f]));
  return { text, samples, families, contentType: res.headers.get('content-type') };
}

describe.each(VARIANTS)('Prometheus endpoint (%s)', (ext) => {
  it('serves the request counts in the text format, untraced, beside the app', async () => {
    const port = await freePort();
    const f = startFixture({
      fixture: `metrics/served.${ext}`,
      endpoint: rx.url,
      env: {
        OTEL_METRICS_EXPORTER: 'prometheus',
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        OTEL_SERVICE_NAME: 'prom-app',
      },
    });
    try {
      const appPort = Number((await f.ready).split(' ')[1]);
      const first = await scrape(port);
      expect(first.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
      const family = first.families.get('http_server_request_duration_seconds')!;
      expect(family.type).toBe('HISTOGRAM');
      expect(family.help).toBe('Duration of HTTP server requests.');
      const h = histograms(first.samples, 'http_server_request_duration_seconds');
      const byStatus = Object.fromEntries(h.map((m) => [m.labels.http_response_status_code, m.count]));
      expect(byStatus).toEqual({ '200': 10, '404': 10, '500': 10 });
      for (const m of h) {
        expect(m.labels).toMatchObject({ http_request_method: 'GET', url_scheme: 'http', otel_scope_name: '@x/otel-agent/http' });
        // Buckets in order of their bounds, cumulative, the last (+Inf) equal to the count.
        expect(m.buckets.map((b) => b[0])).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, Infinity]);
        const counts = m.buckets.map((b) => b[1]);
        expect(counts).toEqual([...counts].sort((a, b) => a - b));
        expect(counts.at(-1)).toBe(m.count);
        expect(m.sum).toBeGreaterThan(0);
      }
      expect(histograms(first.samples, 'http_client_request_duration_seconds').reduce((n, m) => n + m.count, 0)).toBe(30);
      expect(first.families.get('target_info')!.metrics[0]!.labels).toMatchObject({ service_name: 'prom-app' });
      // Runtime metrics under Prometheus names: a counter gets _total, bytes their unit.
      expect(first.families.get('process_cpu_time_seconds_total')!.type).toBe('COUNTER');
      expect(first.families.get('process_memory_usage_bytes')!.type).toBe('GAUGE');

      // The app's own server answers as before; that request is counted, the scrapes are not.
      expect((await fetch(`http://127.0.0.1:${appPort}/ok`)).status).toBe(200);
      const second = await scrape(port);
      const after = histograms(second.samples, 'http_server_request_duration_seconds');
      expect(after.reduce((n, m) => n + m.count, 0)).toBe(31);
      // Other paths are not metrics.
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    } finally {
      f.child.kill('SIGTERM');
    }
    const r = await f.result;
    expect(r.signal, r.stderr).toBe('SIGTERM');
    expect(r.stderr).toBe('');
    // The spans: the app's 31 requests, nothing for the three requests to the scrape endpoint.
    const servers = rx.spans().filter((s) => s.kind === 'SERVER');
    expect(new Set(servers.map((s) => s.spanId)).size).toBe(31);
    expect(servers.filter((s) => String(s.attributes['url.path']).includes('metrics') || s.attributes['url.path'] === '/nope')).toEqual([]);
    // Only the one endpoint was pushed to: no OTLP metrics.
    expect(rx.requests().filter((q) => q.path.includes('metrics'))).toEqual([]);
  });

  it('a port in use is one warning, and the app runs on', async () => {
    const busy = net.createServer();
    const port = await new Promise<number>((resolve) => busy.listen(0, '127.0.0.1', () => resolve((busy.address() as net.AddressInfo).port)));
    const f = startFixture({
      fixture: `metrics/served.${ext}`,
      endpoint: rx.url,
      env: { OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) },
    });
    try {
      const appPort = Number((await f.ready).split(' ')[1]);
      expect((await fetch(`http://127.0.0.1:${appPort}/missing`)).status).toBe(404);
    } finally {
      f.child.kill('SIGTERM');
      busy.close();
    }
    const r = await f.result;
    expect(r.signal).toBe('SIGTERM');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    expect(lines[0]).toContain('OTEL_EXPORTER_PROMETHEUS_PORT');
    expect(
      new Set(
        rx
          .spans()
          .filter((s) => s.kind === 'SERVER')
          .map((s) => s.spanId),
      ).size,
    ).toBe(31);
  });
});
