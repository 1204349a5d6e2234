/**
 * The cardinality bound: each instrument keeps at most OTEL_AGENT_METRICS_CARDINALITY_LIMIT
 * attribute sets (2000 by default) per exporter, the last one being the overflow series
 * (`otel.metric.overflow=true`) that every later attribute set is counted in, so totals stay exact.
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
    fixture: `metrics/cardinality.${ext}`,
    endpoint: rx.url,
    env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_AGENT_RUNTIME_METRICS: 'false', ...env },
  });
  expect(r.code, r.stderr).toBe(0);
  const points = rx.metrics();
  return {
    stderr: r.stderr,
    server: points.filter((p) => p.name === 'http.server.request.duration'),
    orders: points.filter((p) => p.name === 'app.orders'),
  };
}

describe.each(VARIANTS)('cardinality limit (%s)', (ext) => {
  it('beyond the limit, attribute sets fold into the overflow series and totals stay exact', async () => {
    const { server, orders, stderr } = await run(ext, { OTEL_AGENT_METRICS_CARDINALITY_LIMIT: '5' });
    // One line per instrument that overflowed, naming the variable.
    const lines = stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.includes('OTEL_AGENT_METRICS_CARDINALITY_LIMIT') && l.includes('more than 4 attribute sets'))).toBe(true);
    expect(lines.map((l) => /metric "([^"]+)"/.exec(l)![1]).sort()).toEqual(['app.orders', 'http.client.request.duration', 'http.server.request.duration']);
    expect(server).toHaveLength(5);
    const overflow = server.filter((p) => p.attributes['otel.metric.overflow'] === true);
    expect(overflow).toHaveLength(1);
    expect(overflow[0]!.attributes).toEqual({ 'otel.metric.overflow': true });
    // The first four statuses keep their series (3 requests each); the other six are in the overflow.
    const kept = server.filter((p) => p !== overflow[0]).map((p) => [p.attributes['http.response.status_code'], p.count]);
    expect(kept.sort()).toEqual([
      [200, 3],
      [201, 3],
      [202, 3],
      [203, 3],
    ]);
    expect(overflow[0]!.count).toBe(18);
    // The app's own counter, through the API, gets the same bound.
    expect(orders).toHaveLength(5);
    expect(orders.reduce((n, p) => n + p.value!, 0)).toBe(30);
    expect(orders.find((p) => p.attributes['otel.metric.overflow'] === true)!.value).toBe(18);
    expect(orders.every((p) => p.monotonic === true && p.temporality === 'cumulative')).toBe(true);
  });

  it('the default limit (2000) keeps all ten', async () => {
    const { server, orders, stderr } = await run(ext, {});
    expect(stderr).toBe('');
    expect(server).toHaveLength(10);
    expect(server.every((p) => p.count === 3)).toBe(true);
    expect(orders.map((p) => p.attributes.kind).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9']);
  });
});
