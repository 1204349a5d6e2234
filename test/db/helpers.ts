/**
 * Assertions shared by the database tests: which spans a run produced, and
 * whether a secret the fixture sent to the database shows up anywhere in
 * what the agent exported.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { childrenOf, type OtlpReceiver, type RecvMetricPoint, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, type FixtureResult } from '../harness/fixture';

export function secret(tag: string): string {
  return `${tag}-S3CRET-${randomBytes(6).toString('hex')}`;
}

export function spansOf(rx: OtlpReceiver, service: string): RecvSpan[] {
  return rx.spans().filter((s) => s.resource['service.name'] === service);
}

export const isDb = (s: RecvSpan): boolean => s.attributes['db.system.name'] !== undefined;

/** Everything the receiver decoded for these spans (names, attributes, events, status, links, resource). */
export function exported(spans: RecvSpan[]): string {
  return JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export function expectNowhere(spans: RecvSpan[], ...secrets: string[]): void {
  const text = exported(spans);
  for (const s of secrets) expect(text, `"${s}" must not be exported`).not.toContain(s);
}

/** The fixture's one SERVER span and the database spans directly under it, in start order. */
export function requestSpans(spans: RecvSpan[]): { server: RecvSpan; db: RecvSpan[] } {
  const servers = spans.filter((s) => s.kind === 'SERVER');
  expect(servers.map((s) => s.name)).toHaveLength(1);
  const server = servers[0]!;
  return { server, db: childrenOf(spans, server).filter(isDb) };
}

/** Exactly one span with this name among `spans`. */
export function only(spans: RecvSpan[], name: string): RecvSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found, `one span named "${name}" among: ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
  return found[0]!;
}

export function expectClient(span: RecvSpan, attributes: Record<string, unknown>): void {
  expect(span.kind).toBe('CLIENT');
  expect(span.attributes).toMatchObject(attributes);
}

/** Sorted `name KIND` of the spans that are not database spans (numbers, such as ports, blanked). */
export function otherSpans(spans: RecvSpan[]): string[] {
  return spans
    .filter((s) => !isDb(s))
    .map((s) => `${s.name.replace(/\d+/g, 'N')} ${s.kind}`)
    .sort();
}

export function expectOk(r: FixtureResult): void {
  expect(r.code, `fixture failed:\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
}

/**
 * OTEL_NODE_DISABLED_INSTRUMENTATIONS=<name>: the run produces no spans from
 * these scopes and no database spans, and every other span is still there.
 */
export async function expectDisabledRemovesOnly(
  rx: OtlpReceiver,
  opts: { fixture: string; name: string; env: Record<string, string>; enabledService: string; args?: string[] },
): Promise<void> {
  const service = `${opts.enabledService}-disabled`;
  const r = await runFixture({
    fixture: opts.fixture,
    endpoint: rx.url,
    args: opts.args,
    env: { ...opts.env, OTEL_SERVICE_NAME: service, OTEL_NODE_DISABLED_INSTRUMENTATIONS: opts.name },
  });
  expectOk(r);
  const off = spansOf(rx, service);
  const on = spansOf(rx, opts.enabledService);
  expect(on.filter(isDb).length, 'the enabled run made database spans').toBeGreaterThan(0);
  expect(off.filter(isDb)).toEqual([]);
  expect(otherSpans(off)).toEqual(otherSpans(on));
}

/**
 * The metrics tests' run: REQUESTS requests (the fixture sends the first one sampled, the
 * others not), metrics on, delta temporality, exported every 100 ms (so the counts are sums
 * over several exports).
 */
export function metricsEnv(service: string, requests: number): Record<string, string> {
  return {
    OTEL_SERVICE_NAME: service,
    REQUESTS: String(requests),
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_AGENT_RUNTIME_METRICS: 'false',
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
    OTEL_METRIC_EXPORT_INTERVAL: '100',
  };
}

/** The service's db.client.operation.duration points. */
export function durationPoints(rx: OtlpReceiver, service: string): RecvMetricPoint[] {
  return rx.metrics().filter((p) => p.resource['service.name'] === service && p.name === 'db.client.operation.duration');
}

/** Delta histogram counts summed by the given attributes (`undefined` where one is absent). */
export function countsBy(points: RecvMetricPoint[], keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points) {
    const k = keys.map((key) => String(p.attributes[key])).join(' ');
    out[k] = (out[k] ?? 0) + p.count!;
  }
  return out;
}

/** Every point a histogram in seconds with a positive sum, delta, from `scope`, with these attributes. */
export function expectDurationPoints(points: RecvMetricPoint[], scope: string, attributes: Record<string, unknown>): void {
  expect(points.length).toBeGreaterThan(0);
  for (const p of points) {
    expect([p.type, p.unit, p.temporality, p.scope]).toEqual(['histogram', 's', 'delta', scope]);
    expect(p.attributes).toMatchObject(attributes);
    expect(p.sum).toBeGreaterThan(0);
  }
}

/** The trace ids the points' exemplars name (the trace_based filter: sampled spans only). */
export function exemplarTraces(points: RecvMetricPoint[]): string[] {
  return [...new Set(points.flatMap((p) => p.exemplars.map((e) => e.traceId)))];
}

/** The trace id the REQUESTS fixtures give their first, sampled, request. */
export const SAMPLED_REQUEST_TRACE = '1'.padStart(32, '0');
