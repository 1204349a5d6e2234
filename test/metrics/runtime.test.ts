/**
 * Runtime metrics (src/metrics/runtime.ts) as a backend receives them: the
 * semantic-convention names, units and attributes, with values a Node
 * process can have, from an app that allocates and blocks its event loop.
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

const of = (service: string): RecvMetricPoint[] => rx.metrics().filter((p) => p.resource['service.name'] === service);
const names = (points: RecvMetricPoint[]): string[] => [...new Set(points.map((p) => p.name))].sort();
const last = (points: RecvMetricPoint[], name: string, attrs: Record<string, unknown> = {}): RecvMetricPoint | undefined =>
  points.filter((p) => p.name === name && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v)).at(-1);

describe.each(VARIANTS)('runtime metrics (%s)', (ext) => {
  it('arrive with the semantic-convention names, units and sane values', async () => {
    const service = `runtime-${ext}`;
    const r = await runFixture({
      fixture: `metrics/runtime.${ext}`,
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: '200' },
    });
    expect(r.code, r.stderr).toBe(0);
    const points = of(service);
    expect(names(points)).toEqual(
      expect.arrayContaining([
        'nodejs.eventloop.delay.max',
        'nodejs.eventloop.delay.mean',
        'nodejs.eventloop.delay.min',
        'nodejs.eventloop.delay.p50',
        'nodejs.eventloop.delay.p90',
        'nodejs.eventloop.delay.p99',
        'nodejs.eventloop.delay.stddev',
        'nodejs.eventloop.time',
        'nodejs.eventloop.utilization',
        'process.cpu.time',
        'process.cpu.utilization',
        'process.memory.usage',
        'v8js.gc.duration',
        'v8js.memory.heap.limit',
        'v8js.memory.heap.space.available_size',
        'v8js.memory.heap.space.physical_size',
        'v8js.memory.heap.used',
        'v8js.resource.active',
      ]),
    );
    // The loop was blocked for 30 ms at a time: the worst delay seen is at least most of that.
    const max = Math.max(...points.filter((p) => p.name === 'nodejs.eventloop.delay.max').map((p) => p.value!));
    expect(max).toBeGreaterThan(0.02);
    expect(max).toBeLessThan(5);
    expect(last(points, 'nodejs.eventloop.delay.max')!.unit).toBe('s');
    const elu = points.filter((p) => p.name === 'nodejs.eventloop.utilization').map((p) => p.value!);
    expect(elu.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(Math.max(...elu)).toBeGreaterThan(0.3);
    const active = last(points, 'nodejs.eventloop.time', { 'nodejs.eventloop.state': 'active' })!;
    expect(active.type).toBe('sum');
    expect(active.monotonic).toBe(true);
    expect(active.value).toBeGreaterThan(0.2);

    // GC: minor collections happened, recorded in seconds with the semconv buckets.
    const gc = points.filter((p) => p.name === 'v8js.gc.duration');
    expect(gc.some((p) => p.attributes['v8js.gc.type'] === 'minor' && p.count! > 0)).toBe(true);
    expect(gc[0]!.bounds).toEqual([0.01, 0.1, 1, 10]);
    expect(gc[0]!.unit).toBe('s');

    // Heap by space, bytes.
    const used = points.filter((p) => p.name === 'v8js.memory.heap.used');
    expect(used.map((p) => p.attributes['v8js.heap.space.name'])).toEqual(expect.arrayContaining(['new_space', 'old_space']));
    expect(last(points, 'v8js.memory.heap.used', { 'v8js.heap.space.name': 'old_space' })!.value).toBeGreaterThan(1024 * 1024);
    expect(last(points, 'v8js.memory.heap.limit')!.value).toBeGreaterThan(64 * 1024 * 1024);
    expect(last(points, 'v8js.memory.heap.limit')!.unit).toBe('By');

    // Process: CPU seconds by mode, RSS in bytes, utilization in [0, 1].
    expect(last(points, 'process.cpu.time', { 'cpu.mode': 'user' })!.value).toBeGreaterThan(0.1);
    expect(last(points, 'process.memory.usage')!.value).toBeGreaterThan(20 * 1024 * 1024);
    const util = points.filter((p) => p.name === 'process.cpu.utilization').map((p) => p.value!);
    expect(util.every((v) => v >= 0 && v <= 1.5)).toBe(true);
    // The app's listening socket is an active resource.
    expect(points.some((p) => p.name === 'v8js.resource.active' && p.attributes['v8js.resource.type'] === 'TCPServerWrap')).toBe(true);
  });

  it('OTEL_AGENT_RUNTIME_METRICS=false leaves them out', async () => {
    const service = `runtime-off-${ext}`;
    const r = await runFixture({
      fixture: `metrics/runtime.${ext}`,
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: '200', OTEL_AGENT_RUNTIME_METRICS: 'false' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(names(of(service)).filter((n) => /^(nodejs|v8js|process)\./.test(n))).toEqual([]);
  });
});
