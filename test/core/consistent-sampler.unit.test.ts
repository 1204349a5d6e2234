/**
 * The ratio samplers as consistent probability samplers (OpenTelemetry
 * trace/tracestate-probability-sampling.md, trace/sdk.md ProbabilitySampler
 * and ParentBased): the decision is R >= T with R the trace id's right-most
 * 56 bits (or `rv`), and kept spans carry `ot=th:T`. Driven through the
 * agent's tracer, so what is checked is the span context a span gets.
 */
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, trace, TraceFlags, type Context, type SpanContext } from '@opentelemetry/api';
import { AlwaysOffSampler, type Sampler } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { W3CTraceState } from '../../src/propagation/tracestate';
import { AgentTracerProvider } from '../../src/tracer';
import { ConsistentParentBasedSampler, ConsistentRatioSampler } from '../../src/tracer/consistent-sampler';

const SPAN = '00f067aa0ba902b7';
const RANDOM = 0x02;

/** A trace id whose right-most 56 bits (14 hex digits) are `r`. */
const withR = (r: string): string => `0123456789abcdef01${r}`;
const remote = (traceId: string, flags: number, tracestate?: string): Context =>
  trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: SPAN, traceFlags: flags, isRemote: true, traceState: W3CTraceState.parse(tracestate) });

function tracerWith(sampler: Sampler) {
  return new AgentTracerProvider({ sampler, spanProcessors: [] }).getTracer('t');
}
const start = (t: ReturnType<typeof tracerWith>, ctx: Context): SpanContext => t.startSpan('s', {}, ctx).spanContext();
const sampled = (sc: SpanContext): boolean => (sc.traceFlags & TraceFlags.SAMPLED) !== 0;

describe('traceidratio (ConsistentRatioSampler)', () => {
  const tenPercent = tracerWith(new ConsistentRatioSampler(0.1));

  it('keeps exactly the spans whose randomness is >= the threshold (0.1 -> th:e666), whatever the parent decided', () => {
    // e666 padded is e6660000000000: the boundary itself is kept, one below is not.
    expect(sampled(start(tenPercent, remote(withR('e6660000000000'), RANDOM)))).toBe(true);
    expect(sampled(start(tenPercent, remote(withR('e665ffffffffff'), RANDOM | TraceFlags.SAMPLED)))).toBe(false);
    expect(sampled(start(tenPercent, remote(withR('ffffffffffffff'), RANDOM)))).toBe(true);
    expect(sampled(start(tenPercent, remote(withR('00000000000000'), RANDOM | TraceFlags.SAMPLED)))).toBe(false);
  });

  it('decides 20,000 random trace ids, upper-case hex among them, as R >= T read from the id as text', () => {
    // The sampler compares the id's last 14 digits in place; this is the comparison spelled out.
    for (let i = 0; i < 20_000; i++) {
      let id = randomBytes(16).toString('hex');
      if (i % 2) id = id.toUpperCase();
      const keep = id.slice(18).toLowerCase() >= 'e6660000000000';
      expect(sampled(start(tenPercent, remote(id, RANDOM))), id).toBe(keep);
    }
  });

  it('a kept span carries ot=th:<T> first in its tracestate, other members kept in order, rv kept', () => {
    const sc = start(tenPercent, remote(withR('f0000000000000'), RANDOM, 'congo=t61rcWkgMzE,ot=rv:f1234567890abc;th:0,rojo=00f067aa0ba902b7'));
    expect(sc.traceState?.serialize()).toBe('ot=th:e666;rv:f1234567890abc,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  });

  it('rv, when the caller set one, is the randomness instead of the trace id', () => {
    // The trace id alone would be kept (fff...), rv says 0.05 -> not kept at 10%.
    expect(sampled(start(tenPercent, remote(withR('ffffffffffffff'), RANDOM, 'ot=rv:0ccccccccccccc')))).toBe(false);
    // The trace id alone would be dropped, rv says keep.
    const kept = start(tenPercent, remote(withR('00000000000000'), RANDOM, 'ot=rv:f0000000000000'));
    expect(sampled(kept)).toBe(true);
    expect(kept.traceState?.serialize()).toBe('ot=th:e666;rv:f0000000000000');
    // A malformed rv (not 14 lower-case hex digits) is not randomness: the trace id is used.
    expect(sampled(start(tenPercent, remote(withR('ffffffffffffff'), RANDOM, 'ot=rv:0CCC')))).toBe(true);
  });

  it('a span that is not kept has no th: the parent’s is erased, the rest of the tracestate is passed on', () => {
    const sc = start(tenPercent, remote(withR('10000000000000'), RANDOM | TraceFlags.SAMPLED, 'ot=th:0;rv:10000000000000,vendor=x'));
    expect(sampled(sc)).toBe(false);
    expect(sc.traceState?.serialize()).toBe('ot=rv:10000000000000,vendor=x');
  });

  it('a root span gets ot=th:e666 when kept, no tracestate when not; its children keep the same tracestate', () => {
    let kept = 0;
    for (let i = 0; i < 400; i++) {
      const root = tenPercent.startSpan('root');
      const sc = root.spanContext();
      const child = start(tenPercent, trace.setSpan(ROOT_CONTEXT, root));
      expect(child.traceFlags).toBe(sc.traceFlags);
      if (sampled(sc)) {
        kept++;
        expect(sc.traceId.slice(18) >= 'e6660000000000').toBe(true);
        expect(sc.traceState?.serialize()).toBe('ot=th:e666');
        expect(child.traceState).toBe(sc.traceState);
      } else {
        expect(sc.traceId.slice(18) < 'e6660000000000').toBe(true);
        expect(sc.traceState).toBeUndefined();
      }
    }
    expect(kept).toBeGreaterThan(0);
  });

  it('is consistent: every trace kept at 1% is kept at 10% (nested sets), and 100% writes th:0', () => {
    const one = tracerWith(new ConsistentRatioSampler(0.01));
    const all = tracerWith(new ConsistentRatioSampler(1));
    let keptAtOne = 0;
    for (let i = 0; i < 5000; i++) {
      const ctx = remote(randomBytes(16).toString('hex'), RANDOM);
      const atOne = start(one, ctx);
      if (sampled(atOne)) {
        keptAtOne++;
        expect(atOne.traceState?.serialize()).toBe('ot=th:fd70a');
        expect(sampled(start(tenPercent, ctx))).toBe(true);
      }
      expect(start(all, ctx).traceState?.serialize()).toBe('ot=th:0');
    }
    expect(keptAtOne).toBeGreaterThan(0);
  });

  it('describes itself as the SDK does', () => {
    expect(new ConsistentRatioSampler(0.25).toString()).toBe('TraceIdRatioBased{0.25}');
  });
});

describe('parentbased_traceidratio (ConsistentParentBasedSampler)', () => {
  const pb = tracerWith(new ConsistentParentBasedSampler(new ConsistentRatioSampler(0.01)));

  it('follows a sampled remote parent and keeps its th when its randomness passes it', () => {
    const sc = start(pb, remote(withR('f0000000000000'), RANDOM | TraceFlags.SAMPLED, 'ot=th:e666,vendor=x'));
    expect(sampled(sc)).toBe(true);
    expect(sc.traceState?.serialize()).toBe('ot=th:e666,vendor=x');
  });

  it('erases the th of a sampled remote parent that is inconsistent (R < th) or malformed, and still follows it', () => {
    const low = start(pb, remote(withR('10000000000000'), RANDOM | TraceFlags.SAMPLED, 'ot=th:e666;rv:10000000000000'));
    expect(sampled(low)).toBe(true);
    expect(low.traceState?.serialize()).toBe('ot=rv:10000000000000');
    const bad = start(pb, remote(withR('f0000000000000'), RANDOM | TraceFlags.SAMPLED, 'ot=th:XYZ,vendor=x'));
    expect(sampled(bad)).toBe(true);
    expect(bad.traceState?.serialize()).toBe('vendor=x');
  });

  it('a sampled remote parent without th: followed, no th added (adjusted count unknown)', () => {
    const sc = start(pb, remote(withR('00000000000001'), TraceFlags.SAMPLED, 'vendor=x'));
    expect(sampled(sc)).toBe(true);
    expect(sc.traceState?.serialize()).toBe('vendor=x');
  });

  it('an unsampled remote parent: not sampled, its th erased', () => {
    const sc = start(pb, remote(withR('ffffffffffffff'), RANDOM, 'ot=th:e666,vendor=x'));
    expect(sampled(sc)).toBe(false);
    expect(sc.traceState?.serialize()).toBe('vendor=x');
  });

  it('with a ratio of 0 (root AlwaysOff): no root span is sampled, callers are still followed and checked', () => {
    const zero = tracerWith(new ConsistentParentBasedSampler(new AlwaysOffSampler()));
    expect(sampled(zero.startSpan('root').spanContext())).toBe(false);
    const sc = start(zero, remote(withR('10000000000000'), RANDOM | TraceFlags.SAMPLED, 'ot=th:e666,vendor=x'));
    expect(sampled(sc)).toBe(true);
    expect(sc.traceState?.serialize()).toBe('vendor=x');
  });

  it('root spans are decided by the ratio (th:fd70a); local children follow their parent', () => {
    for (let i = 0; i < 2000; i++) {
      const root = pb.startSpan('root');
      const sc = root.spanContext();
      expect(sampled(sc)).toBe(sc.traceId.slice(18) >= 'fd70a000000000');
      expect(sc.traceState?.serialize()).toBe(sampled(sc) ? 'ot=th:fd70a' : undefined);
      const child = start(pb, trace.setSpan(ROOT_CONTEXT, root));
      expect([child.traceFlags, child.traceState]).toEqual([sc.traceFlags, sc.traceState]);
    }
  });
});
