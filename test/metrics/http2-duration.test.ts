/**
 * http.server.request.duration and http.client.request.duration for node:http2 count every
 * stream, sampled or not: at 10% trace sampling, 120 client requests (200, 404, 500) and the
 * 40 the server makes to its compatibility-API neighbour are exactly those counts, by method,
 * route (when one was told), status and error.type, with network.protocol.version 2, and the
 * exemplars point at spans the receiver got.
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver, type RecvMetricPoint } from '../harness/otlp-receiver';
import { spansOf } from '../http/helpers';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const H2 = '@x/otel-agent/http2';
const ROUNDS = 40;

const ENV = {
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.1',
  OTEL_METRICS_EXPORTER: 'otlp',
  OTEL_AGENT_RUNTIME_METRICS: 'false',
  OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
};

/** POST /quit from the test process (untraced): the server exits. */
function quit(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', reject);
    const r = s.request({ ':path': '/quit', ':method': 'POST' });
    r.on('response', () => {
      r.resume();
      r.on('end', () => {
        s.close();
        resolve();
      });
    });
    r.on('error', reject);
    r.end();
  });
}

function counts(points: RecvMetricPoint[], keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points) {
    const k = keys.map((key) => String(p.attributes[key])).join(' ');
    out[k] = (out[k] ?? 0) + p.count!;
  }
  return out;
}

describe.each(VARIANTS)('HTTP/2 request duration metrics (%s)', (ext) => {
  const cs = `h2-metrics-cli-${ext}`;
  const ss = `h2-metrics-srv-${ext}`;
  const ports = { stream: 0, compat: 0 };
  const of = (service: string, name: string) => rx.metrics().filter((p) => p.resource['service.name'] === service && p.name === name);

  beforeAll(async () => {
    const mode = ext === 'cjs' ? 'require' : 'import';
    const srv = startFixture({ fixture: `http2/server.${ext}`, mode, endpoint: rx.url, env: { OTEL_SERVICE_NAME: ss, ...ENV } });
    [ports.stream, ports.compat] = (await srv.ready).split(' ').slice(1).map(Number) as [number, number];
    const paths = Array.from({ length: ROUNDS }, (_, i) => [`/orders/${i}`, '/nope', '/fail']).flat();
    try {
      const cli = startFixture({
        fixture: `http2/client.${ext}`,
        mode,
        endpoint: rx.url,
        env: { OTEL_SERVICE_NAME: cs, TARGET: `http://127.0.0.1:${ports.stream}`, PATHS: JSON.stringify(paths), ...ENV },
      });
      const c = await cli.result;
      expect(c.code, c.stderr).toBe(0);
      expect(c.stderr).toBe('');
      expect(c.stdout.trim().split('\n')).toHaveLength(3 * ROUNDS);
    } finally {
      await quit(ports.stream).catch(() => srv.child.kill('SIGTERM'));
    }
    const s = await srv.result;
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr, 'the agent printed warnings or errors').toBe('');
  }, 90_000);

  it('the client counts every request by status, with error.type, server address and protocol 2', () => {
    const points = of(cs, 'http.client.request.duration');
    expect(counts(points, ['http.response.status_code', 'error.type'])).toEqual({
      '200 undefined': ROUNDS,
      '404 404': ROUNDS,
      '500 500': ROUNDS,
    });
    for (const p of points) {
      expect(p.scope).toBe(H2);
      expect(p.unit).toBe('s');
      expect(p.temporality).toBe('delta');
      expect(p.attributes).toMatchObject({
        'http.request.method': 'GET',
        'server.address': '127.0.0.1',
        'server.port': ports.stream,
        'network.protocol.version': '2',
      });
    }
    // Most requests were not sampled (about 12 of 120 expected).
    expect(spansOf(rx, cs).filter((s) => s.kind === 'CLIENT').length).toBeLessThan(ROUNDS * 1.5);
  });

  it('the servers count every stream, with http.route only where a framework told it', () => {
    const points = of(ss, 'http.server.request.duration');
    expect(counts(points, ['http.request.method', 'http.route', 'http.response.status_code', 'error.type'])).toEqual({
      'GET undefined 200 undefined': ROUNDS,
      'GET undefined 404 undefined': ROUNDS,
      'GET undefined 500 500': ROUNDS,
      'GET /inventory/:sku 200 undefined': ROUNDS,
      'POST undefined 200 undefined': 1,
    });
    for (const p of points) {
      expect(p.scope).toBe(H2);
      expect(p.unit).toBe('s');
      expect(p.attributes).toMatchObject({ 'url.scheme': 'http', 'network.protocol.version': '2' });
    }
    // The stream server's calls to the compatibility-API one.
    const client = of(ss, 'http.client.request.duration');
    expect(counts(client, ['http.response.status_code', 'server.port'])).toEqual({ [`200 ${ports.compat}`]: ROUNDS });
  });

  it('exemplars point at spans the receiver got, of that status', () => {
    let seen = 0;
    for (const [service, name, kind] of [
      [cs, 'http.client.request.duration', 'CLIENT'],
      [ss, 'http.server.request.duration', 'SERVER'],
    ] as const) {
      const spans = new Map(spansOf(rx, service).map((s) => [s.spanId, s]));
      for (const p of of(service, name)) {
        for (const e of p.exemplars) {
          const span = spans.get(e.spanId);
          expect(span, `${name} exemplar ${e.spanId}`).toBeDefined();
          expect(span!.traceId).toBe(e.traceId);
          expect(span!.kind).toBe(kind);
          expect(span!.scope.name).toBe(H2);
          expect(span!.attributes['http.response.status_code']).toBe(p.attributes['http.response.status_code']);
          seen++;
        }
      }
    }
    // About 10% of 120 client roots were sampled; none at all would be a 3e-6 event.
    expect(seen).toBeGreaterThan(0);
  });
});
