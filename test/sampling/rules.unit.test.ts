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
});
