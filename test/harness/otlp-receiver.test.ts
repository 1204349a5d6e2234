import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type SpanContext } from '@opentelemetry/api';
import { SimpleSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { byName, childrenOf, one, spanTree, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from './otlp-receiver';

let recv: OtlpReceiver;
beforeAll(async () => {
  recv = await startOtlpReceiver();
});
afterAll(() => recv.close());
afterEach(() => {
  recv.setBehavior('ok');
  recv.clear();
});

type Transport = 'http/protobuf' | 'http/json' | 'grpc';
function makeExporter(t: Transport, gzip = false): SpanExporter {
  const compression = gzip ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
  if (t === 'grpc') return new GrpcExporter({ url: recv.grpcUrl, compression });
  const url = `${recv.url}/v1/traces`;
  return t === 'http/json' ? new JsonExporter({ url, compression }) : new ProtoExporter({ url, compression });
}

/** Runs `fn` with a tracer whose spans go through `exporter`, then flushes and shuts down. */
async function withTracer(exporter: SpanExporter, fn: (tracer: ReturnType<TracerProvider['getTracer']>) => void) {
  const provider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
    resource: resourceFromAttributes({ 'service.name': 'recv-test', 'deployment.environment': 'ci' }),
  });
  fn(provider.getTracer('harness-scope', '1.2.3'));
  // SimpleSpanProcessor.forceFlush rejects when an export failed; hand that back to the caller.
  const flushError = await provider.forceFlush().then(
    () => undefined,
    (e: unknown) => e,
  );
  await provider.shutdown();
  return flushError;
}

/** parent(SERVER) -> child(CLIENT, link to another trace, event, ERROR) plus the link target. */
async function sendSampleSet(exporter: SpanExporter) {
  const ctx = {} as Record<'target' | 'parent' | 'child', SpanContext> & { flushError?: unknown };
  ctx.flushError = await withTracer(exporter, (tracer) => {
    const target = tracer.startSpan('link-target', { kind: SpanKind.PRODUCER });
    ctx.target = target.spanContext();
    target.end();
    const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER, attributes: { 'http.route': '/x' } });
    ctx.parent = parent.spanContext();
    const child = tracer.startSpan(
      'child',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          str: 'hello',
          int: 42,
          big: 2 ** 40,
          neg: -7,
          dbl: 3.25,
          bool: false,
          strs: ['a', 'b'],
          nums: [1, 2, 3],
        },
        links: [{ context: ctx.target, attributes: { 'link.kind': 'follows', 'link.n': 1 } }],
      },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    ctx.child = child.spanContext();
    child.addEvent('something happened', { 'evt.count': 7, 'evt.msg': 'hi', 'evt.ok': true });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    child.end();
    parent.end();
  });
  return ctx;
}

describe.each<[Transport, boolean]>([
  ['http/protobuf', false],
  ['http/json', false],
  ['grpc', false],
  ['http/protobuf', true],
  ['http/json', true],
  ['grpc', true],
])('decoding spans from the upstream %s exporter (gzip=%s)', (transport, gzip) => {
  it('decodes ids, hierarchy, kinds, attributes, events, links, status, resource and scope', async () => {
    const ctx = await sendSampleSet(makeExporter(transport, gzip));
    expect(ctx.flushError).toBeUndefined();
    const spans = await recv.waitForSpans(3);
    expect(spans).toHaveLength(3);

    const reqs = recv.requests();
    expect(reqs.length).toBeGreaterThan(0);
    for (const r of reqs) {
      expect(r.transport).toBe(transport);
      expect(r.path).toBe(transport === 'grpc' ? '/opentelemetry.proto.collector.trace.v1.TraceService/Export' : '/v1/traces');
      if (gzip) expect(r.contentEncoding).toBe('gzip');
      else expect(r.contentEncoding).toBeUndefined();
    }
    expect(reqs.reduce((n, r) => n + r.spanCount, 0)).toBe(3);

    const parent = one(spans, 'parent');
    const child = one(spans, 'child');
    const target = one(spans, /^link-/);

    expect(parent).toMatchObject({ traceId: ctx.parent.traceId, spanId: ctx.parent.spanId, parentSpanId: '', kind: 'SERVER' });
    expect(parent.attributes).toEqual({ 'http.route': '/x' });
    expect(parent.status).toEqual({ code: 'UNSET' });
    expect(target).toMatchObject({ traceId: ctx.target.traceId, spanId: ctx.target.spanId, kind: 'PRODUCER' });
    expect(target.traceId).not.toBe(parent.traceId);

    expect(child.traceId).toBe(ctx.parent.traceId);
    expect(child.spanId).toBe(ctx.child.spanId);
    expect(child.parentSpanId).toBe(ctx.parent.spanId);
    expect(child.kind).toBe('CLIENT');
    expect(child.attributes).toStrictEqual({
      str: 'hello',
      int: 42,
      big: 2 ** 40,
      neg: -7,
      dbl: 3.25,
      bool: false,
      strs: ['a', 'b'],
      nums: [1, 2, 3],
    });
    expect(typeof child.attributes.int).toBe('number');
    expect(typeof child.attributes.bool).toBe('boolean');
    expect(child.status).toEqual({ code: 'ERROR', message: 'boom' });
    expect(child.events).toEqual([{ name: 'something happened', attributes: { 'evt.count': 7, 'evt.msg': 'hi', 'evt.ok': true } }]);
    expect(child.links).toEqual([{ traceId: ctx.target.traceId, spanId: ctx.target.spanId, attributes: { 'link.kind': 'follows', 'link.n': 1 } }]);

    for (const s of spans) {
      expect(s.resource).toMatchObject({ 'service.name': 'recv-test', 'deployment.environment': 'ci' });
      expect(s.scope).toEqual({ name: 'harness-scope', version: '1.2.3' });
      expect(typeof s.startNs).toBe('bigint');
      expect(s.endNs >= s.startNs).toBe(true);
      expect(s.durationMs).toBeGreaterThanOrEqual(0);
      // Timestamps are nanoseconds since the epoch, decoded at full 64-bit precision.
      expect(Math.abs(Number(s.startNs / 1_000_000n) - Date.now())).toBeLessThan(60_000);
      expect(s.flags! & 0xff).toBe(1); // W3C trace flags: sampled
      expect(s.traceState).toBeUndefined();
    }
    expect(childrenOf(spans, parent)).toEqual([child]);
  });
});

describe('spanTree and query helpers', () => {
  it('renders a deterministic, normalized tree per trace', async () => {
    const t0 = Date.now() - 10_000;
    await withTracer(makeExporter('http/protobuf'), (tracer) => {
      const at = (ms: number) => ({ startTime: t0 + ms });
      // Second trace starts later; created first to prove ordering is by start time, not arrival.
      const late = tracer.startSpan('job', { ...at(500), kind: SpanKind.CONSUMER });
      late.end(t0 + 600);
      const root = tracer.startSpan('GET /users', { ...at(0), kind: SpanKind.SERVER });
      const rctx = trace.setSpan(ROOT_CONTEXT, root);
      const render = tracer.startSpan('render', { ...at(50) }, rctx);
      tracer.startSpan('template', at(60), trace.setSpan(ROOT_CONTEXT, render)).end(t0 + 70);
      render.end(t0 + 80);
      // Same start time: siblings ordered by name.
      tracer.startSpan('db.query', { ...at(10), kind: SpanKind.CLIENT }, rctx).end(t0 + 20);
      tracer.startSpan('cache.get', { ...at(10), kind: SpanKind.CLIENT }, rctx).end(t0 + 15);
      root.end(t0 + 100);
    });
    const spans = await recv.waitForSpans(6);
    expect(spanTree(spans)).toBe(
      ['GET /users  SERVER', '  cache.get  CLIENT', '  db.query  CLIENT', '  render  INTERNAL', '    template  INTERNAL', '', 'job  CONSUMER'].join('\n'),
    );
    expect(spanTree([...spans].reverse())).toBe(spanTree(spans));
    expect(
      byName(spans, /^(db|cache)\./)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['cache.get', 'db.query']);
    expect(childrenOf(spans, one(spans, 'GET /users')).map((s) => s.name)).toEqual(['cache.get', 'db.query', 'render']);
    expect(() => one(spans, 'nope')).toThrow(/exactly one span named nope, found 0/);
    expect(() => one(spans, /\./)).toThrow(/found 2/);
  });
});

describe('OTLP/JSON normalization', () => {
  it('accepts enum names/ints, int64 strings, base64 ids and snake_case keys', async () => {
    const body = {
      resource_spans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'raw' } }] },
          scope_spans: [
            {
              scope: { name: 'raw-scope' },
              spans: [
                {
                  trace_id: Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex').toString('base64'),
                  span_id: 'B7AD6B7169203331',
                  parent_span_id: '',
                  name: 'raw',
                  kind: 'SPAN_KIND_CONSUMER',
                  start_time_unix_nano: '1700000000123456789',
                  end_time_unix_nano: '1700000000223456789',
                  attributes: [
                    { key: 'i64', value: { intValue: '9007199254740993' } },
                    { key: 'kv', value: { kvlistValue: { values: [{ key: 'a', value: { intValue: 1 } }] } } },
                  ],
                  status: { code: 2 },
                  trace_state: 'k=v',
                  flags: 1,
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${recv.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({});
    const [s] = recv.spans();
    expect(s).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      parentSpanId: '',
      kind: 'CONSUMER',
      startNs: 1700000000123456789n,
      endNs: 1700000000223456789n,
      durationMs: 100,
      status: { code: 'ERROR' },
      resource: { 'service.name': 'raw' },
      scope: { name: 'raw-scope' },
      traceState: 'k=v',
      flags: 1,
    } satisfies Partial<RecvSpan>);
    expect(s!.attributes).toEqual({ i64: 9007199254740992, kv: { a: 1 } });
  });

  it('answers an empty protobuf request with an empty protobuf response', async () => {
    const res = await fetch(`${recv.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(0),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    const metrics = await fetch(`${recv.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect([metrics.status, await metrics.text()]).toEqual([200, '{}']);
    expect((await fetch(`${recv.url}/v1/nope`, { method: 'POST', body: '' })).status).toBe(404);
    expect(recv.requests()).toMatchObject([
      { transport: 'http/protobuf', path: '/v1/traces', spanCount: 0 },
      { transport: 'http/json', path: '/v1/metrics', spanCount: 0 },
    ]);
  });
});

describe('waiting and fault injection', () => {
  it('waitForSpans rejects with a helpful message on timeout', async () => {
    await sendSampleSet(makeExporter('http/protobuf'));
    await expect(recv.waitForSpans(5, 200)).rejects.toThrow(
      /timed out after 200ms waiting for 5 span\(s\)[\s\S]*Received 3 span\(s\)[\s\S]*parent  SERVER\n {2}child  CLIENT/,
    );
    await expect(recv.waitForSpans((s) => s.some((x) => x.name === 'missing'), 100)).rejects.toThrow(/predicate/);
  });

  it("'refuse500' answers 500 and records the attempt but no span", async () => {
    recv.setBehavior('refuse500');
    const res = await fetch(`${recv.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(0),
    });
    expect(res.status).toBe(500);
    const { flushError } = await sendSampleSet(makeExporter('http/protobuf'));
    expect(String(flushError)).toMatch(/Internal Server Error/);
    const reqs = recv.requests();
    expect(reqs.length).toBeGreaterThanOrEqual(2);
    expect(reqs.reduce((n, r) => n + r.spanCount, 0)).toBeGreaterThan(0);
    expect(recv.spans()).toEqual([]);
  });

  it('status429 sets Retry-After; garbage/close/delay behave as described', async () => {
    const post = () => fetch(`${recv.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(0) });
    recv.setBehavior('status429');
    const r429 = await post();
    expect([r429.status, r429.headers.get('retry-after')]).toEqual([429, '1']);
    recv.setBehavior('status503');
    expect((await post()).status).toBe(503);
    recv.setBehavior('garbage');
    const g = await post();
    expect(g.status).toBe(200);
    expect((await g.arrayBuffer()).byteLength).toBe(64);
    recv.setBehavior('close');
    await expect(post().then((r) => r.arrayBuffer())).rejects.toThrow();
    recv.setBehavior({ delayMs: 150 });
    const t = Date.now();
    expect((await post()).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(140);
  });

  it("'hang' never answers and close() still tears down promptly", async () => {
    const r2 = await startOtlpReceiver();
    r2.setBehavior('hang');
    const pending = fetch(`${r2.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(0),
    });
    const waiting = r2.waitForSpans(1, 30_000).catch((e: Error) => e);
    while (r2.requests().length === 0) await new Promise((r) => setTimeout(r, 10));
    const t = Date.now();
    await r2.close();
    expect(Date.now() - t).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
    expect(String(await waiting)).toMatch(/receiver closed/);
  });
});

describe('TLS', () => {
  let dir = '';
  let key: Buffer, cert: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otlp-recv-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const post = (url: string, opts: https.RequestOptions) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, ...opts }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });

  it('serves HTTPS and, with requestCert, rejects clients without a trusted certificate', async () => {
    const r = await startOtlpReceiver({ tls: { key, cert } });
    try {
      expect(r.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(await post(r.url, { ca: cert })).toBe(200);
    } finally {
      await r.close();
    }
    const m = await startOtlpReceiver({ tls: { key, cert, ca: cert, requestCert: true } });
    try {
      await expect(post(m.url, { ca: cert })).rejects.toThrow();
      expect(await post(m.url, { ca: cert, key, cert })).toBe(200);
      expect(m.requests()).toHaveLength(1);
    } finally {
      await m.close();
    }
  });
});
