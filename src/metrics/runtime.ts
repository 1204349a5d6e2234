/**
 * Node.js runtime metrics, under the names the semantic conventions give
 * (nodejs.eventloop.*, v8js.*, process.*): what a user looks at first when a
 * service is slow without a slow dependency (a blocked event loop, GC, heap
 * growth, CPU saturation).
 *
 * Everything is read when the metric reader collects (observable
 * instruments), except GC durations, which Node reports as they happen
 * (a PerformanceObserver; one histogram record per collection). Nothing runs
 * on the app's requests. The event-loop delay histogram is reset at each
 * collection, so its percentiles describe the last export interval.
 */
import { monitorEventLoopDelay, performance, PerformanceObserver, constants, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { availableParallelism } from 'node:os';
import { ValueType, type BatchObservableResult, type Meter } from '@opentelemetry/api';

export interface RuntimeMetricsHandle {
  stop(): void;
}

const NS_PER_S = 1e9;
const GC_KIND: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export function startRuntimeMetrics(meter: Meter): RuntimeMetricsHandle {
  const stops: (() => void)[] = [];

  // Event loop delay: a libuv timer sampling every 20 ms (it does not keep the process alive).
  const delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  stops.push(() => delay.disable());
  const gauge = (name: string, description: string, unit = 's') => meter.createObservableGauge(name, { description, unit, valueType: ValueType.DOUBLE });
  const delays = {
    min: gauge('nodejs.eventloop.delay.min', 'Event loop minimum delay.'),
    max: gauge('nodejs.eventloop.delay.max', 'Event loop maximum delay.'),
    mean: gauge('nodejs.eventloop.delay.mean', 'Event loop mean delay.'),
    stddev: gauge('nodejs.eventloop.delay.stddev', 'Event loop standard deviation delay.'),
    p50: gauge('nodejs.eventloop.delay.p50', 'Event loop 50 percentile delay.'),
    p90: gauge('nodejs.eventloop.delay.p90', 'Event loop 90 percentile delay.'),
    p99: gauge('nodejs.eventloop.delay.p99', 'Event loop 99 percentile delay.'),
  };
  const utilization = gauge('nodejs.eventloop.utilization', 'Event loop utilization.', '1');
  const loopTime = meter.createObservableCounter('nodejs.eventloop.time', {
    description: 'Cumulative duration of time the event loop has been in each state.',
    unit: 's',
  });
  let lastElu: EventLoopUtilization = performance.eventLoopUtilization();

  // V8 heap, by space.
  const byteGauge = (name: string, description: string) => meter.createObservableUpDownCounter(name, { description, unit: 'By', valueType: ValueType.INT });
  const heapLimit = byteGauge('v8js.memory.heap.limit', 'Total heap memory size pre-allocated.');
  const heapUsed = byteGauge('v8js.memory.heap.used', 'Heap Memory size allocated.');
  const spaceAvailable = byteGauge('v8js.memory.heap.space.available_size', 'Heap space available size.');
  const spacePhysical = byteGauge('v8js.memory.heap.space.physical_size', 'Committed size of a heap space.');

  // Process.
  const cpuTime = meter.createObservableCounter('process.cpu.time', { description: 'Total CPU seconds broken down by different CPU modes.', unit: 's' });
  const cpuUtil = gauge(
    'process.cpu.utilization',
    'CPU time used since the last measurement, over the elapsed time and the CPUs available to the process.',
    '1',
  );
  const memory = byteGauge('process.memory.usage', 'The amount of physical memory in use (resident set size).');
  const resources = meter.createObservableUpDownCounter('v8js.resource.active', {
    description: 'Number of active resources keeping the event loop alive, by type.',
    unit: '{resource}',
    valueType: ValueType.INT,
  });
  const cpus = Math.max(1, availableParallelism());
  let lastCpu = process.cpuUsage();
  let lastCpuAt = performance.now();

  const observe = (r: BatchObservableResult): void => {
    // Event loop.
    const h = delay;
    if (h.count > 0) {
      r.observe(delays.min, h.min / NS_PER_S);
      r.observe(delays.max, h.max / NS_PER_S);
      r.observe(delays.mean, h.mean / NS_PER_S);
      r.observe(delays.stddev, h.stddev / NS_PER_S);
      r.observe(delays.p50, h.percentile(50) / NS_PER_S);
      r.observe(delays.p90, h.percentile(90) / NS_PER_S);
      r.observe(delays.p99, h.percentile(99) / NS_PER_S);
    }
    h.reset();
    const elu = performance.eventLoopUtilization();
    r.observe(utilization, performance.eventLoopUtilization(elu, lastElu).utilization);
    lastElu = elu;
    r.observe(loopTime, elu.active / 1000, { 'nodejs.eventloop.state': 'active' });
    r.observe(loopTime, elu.idle / 1000, { 'nodejs.eventloop.state': 'idle' });

    // Heap.
    r.observe(heapLimit, getHeapStatistics().heap_size_limit);
    for (const s of getHeapSpaceStatistics()) {
      const a = { 'v8js.heap.space.name': s.space_name };
      r.observe(heapUsed, s.space_used_size, a);
      r.observe(spaceAvailable, s.space_available_size, a);
      r.observe(spacePhysical, s.physical_space_size, a);
    }

    // Process.
    const cpu = process.cpuUsage();
    const now = performance.now();
    r.observe(cpuTime, cpu.user / 1e6, { 'cpu.mode': 'user' });
    r.observe(cpuTime, cpu.system / 1e6, { 'cpu.mode': 'system' });
    const elapsedUs = (now - lastCpuAt) * 1000;
    if (elapsedUs > 0) r.observe(cpuUtil, (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / elapsedUs / cpus);
    lastCpu = cpu;
    lastCpuAt = now;
    r.observe(memory, process.memoryUsage.rss());
    const counts = new Map<string, number>();
    for (const t of process.getActiveResourcesInfo()) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [t, n] of counts) r.observe(resources, n, { 'v8js.resource.type': t });
  };
  const all = [...Object.values(delays), utilization, loopTime, heapLimit, heapUsed, spaceAvailable, spacePhysical, cpuTime, cpuUtil, memory, resources];
  const callback = (r: BatchObservableResult): void => {
    try {
      observe(r);
    } catch {
      // A runtime API missing on this Node (or a permission-model refusal) costs these points only.
    }
  };
  meter.addBatchObservableCallback(callback, all);
  stops.push(() => meter.removeBatchObservableCallback(callback, all));

  // GC: one histogram point per collection, by kind (semconv buckets).
  const gc = meter.createHistogram('v8js.gc.duration', {
    description: 'Garbage collection duration.',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.01, 0.1, 1, 10] },
  });
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      gc.record(e.duration / 1000, { 'v8js.gc.type': (kind !== undefined && GC_KIND[kind]) || 'major' });
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  stops.push(() => obs.disconnect());

  return {
    stop: () => {
      for (const s of stops) {
        try {
          s();
        } catch {
          /* already stopped */
        }
      }
    },
  };
}
