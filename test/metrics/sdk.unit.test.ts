/**
 * The agent's metrics SDK (src/metrics/sdk.ts, series.ts) on its own: what a collection holds
 * after measurements, under each temporality; attribute order; bucket edges; exemplars by filter;
 * the cardinality limit under delta.
 */
import { describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, trace, TraceFlags, ValueType } from '@opentelemetry/api';
import { AgentMeterProvider, type ExemplarFilter } from '../../src/metrics/sdk';
import type { Temporality } from '../../src/metrics/series';

const provider = (t: Temporality, filter: ExemplarFilter = 'trace_based', limit = 2000, warn: (m: string) => void = () => {}) =>
  new AgentMeterProvider([{ temporality: () => t }], limit, filter, warn);
const ctx = (sampled: boolean) =>
  trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: sampled ? TraceFlags.SAMPLED : 0 });
const points = (p: AgentMeterProvider, name: string) =>
  p
    .collectSync(0)
    .flatMap((s) => s.metrics)
    .filter((m) => m.name === name)
    .flatMap((m) => m.points);

describe('the agent metrics SDK', () => {
  it('one series per attribute set, whatever order its keys were written in', () => {
    const p = provider('cumulative');
    const c = p.getMeter('t').createCounter('c');
    c.add(1, { a: 1, b: 'x' });
    c.add(2, { b: 'x', a: 1 });
    c.add(4, { a: 1, b: 'x', gone: undefined });
    c.add(-5, { a: 1, b: 'x' }); // a counter ignores negative values
    expect(points(p, 'c').map((x) => [x.attributes, x.value])).toEqual([[{ a: 1, b: 'x' }, 7]]);
    // Cumulative: the same again at the next collection, plus what came since.
    c.add(1, { b: 'x', a: 1 });
    expect(points(p, 'c').map((x) => x.value)).toEqual([8]);
  });

  it('delta: each collection holds what came since the last one, and idle series are left out', () => {
    const p = provider('delta');
    const h = p.getMeter('t').createHistogram('h', { advice: { explicitBucketBoundaries: [1, 2] } });
    h.record(1, { k: 'a' }); // on a bound: that bucket (le=1)
    h.record(1.5, { k: 'a' });
    h.record(9, { k: 'b' });
    const first = points(p, 'h');
    expect(first.map((x) => [x.attributes.k, x.count, x.sum, x.min, x.max, x.bucketCounts])).toEqual([
      ['a', 2, 2.5, 1, 1.5, [1, 1, 0]],
      ['b', 1, 9, 9, 9, [0, 0, 1]],
    ]);
    h.record(2, { k: 'a' });
    const second = points(p, 'h');
    expect(second.map((x) => [x.attributes.k, x.count, x.bucketCounts])).toEqual([['a', 1, [0, 1, 0]]]);
    expect(second[0]!.startMs).toBe(first[0]!.timeMs);
    expect(points(p, 'h')).toEqual([]);
    h.record(3, { k: 'b' });
    expect(points(p, 'h').map((x) => [x.attributes.k, x.count])).toEqual([['b', 1]]);
  });

  it('observable counters under delta report the difference; gauges the last value', () => {
    const p = provider('delta');
    const m = p.getMeter('t');
    let total = 10;
    m.createObservableCounter('oc').addCallback((r) => r.observe(total, { s: 1 }));
    m.createObservableGauge('g', { valueType: ValueType.INT }).addCallback((r) => r.observe(total * 2));
    expect(points(p, 'oc').map((x) => x.value)).toEqual([10]);
    total = 25;
    expect(points(p, 'oc').map((x) => x.value)).toEqual([15]);
    expect(points(p, 'g').map((x) => x.value)).toEqual([50]);
  });

  it('exemplars: trace_based takes sampled contexts only; always_on every one; always_off none', () => {
    for (const [filter, sampledCount, unsampledCount] of [
      ['trace_based', 1, 0],
      ['always_on', 1, 1],
      ['always_off', 0, 0],
    ] as const) {
      const p = provider('delta', filter);
      const h = p.getMeter('t').createHistogram('h', { advice: { explicitBucketBoundaries: [1] } });
      h.record(0.5, {}, ctx(true));
      expect(points(p, 'h')[0]!.exemplars, filter).toHaveLength(sampledCount);
      h.record(0.5, {}, ctx(false));
      const ex = points(p, 'h')[0]!.exemplars;
      expect(ex, filter).toHaveLength(unsampledCount);
      if (ex.length) expect(ex[0]).toMatchObject({ value: 0.5, traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' });
    }
  });

  it('one exemplar per bucket, the latest', () => {
    const p = provider('cumulative', 'always_on');
    const h = p.getMeter('t').createHistogram('h', { advice: { explicitBucketBoundaries: [1] } });
    for (const v of [0.1, 0.2, 5, 0.3]) h.record(v, {}, ctx(true));
    expect(points(p, 'h')[0]!.exemplars.map((e) => e.value)).toEqual([0.3, 5]);
  });

  it('the cardinality limit: an overflow series, one warning, and under delta room again after a collection', () => {
    const warnings: string[] = [];
    const p = provider('delta', 'always_off', 3, (m) => warnings.push(m));
    const c = p.getMeter('t').createCounter('c');
    for (const k of ['a', 'b', 'c', 'd', 'a']) c.add(1, { k });
    expect(points(p, 'c').map((x) => [x.attributes, x.value])).toEqual([
      [{ k: 'a' }, 2],
      [{ k: 'b' }, 1],
      [{ 'otel.metric.overflow': true }, 2],
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('metric "c" has more than 2 attribute sets');
    for (const k of ['c', 'd']) c.add(1, { k });
    expect(points(p, 'c').map((x) => [x.attributes, x.value])).toEqual([
      [{ k: 'c' }, 1],
      [{ k: 'd' }, 1],
    ]);
  });

  it('an invalid name or a second kind under one name records nothing, with one warning', () => {
    const warnings: string[] = [];
    const p = provider('cumulative', 'always_off', 2000, (m) => warnings.push(m));
    const m = p.getMeter('t');
    m.createCounter('9bad name').add(1);
    m.createCounter('dup').add(1);
    m.createHistogram('dup').record(1);
    m.createCounter('DUP').add(1); // names are case-insensitive: the same counter
    expect(p.collectSync(0).flatMap((s) => s.metrics.map((x) => [x.name, x.kind, x.points.map((q) => q.value)]))).toEqual([['dup', 'counter', [2]]]);
    expect(warnings).toHaveLength(2);
  });
});
