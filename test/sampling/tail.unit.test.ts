/**
 * Local tail mode inside one process, with the agent's own tracer: what reaches the sink
 * (the batch processors), what the bounds leave out, what a drop rule and the sampled
 * flag still say, and the running debug line (sampling/report.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOffSampler, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { AgentTracerProvider } from '../../src/tracer';
import { probeRules, RuleSampler, type SamplingRuleSpec } from '../../src/sampling/rules';
import { TailProcessor, TailSampler, type TailOptions } from '../../src/sampling/tail';
import { SamplingReport } from '../../src/sampling/report';
import { ConsistentParentBasedSampler, ConsistentRatioSampler } from '../../src/tracer/consistent-sampler';
import type { AgentLog } from '../../src/log';

function setup(o: Partial<TailOptions> = {}, withRules: boolean | SamplingRuleSpec[] = false) {
  const got: ReadableSpan[] = [];
  const tail = new TailProcessor({ latencyMs: 0, maxSpans: 100, maxSpansPerTrace: 10, ...o }, (s) => got.push(s));
  const base = new ConsistentParentBasedSampler(new AlwaysOffSampler());
  const rules = withRules === true ? probeRules() : withRules || [];
  const inner = rules.length ? new RuleSampler(rules, base, (r) => new ConsistentRatioSampler(r)) : base;
  const provider = new AgentTracerProvider({ sampler: new TailSampler(inner, tail), spanProcessors: [tail] });
  const tracer = provider.getTracer('t');
  const child = (parent: Span, name: string, kind = SpanKind.INTERNAL): Span => tracer.startSpan(name, { kind }, trace.setSpan(ROOT_CONTEXT, parent));
  return { got, tail, tracer, child, inner };
}

describe('local tail mode (in process)', () => {
  it('an entry span that fails: its local spans go to the sink, marked; the sampled flag stays unset', () => {
    const { got, tracer, child } = setup();
    const root = tracer.startSpan('GET /x', { kind: SpanKind.SERVER });
    const c = child(root, 'db');
    expect(c.isRecording()).toBe(true);
    expect(c.spanContext().traceFlags & TraceFlags.SAMPLED).toBe(0);
    // What a downstream service would be told: unsampled.
    const headers: Record<string, string> = {};
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    propagation.inject(trace.setSpan(context.active(), c), headers);
    propagation.disable();
    expect(headers.traceparent).toBe(`00-${c.spanContext().traceId}-${c.spanContext().spanId}-02`);
    c.end();
    expect(got).toEqual([]);
    root.setStatus({ code: SpanStatusCode.ERROR });
    root.end();
    expect(got.map((s) => s.name)).toEqual(['db', 'GET /x']);
    expect(got.map((s) => s.attributes['otel.agent.tail_kept'])).toEqual([true, true]);
    expect(got[1]!.attributes['otel.agent.tail_reason']).toBe('error');
  });

  it('an entry span that ends well: nothing goes out, nothing stays held', () => {
    const { got, tail, tracer, child } = setup();
    const root = tracer.startSpan('GET /x', { kind: SpanKind.SERVER });
    child(root, 'a').end();
    root.end();
    expect(got).toEqual([]);
    // A child started after its entry span ended is not recorded any more.
    expect(child(root, 'late').isRecording()).toBe(false);
    expect(tail.summary()).toBe('tail sampling: 0 of 1 unsampled request(s) kept (0 error, 0 slow), 0 span(s) exported');
  });

  it('a 5xx status code or an exception event keeps a request; a child ending after a kept entry span still goes out', () => {
    const { got, tracer, child } = setup();
    const a = tracer.startSpan('GET /a', { kind: SpanKind.SERVER });
    a.setAttribute('http.response.status_code', 503);
    const late = child(a, 'late');
    a.end();
    late.end();
    const b = tracer.startSpan('job', { kind: SpanKind.CONSUMER });
    b.recordException(new Error('boom'));
    b.end();
    expect(got.map((s) => s.name)).toEqual(['GET /a', 'late', 'job']);
    expect(got[1]!.attributes['otel.agent.tail_kept']).toBe(true);
  });

  it('slow: over the latency threshold', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const { got, tracer } = setup({ latencyMs: 100 });
      const fast = tracer.startSpan('GET /fast', { kind: SpanKind.SERVER });
      vi.advanceTimersByTime(50);
      fast.end();
      const slow = tracer.startSpan('GET /slow', { kind: SpanKind.SERVER });
      vi.advanceTimersByTime(150);
      slow.end();
      expect(got.map((s) => [s.name, s.attributes['otel.agent.tail_reason']])).toEqual([['GET /slow', 'slow']]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('only SERVER and CONSUMER spans start a recorded trace; a drop rule records nothing', () => {
    const { tracer } = setup({}, true);
    expect(tracer.startSpan('cron', { kind: SpanKind.INTERNAL }).isRecording()).toBe(false);
    expect(tracer.startSpan('GET', { kind: SpanKind.CLIENT }).isRecording()).toBe(false);
    expect(tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'url.path': '/healthz' } }).isRecording()).toBe(false);
    expect(tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'url.path': '/orders' } }).isRecording()).toBe(true);
  });

  it('a span_kind client drop rule: the call of a recorded request is not recorded, the other calls are', () => {
    const { got, tracer } = setup({}, [{ kind: 'client', attributes: { 'server.address': 'metadata.google.internal' }, action: 'drop', label: 'no metadata' }]);
    const root = tracer.startSpan('GET /x', { kind: SpanKind.SERVER });
    const ctx = trace.setSpan(ROOT_CONTEXT, root);
    const call = (host: string) => tracer.startSpan(`GET ${host}`, { kind: SpanKind.CLIENT, attributes: { 'server.address': host } }, ctx);
    const metadata = call('metadata.google.internal');
    const api = call('api.example.com');
    expect([metadata.isRecording(), api.isRecording()]).toEqual([false, true]);
    metadata.end();
    api.end();
    root.setStatus({ code: SpanStatusCode.ERROR });
    root.end();
    expect(got.map((s) => s.name)).toEqual(['GET api.example.com', 'GET /x']);
  });

  it('bounds: per trace, in total, and a request that never ends is evicted; all counted', () => {
    const { got, tail, tracer, child } = setup({ maxSpans: 3, maxSpansPerTrace: 2 });
    const leaked = tracer.startSpan('GET /leak', { kind: SpanKind.SERVER });
    child(leaked, 'held').end();
    const a = tracer.startSpan('GET /a', { kind: SpanKind.SERVER });
    for (let i = 0; i < 3; i++) child(a, `a${i}`).end(); // 2 held (3 in all), the third over the per-trace bound
    const b = tracer.startSpan('GET /b', { kind: SpanKind.SERVER });
    child(b, 'b0').end(); // over the total
    tracer.startSpan('GET /c', { kind: SpanKind.SERVER }); // a fourth open request: the oldest (leaked: 1 held + itself) goes
    a.setStatus({ code: SpanStatusCode.ERROR });
    a.end();
    expect(got.map((s) => s.name)).toEqual(['a0', 'a1', 'GET /a']);
    leaked.end(); // evicted: its end is dropped
    expect(got).toHaveLength(3);
    expect(tail.counts).toMatchObject({ recorded: 4, keptError: 1, overTrace: 1, overTotal: 3 });
    expect(tail.summary()).toContain('not kept: 1 span(s) over OTEL_AGENT_TAIL_MAX_SPANS_PER_TRACE, 3 span(s) over OTEL_AGENT_TAIL_MAX_SPANS');
  });

  it('two entry spans of one trace in this process (a service calling itself): kept when either fails', () => {
    const { got, tracer, child } = setup();
    const outer = tracer.startSpan('GET /outer', { kind: SpanKind.SERVER });
    const call = child(outer, 'GET', SpanKind.CLIENT);
    const remote = trace.setSpanContext(ROOT_CONTEXT, { ...call.spanContext(), isRemote: true });
    const inner = tracer.startSpan('GET /inner', { kind: SpanKind.SERVER }, remote);
    expect(inner.spanContext().traceId).toBe(outer.spanContext().traceId);
    inner.setStatus({ code: SpanStatusCode.ERROR });
    inner.end();
    call.end();
    outer.end();
    expect(got.map((s) => s.name)).toEqual(['GET /inner', 'GET', 'GET /outer']);
  });
});

describe('sampling decisions at debug while running', () => {
  it('soon after the first decisions, then only when a count moved and at most once per interval', () => {
    vi.useFakeTimers();
    try {
      const lines: string[] = [];
      const log = { enabled: () => true, debug: (m: string) => lines.push(m) } as unknown as AgentLog;
      const { tracer, tail, inner } = setup({}, true);
      const report = new SamplingReport(inner, tail);
      report.startDebug(log, 10_000);
      vi.advanceTimersByTime(3000);
      expect(lines).toEqual([]); // nothing decided yet
      tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'url.path': '/healthz' } });
      vi.advanceTimersByTime(1000);
      expect(lines).toEqual(['so far: sampling rules: probe /healthz: 1 dropped']);
      tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'url.path': '/ready' } });
      vi.advanceTimersByTime(5000);
      expect(lines).toHaveLength(1); // moved, but within the interval
      vi.advanceTimersByTime(6000);
      // Both dropped by a rule: tail mode recorded nothing, so it says nothing.
      expect(lines[1]).toBe('so far: sampling rules: probe /healthz: 1 dropped; probe /ready: 1 dropped');
      vi.advanceTimersByTime(60_000);
      expect(lines).toHaveLength(2); // nothing moved
      report.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('not scheduled below debug', () => {
    const spy = vi.spyOn(globalThis, 'setInterval');
    const log = { enabled: (l: string) => l !== 'debug', debug: () => undefined } as unknown as AgentLog;
    new SamplingReport(new RuleSampler(probeRules(), new AlwaysOffSampler(), () => new AlwaysOffSampler()), undefined).startDebug(log);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });
});
