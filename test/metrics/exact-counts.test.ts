/**
 * RED metrics are exact at any sampling rate: at 1% trace sampling, 1,000 requests give
 * http.server.request.duration (and the client's) counts of exactly 1,000, split by
 * route and status, while only about ten traces are kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvMetricPoint } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

/** Delta points summed: every request counted once, however many exports carried them. */
function countsBy(points: RecvMetricPoint[], name: string, keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points.filter((q) => q.name === name)) {
    const k = keys.map((key) => String(p.attributes[key])).join(' ');
    out[k] = (out[k] ?? 0) + p.count!;
  }
  return out;
}

describe.each(VARIANTS)('exact request counts at 1 percent sampling (%s)', (ext) => {
  it('1,000 requests are 1,000 in http.server/client.request.duration, by route and status', async () => {
    const service = `exact-${ext}`;
    const r = await runFixture({
      fixture: `metrics/routed.${ext}`,
      endpoint: rx.url,
      timeoutMs: 60_000,
      env: {
        OTEL_SERVICE_NAME: service,
        REQUESTS: '1000',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.01',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_AGENT_RUNTIME_METRICS: 'false',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
        // Several exports during the run, so the sum across them is what is checked.
        OTEL_METRIC_EXPORT_INTERVAL: '100',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const points = rx.metrics().filter((p) => p.resource['service.name'] === service);
    expect(points.every((p) => p.name.startsWith('http.') === false || p.temporality === 'delta')).toBe(true);
    expect(countsBy(points, 'http.server.request.duration', ['http.route', 'http.response.status_code', 'http.request.method'])).toEqual({
      '/items/:id 200 GET': 334,
      '/items/:id 404 GET': 333,
      '/items/:id 500 GET': 333,
    });
    expect(countsBy(points, 'http.client.request.duration', ['http.response.status_code'])).toEqual({ '200': 334, '404': 333, '500': 333 });
    // The traces really were sampled at about 1% (expected 10 of 1,000 client roots; 100 is far out in the tail).
    const servers = rx.spans().filter((s) => s.resource['service.name'] === service && s.kind === 'SERVER');
    expect(servers.length).toBeLessThan(100);
  });
});
