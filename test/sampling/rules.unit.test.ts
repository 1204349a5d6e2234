/** The rule sampler on its own: matching, first match wins, parents, counts. */
import { describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { AlwaysOnSampler, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { globToRegExp, probeRules, RuleSampler, type SamplingRuleSpec } from '../../src/sampling/rules';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const fallback = new ParentBasedSampler({ root: new AlwaysOnSampler() });
const sampler = (rules: SamplingRuleSpec[]) => new RuleSampler(rules, fallback, (r) => new TraceIdRatioBasedSampler(r));
const decide = (s: RuleSampler, path: string, o: { kind?: SpanKind; ctx?: Context; method?: string } = {}) =>
  s.shouldSample(o.ctx ?? ROOT_CONTEXT, TRACE, 'GET', o.kind ?? SpanKind.SERVER, { 'url.path': path, 'http.request.method': o.method ?? 'GET' }, []).decision;
const parent = (sampled: boolean, isRemote: boolean) =>
  trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: 'b7ad6b7169203331', traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote });
const ON = SamplingDecision.RECORD_AND_SAMPLED;
const OFF = SamplingDecision.NOT_RECORD;

describe('sampling rules', () => {
  it('globs: * and {a,b}, everything else literal', () => {
    expect(globToRegExp('/health*').test('/healthz')).toBe(true);
    expect(globToRegExp('/health{,/}').test('/health/')).toBe(true);
    expect(globToRegExp('/health{,/}').test('/healthy')).toBe(false);
    expect(globToRegExp('/a.b').test('/aXb')).toBe(false);
  });

  it('drops the probes, and nothing else', () => {
    const s = sampler(probeRules());
    for (const p of ['/health', '/healthz', '/ready/', '/livez', '/metrics', '/favicon.ico']) expect(decide(s, p), p).toBe(OFF);
    for (const p of ['/healthcheck-report', '/orders/1', '/metrics/orders', '/']) expect(decide(s, p), p).toBe(ON);
    // A CLIENT call to another service's /health is the app's work: not a probe of this service.
    expect(decide(s, '/health', { kind: SpanKind.CLIENT })).toBe(ON);
  });

  it('first match wins; no match falls back to the configured sampler', () => {
    const s = sampler([
      { attributes: { 'url.path': '/checkout*' }, action: 'sample', ratio: 1, label: 'keep checkout' },
      { kind: 'server', action: 'sample', ratio: 0, label: 'rest' },
    ]);
    expect(decide(s, '/checkout/42')).toBe(ON);
    expect(decide(s, '/orders/1')).toBe(OFF);
    expect(decide(s, '/orders/1', { kind: SpanKind.CLIENT })).toBe(ON);
  });

  it("follows a local parent; a remote parent's decision wins unless the rule overrides it", () => {
    const drop: SamplingRuleSpec = { attributes: { 'url.path': '/internal*' }, action: 'drop', label: 'drop internal' };
    const s = sampler([drop]);
    expect(decide(s, '/internal/x', { ctx: parent(true, false) })).toBe(ON);
    expect(decide(s, '/internal/x', { ctx: parent(true, true) })).toBe(ON);
    expect(
      sampler([{ ...drop, overrideParent: true }]).shouldSample(parent(true, true), TRACE, 'GET', SpanKind.SERVER, { 'url.path': '/internal/x' }, []).decision,
    ).toBe(OFF);
  });

  it('counts what each rule decided', () => {
    const s = sampler(probeRules());
    decide(s, '/healthz');
    decide(s, '/healthz');
    decide(s, '/ready');
    decide(s, '/orders/1');
    expect(s.counts()).toBe('sampling rules: probe /healthz: 2 dropped; probe /ready: 1 dropped');
  });

  describe('span_kind client rules', () => {
    const metadata: SamplingRuleSpec = { kind: 'client', attributes: { 'server.address': 'metadata.google.internal' }, action: 'drop', label: 'no metadata' };
    const call = (s: RuleSampler, host: string, ctx: Context = ROOT_CONTEXT, port = 80) =>
      s.shouldSample(ctx, TRACE, 'GET', SpanKind.CLIENT, { 'server.address': host, 'server.port': port, 'url.full': `http://${host}/x` }, []).decision;

    it('a drop rule drops a matching call under a sampled parent, local or remote, and as a root', () => {
      // (Under an unsampled parent too: what local tail mode would otherwise record, see tail.unit.test.ts.)
      const s = sampler([metadata]);
      for (const ctx of [ROOT_CONTEXT, parent(true, false), parent(true, true)]) {
        expect(call(s, 'metadata.google.internal', ctx)).toBe(OFF);
        expect(call(s, 'api.example.com', ctx)).toBe(ON);
      }
      // Only CLIENT spans: a SERVER or INTERNAL child with the same attribute follows its parent.
      expect(s.shouldSample(parent(true, false), TRACE, 'x', SpanKind.INTERNAL, { 'server.address': 'metadata.google.internal' }, []).decision).toBe(ON);
      expect(s.counts()).toBe('sampling rules: no metadata: 3 dropped');
    });

    it('never raises an unsampled parent: a sample rule keeps a call only as its parent decided', () => {
      const s = sampler([{ kind: 'client', attributes: { 'server.address': 'api.example.com' }, action: 'sample', ratio: 1, label: 'keep api' }, metadata]);
      expect(call(s, 'api.example.com', parent(false, false))).toBe(OFF);
      expect(call(s, 'metadata.google.internal', parent(false, false))).toBe(OFF);
      expect(call(s, 'api.example.com', parent(true, false))).toBe(ON);
      // Under an unsampled parent the sample rule decided nothing; the drop rule did.
      expect(s.counts()).toBe('sampling rules: keep api: 1 kept; no metadata: 1 dropped');
      // A sample rule matched first shields its calls from a later drop rule.
      const shield = sampler([
        { kind: 'client', attributes: { 'url.full': 'http://metadata.google.internal/x' }, action: 'sample', ratio: 0, label: 'keep x' },
        metadata,
      ]);
      expect(call(shield, 'metadata.google.internal', parent(true, false))).toBe(ON);
      // Its ratio applies where rules decide anyway: to roots.
      expect(call(shield, 'metadata.google.internal')).toBe(OFF);
    });

    it('rules without span_kind client still leave local children to their parent', () => {
      const s = sampler([{ attributes: { 'server.address': 'metadata.google.internal' }, action: 'drop', label: 'any kind' }]);
      expect(call(s, 'metadata.google.internal', parent(true, false))).toBe(ON);
      expect(call(s, 'metadata.google.internal')).toBe(OFF);
    });

    it('matches a number attribute (server.port) as written', () => {
      const s = sampler([{ kind: 'client', attributes: { 'server.port': '8{080,443}' }, action: 'drop', label: 'ports' }]);
      expect(call(s, 'a', parent(true, false), 8080)).toBe(OFF);
      expect(call(s, 'a', parent(true, false), 80)).toBe(ON);
    });
  });
});
