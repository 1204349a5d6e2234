/**
 * The agent's own tracer (src/tracer.ts), in process: what a user, an
 * instrumentation or an exporter sees of the spans it makes. Where the SDK's
 * behaviour is the reference, the same script runs against the SDK's
 * TracerProvider and the results are compared field by field.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRequire } from 'node:module';
import {
  context,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { suppressTracing, TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanLimits,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { AgentTracerProvider } from '../../src/tracer';
import { guardProcessors } from '../../src/contain';
import { encodeTraceRequest } from '../../src/exporters/otlp-proto';
import type { AgentLog } from '../../src/log';

/** W3C Trace Context Level 2 random trace-id flag. */
const RANDOM = 0x02;

const cm = new AsyncLocalStorageContextManager();
const diagLines: string[] = [];
beforeAll(() => {
  context.setGlobalContextManager(cm.enable());
  diag.setLogger(
    {
      error: (...a) => void diagLines.push(`error ${a.join(' ')}`),
      warn: (...a) => void diagLines.push(`warn ${a.join(' ')}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
});
afterAll(() => {
  context.disable();
  diag.disable();
});
beforeEach(() => {
  diagLines.length = 0;
});

/** Records every processor call, in order. */
class Recorder implements SpanProcessor {
  calls: string[] = [];
  ended: ReadableSpan[] = [];
  started: Span[] = [];
  parents: Context[] = [];
  onStart(span: Span & ReadableSpan, parent: Context): void {
    this.calls.push(`start ${span.name}`);
    this.started.push(span);
    this.parents.push(parent);
  }
  onEnding(span: Span & ReadableSpan): void {
    this.calls.push(`ending ${span.name} ended=${span.ended}`);
  }
  onEnd(span: ReadableSpan): void {
    this.calls.push(`end ${span.name} ended=${span.ended}`);
    this.ended.push(span);
  }
  forceFlush = async (): Promise<void> => undefined;
  shutdown = async (): Promise<void> => undefined;
}

function setup(opts: { sampler?: Sampler; spanLimits?: SpanLimits; processors?: SpanProcessor[] } = {}) {
  const rec = new Recorder();
  const provider = new AgentTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'tracer-test' }),
    sampler: opts.sampler ?? new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanLimits: opts.spanLimits,
    spanProcessors: [...(opts.processors ?? []), rec],
  });
  return { provider, tracer: provider.getTracer('test', '1.0.0'), rec };
}

const asReadable = (s: Span): ReadableSpan => s as unknown as ReadableSpan;
const hrMs = (t: readonly [number, number]): number => t[0] * 1e3 + t[1] / 1e6;
/** b - a in milliseconds, exact to the nanosecond (hrMs of an epoch time only resolves ~0.2 µs). */
const hrDiffMs = (a: readonly [number, number], b: readonly [number, number]): number => (b[0] - a[0]) * 1e3 + (b[1] - a[1]) / 1e6;

describe('provider and tracers', () => {
  it('caches one tracer per name, version and schema URL, each with its instrumentation scope', () => {
    const { provider } = setup();
    const a = provider.getTracer('lib', '1.0.0');
    expect(provider.getTracer('lib', '1.0.0')).toBe(a);
    expect(provider.getTracer('lib', '2.0.0')).not.toBe(a);
    const withSchema = provider.getTracer('lib', '1.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
    expect(withSchema).not.toBe(a);
    const span = asReadable(withSchema.startSpan('x'));
    span.spanContext();
    expect(span.instrumentationScope).toEqual({ name: 'lib', version: '1.0.0', schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
    expect(span.resource.attributes['service.name']).toBe('tracer-test');
  });

  it('forceFlush and shutdown reach every processor', async () => {
    const seen: string[] = [];
    const p: SpanProcessor = {
      onStart: () => undefined,
      onEnd: () => undefined,
      forceFlush: async () => void seen.push('flush'),
      shutdown: async () => void seen.push('shutdown'),
    };
    const { provider } = setup({ processors: [p] });
    await provider.forceFlush();
    await provider.shutdown();
    expect(seen).toEqual(['flush', 'shutdown']);
  });
});

describe('parents, ids and kinds', () => {
  it('a span started inside another is its child in the same trace; root: true starts a new trace', () => {
    const { tracer } = setup();
    const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER });
    const ctx = trace.setSpan(ROOT_CONTEXT, parent);
    const child = asReadable(tracer.startSpan('child', { kind: SpanKind.CLIENT }, ctx));
    const fresh = asReadable(tracer.startSpan('fresh', { root: true }, ctx));
    expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(child.kind).toBe(SpanKind.CLIENT);
    expect(asReadable(parent).kind).toBe(SpanKind.SERVER);
    expect(fresh.parentSpanContext).toBeUndefined();
    expect(fresh.spanContext().traceId).not.toBe(parent.spanContext().traceId);
    expect(fresh.kind).toBe(SpanKind.INTERNAL);
    for (const s of [asReadable(parent), child, fresh]) {
      expect(s.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
      // Sampled, and the W3C Level 2 random trace-id flag: the agent's trace ids are fully random.
      expect(s.spanContext().traceFlags).toBe(TraceFlags.SAMPLED | RANDOM);
    }
  });

  it('keeps the random trace-id flag of the parent (set or not) on every span of its trace; a custom id generator starts traces without it', () => {
    const { tracer } = setup();
    const remote = (flags: number) =>
      trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: flags, isRemote: true });
    for (const [inFlags, outFlags] of [
      [0x03, 0x03],
      [0x01, 0x01],
      [0x02, 0x02],
      [0x00, 0x00],
    ] as const) {
      const server = tracer.startSpan('server', {}, remote(inFlags));
      const client = tracer.startSpan('client', {}, trace.setSpan(ROOT_CONTEXT, server));
      expect([server.spanContext().traceFlags, client.spanContext().traceFlags], `in ${inFlags}`).toEqual([outFlags, outFlags]);
    }
    const counting = { n: 0, generateTraceId: () => `${'0'.repeat(31)}${++counting.n}`, generateSpanId: () => '00f067aa0ba902b7' };
    const custom = new AgentTracerProvider({ idGenerator: counting, spanProcessors: [] }).getTracer('t');
    expect(custom.startSpan('root').spanContext()).toMatchObject({ traceId: '00000000000000000000000000000001', traceFlags: TraceFlags.SAMPLED });
  });

  it('uses the active context by default, and continues a remote parent with its trace state', () => {
    const { tracer } = setup();
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState('vendor=opaque'),
    });
    const span = context.with(remote, () => asReadable(tracer.startSpan('server')));
    expect(span.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span.parentSpanContext).toMatchObject({ spanId: '00f067aa0ba902b7', isRemote: true });
    expect(span.spanContext().traceState?.serialize()).toBe('vendor=opaque');
    expect(span.spanContext().isRemote).toBeFalsy();
  });

  it('an invalid parent span context is ignored (new trace, no parent)', () => {
    const { tracer } = setup();
    const bad = trace.setSpanContext(ROOT_CONTEXT, { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 });
    const span = asReadable(tracer.startSpan('x', {}, bad));
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe('0'.repeat(32));
  });
});

describe('startActiveSpan', () => {
  it('makes the span active inside fn and returns what fn returns, in all three call forms', () => {
    const { tracer } = setup();
    const r1 = tracer.startActiveSpan('one', (span) => {
      expect(trace.getActiveSpan()).toBe(span);
      span.end();
      return 1;
    });
    const r2 = tracer.startActiveSpan('two', { kind: SpanKind.PRODUCER }, (span) => {
      expect(asReadable(span).kind).toBe(SpanKind.PRODUCER);
      span.end();
      return 2;
    });
    const parent = tracer.startSpan('parent');
    const r3 = tracer.startActiveSpan('three', {}, trace.setSpan(ROOT_CONTEXT, parent), (span) => {
      expect(asReadable(span).parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      expect(trace.getActiveSpan()).toBe(span);
      span.end();
      return 3;
    });
    expect([r1, r2, r3]).toEqual([1, 2, 3]);
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('passes a promise through (async fn)', async () => {
    const { tracer, rec } = setup();
    const v = await tracer.startActiveSpan('async', async (span) => {
      await new Promise((r) => setImmediate(r));
      expect(trace.getActiveSpan()).toBe(span);
      span.end();
      return 'done';
    });
    expect(v).toBe('done');
    expect(rec.ended.map((s) => s.name)).toEqual(['async']);
  });
});

describe('suppression and sampling', () => {
  it('suppressed tracing gives a non-recording span with an invalid context, and no processor call', () => {
    const { tracer, rec } = setup();
    const span = tracer.startSpan('hidden', {}, suppressTracing(ROOT_CONTEXT));
    expect(span.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(span.spanContext())).toBe(false);
    span.setAttribute('a', 1).end();
    expect(rec.calls).toEqual([]);
  });

  it('an unsampled span records nothing but carries a new valid span context (children stay in the trace, unsampled)', () => {
    const { tracer, rec } = setup({ sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }) });
    const root = tracer.startSpan('root', { attributes: { a: 1 } });
    expect(root.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(root.spanContext())).toBe(true);
    expect(root.spanContext().traceFlags).toBe(RANDOM);
    const child = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, root));
    expect(child.isRecording()).toBe(false);
    expect(child.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(child.spanContext().spanId).not.toBe(root.spanContext().spanId);
    root.end();
    child.end();
    expect(rec.calls).toEqual([]);
  });

  it('applies the sampler result: RECORD records without the sampled flag; attributes and trace state are added', () => {
    const seen: { name: string; kind: SpanKind; attributes: Attributes; links: number }[] = [];
    const sampler: Sampler = {
      shouldSample: (_ctx, _traceId, name, kind, attributes, links) => {
        seen.push({ name, kind, attributes: { ...attributes }, links: links.length });
        return { decision: SamplingDecision.RECORD, attributes: { 'sampler.rule': 'r1', given: 'overridden' }, traceState: new TraceState('s=1') };
      },
      toString: () => 'test',
    };
    const { tracer, rec } = setup({ sampler });
    const link = { context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 } };
    const span = asReadable(tracer.startSpan('op', { kind: SpanKind.CONSUMER, attributes: { given: 'x', n: 1 }, links: [link] }));
    expect(seen).toEqual([{ name: 'op', kind: SpanKind.CONSUMER, attributes: { given: 'x', n: 1 }, links: 1 }]);
    expect((span as unknown as Span).isRecording()).toBe(true);
    expect(span.spanContext().traceFlags).toBe(RANDOM);
    expect(span.spanContext().traceState?.serialize()).toBe('s=1');
    expect(span.attributes).toEqual({ given: 'overridden', n: 1, 'sampler.rule': 'r1' });
    (span as unknown as Span).end();
    expect(rec.ended).toHaveLength(1);
  });
});

describe('attributes', () => {
  it('keeps valid values (null too, as the SDK 3.x does), skips undefined, drops invalid ones with a warning', () => {
    const { tracer } = setup();
    const span = tracer.startSpan('a', {
      attributes: { s: 'x', n: 1.5, b: false, nil: null, u: undefined, arr: [1, 2], map: { k: 'v', deep: [true] }, bytes: new Uint8Array([1, 2]) },
    });
    span.setAttribute('later', 'y');
    span.setAttribute('skip', undefined);
    span.setAttribute('', 'empty key');
    span.setAttribute('fn', (() => 1) as never);
    span.setAttribute('date', new Date(0) as never);
    span.setAttributes({ m1: 1, m2: 'two', m3: undefined });
    const r = asReadable(span);
    expect(r.attributes).toEqual({
      s: 'x',
      n: 1.5,
      b: false,
      nil: null,
      arr: [1, 2],
      map: { k: 'v', deep: [true] },
      bytes: new Uint8Array([1, 2]),
      later: 'y',
      m1: 1,
      m2: 'two',
    });
    // Invalid values set later are not counted as dropped (the SDK counts only the limit there).
    expect(r.droppedAttributesCount).toBe(0);
    expect(diagLines.filter((l) => l.includes('Invalid attribute')).length).toBe(3);
  });

  it('invalid start attributes count as dropped', () => {
    const { tracer } = setup();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const r = asReadable(tracer.startSpan('a', { attributes: { ok: 1, '': 2, bad: cyclic as never, sym: Symbol('s') as never } }));
    expect(r.attributes).toEqual({ ok: 1 });
    expect(r.droppedAttributesCount).toBe(3);
  });

  it('copies arrays and maps: changing the caller’s value later does not change the span', () => {
    const { tracer } = setup();
    const arr = ['a', 'b'];
    const map = { k: ['v'] };
    const span = tracer.startSpan('a', { attributes: { arr } });
    span.setAttribute('map', map as never);
    arr.push('c');
    map.k.push('w');
    expect(asReadable(span).attributes).toEqual({ arr: ['a', 'b'], map: { k: ['v'] } });
  });

  it('applies the count limit (new keys dropped and counted, existing keys still updated) and the value length limit', () => {
    const { tracer } = setup({ spanLimits: { attributeCountLimit: 3, attributeValueLengthLimit: 4 } });
    const span = tracer.startSpan('limits', { attributes: { a: 'abcdefgh', b: 2, c: 3, d: 4 } });
    span.setAttribute('e', 5);
    span.setAttribute('a', 'zyxwvu');
    span.setAttribute('b', ['long string', 'ok']);
    const r = asReadable(span);
    expect(r.attributes).toEqual({ a: 'zyxw', b: ['long', 'ok'], c: 3 });
    expect(r.droppedAttributesCount).toBe(2);
  });

  it('warns once about attributes over the limit, not per attribute', () => {
    const { tracer } = setup({ spanLimits: { attributeCountLimit: 1 } });
    const span = tracer.startSpan('limits');
    for (let i = 0; i < 5; i++) span.setAttribute(`k${i}`, i);
    expect(asReadable(span).droppedAttributesCount).toBe(4);
    expect(diagLines.filter((l) => l.includes('Dropping extra attributes')).length).toBe(1);
  });

  it('a non-positive length limit means no limit', () => {
    const { tracer } = setup({ spanLimits: { attributeValueLengthLimit: 0 } });
    const span = tracer.startSpan('x', { attributes: { s: 'abcdef' } });
    expect(asReadable(span).attributes.s).toBe('abcdef');
  });
});

describe('events and exceptions', () => {
  it('keeps the most recent events up to the limit, counts the dropped ones, limits attributes per event', () => {
    const { tracer } = setup({ spanLimits: { eventCountLimit: 2, attributePerEventCountLimit: 1 } });
    const span = tracer.startSpan('ev');
    span.addEvent('e1');
    span.addEvent('e2', { a: 1, b: 2 });
    span.addEvent('e3', { map: { not: 'simple' } as never, mixed: [1, 'x'] as never });
    span.end();
    const r = asReadable(span);
    expect(r.events.map((e) => e.name)).toEqual(['e2', 'e3']);
    expect(r.events[0]).toMatchObject({ attributes: { a: 1 }, droppedAttributesCount: 1 });
    // Event attributes are "simple" values only: maps and mixed arrays are dropped.
    expect(r.events[1]).toMatchObject({ attributes: {}, droppedAttributesCount: 2 });
    expect(r.droppedEventsCount).toBe(1);
  });

  it('no event at all with an event limit of 0', () => {
    const { tracer } = setup({ spanLimits: { eventCountLimit: 0 } });
    const span = tracer.startSpan('ev');
    span.addEvent('e1');
    expect(asReadable(span).events).toEqual([]);
    expect(asReadable(span).droppedEventsCount).toBe(1);
  });

  it('takes the event time as epoch ms, Date, HrTime or performance.now() value, in either argument position', () => {
    const { tracer } = setup();
    const span = tracer.startSpan('ev');
    const perf = performance.now();
    span.addEvent('ms', 1_700_000_000_123);
    span.addEvent('date', new Date(1_700_000_000_456));
    span.addEvent('hr', { k: 1 }, [1_700_000_000, 5]);
    span.addEvent('perf', perf);
    const before = Date.now();
    span.addEvent('now');
    const after = Date.now();
    const ev = asReadable(span).events;
    expect(ev[0]!.time).toEqual([1_700_000_000, 123_000_000]);
    expect(ev[1]!.time).toEqual([1_700_000_000, 456_000_000]);
    expect(ev[2]).toMatchObject({ time: [1_700_000_000, 5], attributes: { k: 1 } });
    expect(Math.abs(hrMs(ev[3]!.time) - (performance.timeOrigin + perf))).toBeLessThan(3);
    expect(hrMs(ev[4]!.time)).toBeGreaterThanOrEqual(before - 2);
    expect(hrMs(ev[4]!.time)).toBeLessThanOrEqual(after + 2);
  });

  it('recordException adds an "exception" event with type, message and stack trace', () => {
    const { tracer } = setup();
    const span = tracer.startSpan('ex');
    const err = new TypeError('bad input');
    span.recordException(err);
    span.recordException(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    span.recordException('just text', [1_700_000_000, 0]);
    span.recordException({} as Error);
    const ev = asReadable(span).events;
    expect(ev).toHaveLength(3);
    expect(ev[0]).toMatchObject({
      name: 'exception',
      attributes: {
        'exception.type': 'TypeError',
        'exception.message': 'bad input',
        'exception.stacktrace': expect.stringContaining('TypeError: bad input\n'),
      },
    });
    // The frames' absolute paths are shortened (stack-paths.ts): this file is named, its directory is not.
    expect(ev[0]!.attributes!['exception.stacktrace']).toContain('tracer.unit.test.ts:');
    expect(ev[0]!.attributes!['exception.stacktrace']).not.toContain(process.cwd());
    expect(ev[1]!.attributes!['exception.type']).toBe('ECONNREFUSED');
    expect(ev[2]).toMatchObject({ attributes: { 'exception.message': 'just text' }, time: [1_700_000_000, 0] });
    expect(diagLines.some((l) => l.includes('Failed to record an exception'))).toBe(true);
  });
});

describe('links', () => {
  const ctxOf = (i: number) => ({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: `00f067aa0ba902b${i}`, traceFlags: 1 });

  it('keeps the last links over the limit at start and when added, counting the dropped ones', () => {
    const { tracer } = setup({ spanLimits: { linkCountLimit: 2, attributePerLinkCountLimit: 1 } });
    const span = tracer.startSpan('l', { links: [{ context: ctxOf(1) }, { context: ctxOf(2), attributes: { a: 1, b: 2 } }, { context: ctxOf(3) }] });
    const r = asReadable(span);
    expect(r.links.map((l) => l.context.spanId)).toEqual([ctxOf(2).spanId, ctxOf(3).spanId]);
    expect(r.links[0]).toMatchObject({ attributes: { a: 1 }, droppedAttributesCount: 1 });
    expect(r.droppedLinksCount).toBe(1);
    span.addLink({ context: ctxOf(4) });
    span.addLinks([{ context: ctxOf(5) }]);
    expect(r.links.map((l) => l.context.spanId)).toEqual([ctxOf(4).spanId, ctxOf(5).spanId]);
    expect(r.droppedLinksCount).toBe(3);
  });

  it('spans without links do not share a links array once one is added', () => {
    const { tracer } = setup();
    const a = tracer.startSpan('a');
    const b = tracer.startSpan('b');
    a.addLink({ context: ctxOf(1) });
    expect(asReadable(a).links).toHaveLength(1);
    expect(asReadable(b).links).toHaveLength(0);
  });
});

describe('status, name and end', () => {
  it('ERROR keeps its message, UNSET changes nothing, OK is final', () => {
    const { tracer } = setup();
    const s = tracer.startSpan('st');
    s.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    expect(asReadable(s).status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    s.setStatus({ code: SpanStatusCode.UNSET });
    expect(asReadable(s).status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    s.setStatus({ code: SpanStatusCode.OK, message: 'ignored for OK' });
    expect(asReadable(s).status).toEqual({ code: SpanStatusCode.OK });
    s.setStatus({ code: SpanStatusCode.ERROR, message: 'too late' });
    expect(asReadable(s).status).toEqual({ code: SpanStatusCode.OK });
    const other = tracer.startSpan('st2');
    expect(asReadable(other).status).toEqual({ code: SpanStatusCode.UNSET });
    other.setStatus({ code: SpanStatusCode.ERROR, message: 42 as never });
    expect(asReadable(other).status).toEqual({ code: SpanStatusCode.ERROR });
  });

  it('ends once: a second end() warns and reaches no processor; changes after the end are ignored', () => {
    const { tracer, rec } = setup();
    const s = tracer.startSpan('once');
    s.updateName('renamed');
    s.end();
    const end1 = asReadable(s).endTime;
    s.end();
    s.setAttribute('late', 1);
    s.updateName('too late');
    s.setStatus({ code: SpanStatusCode.ERROR });
    s.addEvent('late');
    expect(rec.calls).toEqual(['start once', 'ending renamed ended=false', 'end renamed ended=true']);
    const r = asReadable(s);
    expect(r.name).toBe('renamed');
    expect(r.attributes).toEqual({});
    expect(r.events).toEqual([]);
    expect(r.status.code).toBe(SpanStatusCode.UNSET);
    expect(r.endTime).toEqual(end1);
    expect(s.isRecording()).toBe(false);
    expect(diagLines.some((l) => l.includes('already ended'))).toBe(true);
  });
});

describe('times', () => {
  it('start and end times are wall-clock times; duration is their difference', async () => {
    const { tracer } = setup();
    const before = Date.now();
    const s = tracer.startSpan('t');
    await new Promise((r) => setTimeout(r, 5));
    s.end();
    const after = Date.now();
    const r = asReadable(s);
    expect(hrMs(r.startTime)).toBeGreaterThanOrEqual(before - 2);
    expect(hrMs(r.endTime)).toBeLessThanOrEqual(after + 2);
    expect(hrMs(r.endTime)).toBeGreaterThan(hrMs(r.startTime));
    expect(hrMs(r.duration)).toBeCloseTo(hrDiffMs(r.startTime, r.endTime), 9);
    expect(r.startTime[1]).toBeLessThan(1e9);
    expect(r.endTime[1]).toBeLessThan(1e9);
  });

  it('takes start and end times as HrTime, Date, epoch ms or performance.now() values', () => {
    const { tracer } = setup();
    const a = asReadable(tracer.startSpan('hr', { startTime: [1_700_000_000, 500] }));
    (a as unknown as Span).end([1_700_000_001, 400]);
    expect(a.startTime).toEqual([1_700_000_000, 500]);
    expect(a.endTime).toEqual([1_700_000_001, 400]);
    expect(a.duration).toEqual([0, 999_999_900]);
    const b = asReadable(tracer.startSpan('date', { startTime: new Date(1_700_000_000_250) }));
    (b as unknown as Span).end(1_700_000_000_750);
    expect(b.startTime).toEqual([1_700_000_000, 250_000_000]);
    expect(b.duration).toEqual([0, 500_000_000]);
    // Numbers up to performance.now() are performance.now() readings, larger ones epoch milliseconds (the SDK's rule).
    const p0 = performance.now() - 1;
    const c = asReadable(tracer.startSpan('perf', { startTime: p0 }));
    (c as unknown as Span).end(p0 + 0.25);
    expect(c.duration).toEqual([0, 250_000]);
    expect(Math.abs(hrMs(c.startTime) - (performance.timeOrigin + p0))).toBeLessThan(3);
  });

  it('an end before the start gives a zero duration, with a warning', () => {
    const { tracer } = setup();
    const s = asReadable(tracer.startSpan('back', { startTime: [1_700_000_010, 0] }));
    (s as unknown as Span).end([1_700_000_000, 0]);
    expect(s.endTime).toEqual(s.startTime);
    expect(s.duration).toEqual([0, 0]);
    expect(diagLines.some((l) => l.includes('Inconsistent start and end time'))).toBe(true);
  });
});

describe('processors', () => {
  it('are called in order: onStart with the parent context, onEnding while the span still takes changes, onEnd once ended', () => {
    const order: string[] = [];
    const redact: SpanProcessor = {
      onStart: () => void order.push('redact start'),
      onEnding: (span) => {
        order.push('redact ending');
        span.setAttribute('url.full', 'redacted');
      },
      onEnd: () => void order.push('redact end'),
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
    const noEnding: SpanProcessor = {
      onStart: () => void order.push('plain start'),
      onEnd: () => void order.push('plain end'),
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
    const { tracer, rec } = setup({ processors: [redact, noEnding] });
    const parentCtx = trace.setSpan(ROOT_CONTEXT, tracer.startSpan('parent'));
    order.length = 0;
    rec.calls.length = 0;
    const s = tracer.startSpan('req', { attributes: { 'url.full': 'https://u:p@x/' } }, parentCtx);
    expect(rec.parents.at(-1)).toBe(parentCtx);
    expect(rec.started.at(-1)).toBe(s);
    s.end();
    expect(order).toEqual(['redact start', 'plain start', 'redact ending', 'redact end', 'plain end']);
    expect(rec.calls).toEqual(['start req', 'ending req ended=false', 'end req ended=true']);
    expect(rec.ended.at(-1)!.attributes['url.full']).toBe('redacted');
  });

  it('a throwing processor (guarded as the agent does) never reaches the app, and the others still run', () => {
    const thrower: SpanProcessor = {
      onStart: () => {
        throw new Error('start broke');
      },
      onEnding: () => {
        throw new Error('ending broke');
      },
      onEnd: () => {
        throw new Error('end broke');
      },
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
    const warned: string[] = [];
    const log = { warn: (m: string) => void warned.push(m) } as unknown as AgentLog;
    const rec = new Recorder();
    const provider = new AgentTracerProvider({ spanProcessors: guardProcessors([thrower, rec], log) });
    const tracer: Tracer = provider.getTracer('t');
    expect(() => tracer.startSpan('a').end()).not.toThrow();
    expect(() => tracer.startSpan('b').end()).not.toThrow();
    expect(rec.ended.map((s) => s.name)).toEqual(['a', 'b']);
    expect(warned).toHaveLength(1);
  });
});

/** Everything an exporter reads, without the ids and times that differ between two runs. */
function view(s: ReadableSpan) {
  return {
    name: s.name,
    kind: s.kind,
    parent: s.parentSpanContext ? s.parentSpanContext.spanId.length : undefined,
    // Without the random trace-id flag (0x02), which the SDK does not set and the agent does on purpose.
    flags: s.spanContext().traceFlags & TraceFlags.SAMPLED,
    status: s.status,
    attributes: s.attributes,
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({ ...e, time: e.time.length })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links,
    droppedLinksCount: s.droppedLinksCount,
    ended: s.ended,
    scope: s.instrumentationScope,
  };
}

/** One script of everything instrumentations do to spans, run against any tracer. */
function script(tracer: Tracer): void {
  const link = {
    context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 },
    attributes: { a: 1, b: 'x', c: undefined },
  };
  const root = tracer.startSpan('GET /orders/:id', {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'GET', 'url.path': '/orders/7', long: 'z'.repeat(40), bad: (() => 1) as never, nil: null as never, u: undefined },
    links: [link, link, link],
  });
  const ctx = trace.setSpan(ROOT_CONTEXT, root);
  const child = tracer.startSpan('SELECT', { kind: SpanKind.CLIENT }, ctx);
  for (let i = 0; i < 12; i++) child.setAttribute(`k${i}`, i % 3 === 0 ? `v${i}` : i % 3 === 1 ? i * 1.5 : [i, i + 1]);
  child.setAttribute('k0', 'again');
  child.setAttributes({ m: { nested: ['a', 'b'] } as never, e: '' });
  child.addEvent('plain');
  child.addEvent('with attrs', { a: 1, s: 'long value here', arr: ['x', 'y'], bad: { o: 1 } as never });
  for (let i = 0; i < 4; i++) child.addEvent(`more ${i}`);
  child.recordException(new RangeError('out of range'));
  child.addLink(link);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  child.updateName('SELECT orders');
  child.end();
  root.setStatus({ code: SpanStatusCode.OK });
  root.setStatus({ code: SpanStatusCode.ERROR, message: 'ignored' });
  root.end();
  tracer.startSpan('hidden', {}, suppressTracing(ROOT_CONTEXT)).end();
  // Start attributes that need no cleaning (the tracer copies them in one step).
  const clean = { s: 'short', n: 1, f: 2.5, b: true, nil: null, arr: ['a', 'b'], map: { k: 1, deep: { d: [1, 2] } } };
  const fast = tracer.startSpan('clean start attributes', { attributes: clean as never });
  clean.arr.push('c');
  fast.setAttribute('later', 'x');
  fast.end();
  // Exactly at the count limit (10), then one more.
  const full: Attributes = {};
  for (let i = 0; i < 10; i++) full[`f${i}`] = i;
  const atLimit = tracer.startSpan('at limit', { attributes: full });
  atLimit.setAttribute('f0', 'overwrite');
  atLimit.setAttribute('f10', 10);
  atLimit.end();
  // setAttributes as the first attributes of a span (copied in one step when clean), then again.
  const later = tracer.startSpan('set later', { kind: SpanKind.SERVER });
  const arr = ['x'];
  later.setAttributes({ 'http.request.method': 'GET', 'server.port': 8080, ok: true, arr, nil: null as never });
  arr.push('y');
  later.setAttributes({ 'http.request.method': 'POST', extra: 1 });
  later.end();
  const messy = tracer.startSpan('set later, messy');
  messy.setAttributes({ a: 1, u: undefined, fn: (() => 1) as never, long: 'q'.repeat(30), '': 2 });
  messy.end();
  // The same key set over and over, then new keys up to and past the limit.
  const rewrites = tracer.startSpan('rewrites');
  for (let i = 0; i < 12; i++) rewrites.setAttribute('same', i);
  for (let i = 0; i < 10; i++) rewrites.setAttribute(`new${i}`, i);
  rewrites.setAttribute('same', 'last');
  rewrites.end();
  const tooMany = tracer.startSpan('set later, too many');
  tooMany.setAttributes(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`t${i}`, i])));
  tooMany.end();
}

describe('same as the SDK', () => {
  const limits: SpanLimits = {
    attributeCountLimit: 10,
    attributeValueLengthLimit: 12,
    eventCountLimit: 5,
    linkCountLimit: 2,
    attributePerEventCountLimit: 3,
    attributePerLinkCountLimit: 1,
  };

  function both(): { ours: ReadableSpan[]; sdk: ReadableSpan[] } {
    const collect = (into: ReadableSpan[]): SpanProcessor => ({
      onStart: () => undefined,
      onEnd: (s) => void into.push(s),
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    });
    const ours: ReadableSpan[] = [];
    const sdk: ReadableSpan[] = [];
    const resource = resourceFromAttributes({ 'service.name': 'same' });
    script(new AgentTracerProvider({ resource, spanLimits: limits, spanProcessors: [collect(ours)] }).getTracer('lib', '2.0.0', { schemaUrl: 'https://x/s' }));
    script(new TracerProvider({ resource, spanLimits: limits, spanProcessors: [collect(sdk)] }).getTracer('lib', '2.0.0', { schemaUrl: 'https://x/s' }));
    return { ours, sdk };
  }

  it('spans carry the same fields and values as the SDK’s for the same calls', () => {
    const { ours, sdk } = both();
    expect(ours.map(view)).toEqual(sdk.map(view));
    expect(ours).toHaveLength(8);
  });

  it('the upstream OTLP transformer and our encoder read our spans identically', () => {
    const require = createRequire(import.meta.url);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const root: any = require('otlp-proto-root/build/src/generated/root.js');
    const Req = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
    const decode = (b: Uint8Array): unknown => Req.toObject(Req.decode(b), { longs: String, bytes: String, defaults: true });
    const { ours } = both();
    expect(decode(encodeTraceRequest(ours))).toEqual(decode(ProtobufTraceSerializer.serializeRequest(ours as never)!));
  });
});

describe('wall clock', () => {
  it('follows a step of the wall clock (an NTP correction) within a second, without changing durations', () => {
    const { tracer } = setup();
    const realPerf = performance.now.bind(performance);
    const realDate = Date.now.bind(Date);
    const step = 60_000;
    try {
      // More than a second of monotonic time later (the offset is re-checked at most once a second), the wall clock is a minute ahead.
      let perfAhead = 1_500;
      vi.spyOn(performance, 'now').mockImplementation(() => realPerf() + perfAhead);
      vi.spyOn(Date, 'now').mockImplementation(() => realDate() + perfAhead + step);
      const before = Date.now();
      const s = asReadable(tracer.startSpan('after the step'));
      (s as unknown as Span).end();
      expect(hrMs(s.startTime)).toBeGreaterThanOrEqual(before - 2);
      expect(hrMs(s.startTime)).toBeLessThanOrEqual(Date.now() + 2);
      expect(hrDiffMs(s.startTime, s.endTime)).toBeLessThan(1_000);
      // And back: the next check, a second later, follows the real clock again.
      perfAhead = 3_000;
      vi.mocked(Date.now).mockImplementation(() => realDate() + perfAhead);
      const t = asReadable(tracer.startSpan('after stepping back'));
      expect(Math.abs(hrMs(t.startTime) - Date.now())).toBeLessThan(3);
    } finally {
      vi.restoreAllMocks();
    }
  });
});
