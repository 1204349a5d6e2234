/**
 * Metric points recorded just before the process ends are delivered: process.exit() and a
 * SIGTERM with no handler of the app's leave only synchronous work, and the metrics go through
 * the same exit-time flush as the spans (collected synchronously by the agent's own SDK).
 * The export interval is an hour, so nothing but the exit flush can deliver them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvMetricPoint } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});
beforeEach(() => rx.clear());

function countsBy(points: RecvMetricPoint[], name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points.filter((q) => q.name === name)) {
    const k = String(p.attributes['http.response.status_code']);
    out[k] = (out[k] ?? 0) + p.count!;
  }
  return out;
}

describe.each(VARIANTS)('metrics at process end (%s)', (ext) => {
  it.each([
    ['exit', 'http/protobuf'],
    ['sigterm', 'http/protobuf'],
    ['exit', 'http/json'],
    ['sigterm', 'grpc'],
  ])('every request counted when the process ends by %s (%s)', async (how, protocol) => {
    const r = await runFixture({
      fixture: `metrics/exit-now.${ext}`,
      endpoint: protocol === 'grpc' ? rx.grpcUrl : rx.url,
      env: {
        EXIT_HOW: how,
        REQUESTS: '30',
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_METRIC_EXPORT_INTERVAL: '3600000',
      },
    });
    // The process ends as it would without the agent.
    if (how === 'exit') expect(r.code, r.stderr).toBe(3);
    else expect(r.signal, r.stderr).toBe('SIGTERM');
    expect(r.stderr).not.toMatch(/could not export|warn/i);
    const points = rx.metrics();
    expect(countsBy(points, 'http.server.request.duration')).toEqual({ '200': 10, '404': 10, '500': 10 });
    expect(countsBy(points, 'http.client.request.duration')).toEqual({ '200': 10, '404': 10, '500': 10 });
    // One export, at exit, with the runtime metrics beside the request metrics.
    expect(rx.requests().filter((q) => q.path.includes('metrics'))).toHaveLength(1);
    expect(points.some((p) => p.name === 'process.memory.usage')).toBe(true);
    // The spans went in the same flush (a batch in flight when the process ended may be sent twice: ids, not copies).
    expect(
      new Set(
        rx
          .spans()
          .filter((s) => s.kind === 'SERVER')
          .map((s) => s.spanId),
      ).size,
    ).toBe(30);
  });
});
