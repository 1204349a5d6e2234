/**
 * http.client.request.duration for fetch() counts every call, sampled or not: with the
 * sampler at always_off (no span recorded at all), 30 fetches and one refused connection are
 * 31 points' worth of counts, split by status and error.type, with the server's address, port,
 * scheme, method and protocol version on each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

describe.each(VARIANTS)('fetch client duration metric (%s)', (ext) => {
  it('every fetch is counted at always_off, by status and error.type', async () => {
    const service = `fetch-metrics-${ext}`;
    const r = await runFixture({
      fixture: `metrics/fetched.${ext}`,
      endpoint: rx.url,
      env: {
        OTEL_SERVICE_NAME: service,
        REQUESTS: '30',
        OTEL_TRACES_SAMPLER: 'always_off',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_AGENT_RUNTIME_METRICS: 'false',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('REFUSED ECONNREFUSED');
    const points = rx.metrics().filter((p) => p.resource['service.name'] === service && p.name === 'http.client.request.duration');
    expect(new Set(points.map((p) => p.scope))).toEqual(new Set(['@x/otel-agent/undici']));
    const counts: Record<string, number> = {};
    for (const p of points) {
      const k = `${String(p.attributes['http.response.status_code'])} ${String(p.attributes['error.type'])}`;
      counts[k] = (counts[k] ?? 0) + p.count!;
    }
    expect(counts).toEqual({ '200 undefined': 10, '404 404': 10, '500 500': 10, 'undefined ECONNREFUSED': 1 });
    for (const p of points) {
      expect(p.unit).toBe('s');
      expect(p.attributes).toMatchObject({ 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'url.scheme': 'http' });
      expect(typeof p.attributes['server.port']).toBe('number');
      if (p.attributes['error.type'] !== 'ECONNREFUSED') expect(p.attributes['network.protocol.version']).toBe('1.1');
    }
    // Nothing was sampled: no spans at all.
    expect(rx.spans().filter((s) => s.resource['service.name'] === service)).toEqual([]);
  });
});
