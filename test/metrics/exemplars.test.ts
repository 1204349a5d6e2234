/**
 * Exemplars: http.server.request.duration points carry the trace and span id of sampled
 * requests (OTEL_METRICS_EXEMPLAR_FILTER, default trace_based), so a slow bucket leads to a
 * trace the backend has; unsampled requests give none under trace_based.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});
beforeEach(() => rx.clear());

async function run(ext: string, env: Record<string, string>) {
  const r = await runFixture({
    fixture: `metrics/requests.${ext}`,
    endpoint: rx.url,
    env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_AGENT_RUNTIME_METRICS: 'false', ...env },
  });
  expect(r.code, r.stderr).toBe(0);
  const server = rx.metrics().filter((p) => p.name === 'http.server.request.duration');
  const count = server.reduce((n, p) => n + p.count!, 0);
  const spans = rx.spans().filter((s) => s.kind === 'SERVER');
  return { server, count, exemplars: server.flatMap((p) => p.exemplars.map((e) => ({ ...e, point: p }))), spans };
}

describe.each(VARIANTS)('exemplars (%s)', (ext) => {
  it('point at the SERVER spans the backend got, one per bucket, inside that bucket', async () => {
    const { server, count, exemplars, spans } = await run(ext, { REQUESTS: '30' });
    expect(count).toBe(30);
    expect(server.map((p) => p.attributes['http.response.status_code']).sort()).toEqual([200, 404, 500]);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    for (const p of server) expect(p.exemplars.length, JSON.stringify(p.attributes)).toBeGreaterThan(0);
    for (const e of exemplars) {
      const span = byId.get(e.spanId);
      expect(span, e.spanId).toBeDefined();
      expect(e.traceId).toBe(span!.traceId);
      // The span is the request of that point.
      expect(span!.attributes['http.response.status_code']).toBe(e.point.attributes['http.response.status_code']);
      // Within its bucket: at most one exemplar per bucket, each inside the bucket's bounds.
      const bounds = e.point.bounds!;
      const i = bounds.findIndex((b) => e.value <= b);
      const bucket = i < 0 ? bounds.length : i;
      expect(e.point.bucketCounts![bucket]).toBeGreaterThan(0);
    }
    for (const p of server) {
      const buckets = p.exemplars.map((e) => p.bounds!.findIndex((b) => e.value <= b));
      expect(new Set(buckets).size).toBe(buckets.length);
    }
  });

  it('fetch: http.client.request.duration exemplars carry the CLIENT span of that call', async () => {
    await run(ext, { REQUESTS: '30', CLIENT: 'fetch' });
    const client = rx.metrics().filter((p) => p.name === 'http.client.request.duration');
    expect(client.reduce((n, p) => n + p.count!, 0)).toBe(30);
    const spans = new Map(
      rx
        .spans()
        .filter((s) => s.kind === 'CLIENT')
        .map((s) => [s.spanId, s]),
    );
    const exemplars = client.flatMap((p) => p.exemplars.map((e) => ({ ...e, point: p })));
    expect(exemplars.length).toBeGreaterThan(0);
    for (const e of exemplars) {
      const span = spans.get(e.spanId);
      expect(span, e.spanId).toBeDefined();
      expect(span!.scope.name).toBe('@x/otel-agent/undici');
      expect(span!.attributes['http.response.status_code']).toBe(e.point.attributes['http.response.status_code']);
    }
  });

  it('at 5% sampling, only sampled requests become exemplars (trace_based)', async () => {
    const { count, exemplars, spans } = await run(ext, {
      REQUESTS: '300',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.05',
    });
    expect(count).toBe(300);
    const ids = new Set(spans.map((s) => s.spanId));
    expect(spans.length).toBeLessThan(100);
    for (const e of exemplars) expect(ids.has(e.spanId), e.spanId).toBe(true);
    if (spans.length > 0) expect(exemplars.length).toBeGreaterThan(0);
  });

  it('none when nothing is sampled; always_on gives them anyway, always_off never', async () => {
    const off = await run(ext, { REQUESTS: '30', OTEL_TRACES_SAMPLER: 'always_off' });
    expect(off.count).toBe(30);
    expect(off.spans).toEqual([]);
    expect(off.exemplars).toEqual([]);

    rx.clear();
    const on = await run(ext, { REQUESTS: '30', OTEL_TRACES_SAMPLER: 'always_off', OTEL_METRICS_EXEMPLAR_FILTER: 'always_on' });
    expect(on.count).toBe(30);
    expect(on.exemplars.length).toBeGreaterThan(0);
    // The unsampled request's own trace id: a real one, that no backend has.
    for (const e of on.exemplars) expect(e.traceId).toMatch(/^[0-9a-f]{32}$/);

    rx.clear();
    const never = await run(ext, { REQUESTS: '30', OTEL_METRICS_EXEMPLAR_FILTER: 'always_off' });
    expect(never.count).toBe(30);
    expect(never.spans.length).toBe(30);
    expect(never.exemplars).toEqual([]);
  });
});
