/**
 * SERVER spans of an app that only uses node:http / node:https: one per
 * request, named by method and a low-cardinality path template, with stable
 * semconv attributes, continuing whatever trace the caller propagated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../harness/fixture';
import { byName, childrenOf, one, startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { makeCert, OLD_HTTP_ATTRIBUTES, send, startDownstream, traceparent, type Downstream, type TestCert } from './helpers';
import { withServer } from './run-server';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

let rx: OtlpReceiver;
let ds: Downstream;
let cert: TestCert | undefined;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  ds = await startDownstream();
  cert = makeCert();
});
afterAll(async () => {
  await ds.close();
  await rx.close();
  cert?.cleanup();
});

describe.each(VARIANTS)('http server (%s)', (ext) => {
  it('makes one SERVER span per request, named METHOD + path template, with stable attributes only', async () => {
    const service = `srv-attrs-${ext}`;
    const replies: number[] = [];
    const run = await withServer(rx, { ext, service, env: { DOWNSTREAM: ds.url } }, async (base) => {
      replies.push((await send(`${base}/orders/42?page=2`, { headers: { 'user-agent': 'test-agent/1.0' } })).status);
      replies.push((await send(`${base}/orders/6f1c2b9e-8a4d-4c1e-9f0a-1b2c3d4e5f60`)).status);
      replies.push((await send(`${base}/nope`)).status);
      replies.push((await send(`${base}/fail`)).status);
    });
    expect(replies).toEqual([200, 200, 404, 500]);
    const servers = run.spans.filter((s) => s.kind === 'SERVER');
    // Four requests and the final POST /quit: one span each, nothing more.
    // The 404 is named by its method only: a request no route matched must not mint a name from its path.
    expect(servers.map((s) => s.name).sort()).toEqual(['GET', 'GET /fail', 'GET /orders/:id', 'GET /orders/:id', 'POST /quit']);
    expect(servers.every((s) => s.attributes['http.route'] === undefined)).toBe(true);

    const order = servers.find((s) => s.attributes['url.path'] === '/orders/42')!;
    expect(order.parentSpanId).toBe('');
    expect(order.status.code).toBe('UNSET');
    expect(order.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'url.path': '/orders/42',
      'url.query': 'page=2',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': run.port,
      'network.protocol.version': '1.1',
      'client.address': '127.0.0.1',
      'user_agent.original': 'test-agent/1.0',
    });
    for (const s of run.spans) for (const old of OLD_HTTP_ATTRIBUTES) expect(s.attributes, `${s.name} has old attribute ${old}`).not.toHaveProperty(old);
    expect(order.scope.name).toBe('@x/otel-agent/http');
    // The handler's own work hangs under its request.
    expect(
      childrenOf(run.spans, order)
        .map((s) => `${s.kind} ${s.name}`)
        .sort(),
    ).toEqual([`CLIENT GET ${ds.url}/inventory/:id`, 'INTERNAL fs readFileSync']);
  });

  it('keeps callback-style work (body events, an outgoing call with Expect: 100-continue, its response events) under the request', async () => {
    const service = `srv-events-${ext}`;
    ds.seen.length = 0;
    let reply: Awaited<ReturnType<typeof send>> | undefined;
    // The handler's fs calls are statSync, which makes spans only with OTEL_AGENT_FS_SPANS=all.
    const run = await withServer(rx, { ext, service, env: { DOWNSTREAM: ds.url, OTEL_AGENT_FS_SPANS: 'all' } }, async (base) => {
      reply = await send(`${base}/events`, { method: 'POST', body: 'x'.repeat(5000) });
    });
    expect(reply?.status).toBe(200);
    expect(reply?.body).toBe('5000');
    const server = one(run.spans, 'POST /events');
    // Both fs calls ran in event listeners: one of the request body, one of the downstream's response.
    expect(
      childrenOf(run.spans, server)
        .map((s) => `${s.kind} ${s.name}`)
        .sort(),
    ).toEqual([`CLIENT PUT ${ds.url}/after-body`, 'INTERNAL fs statSync', 'INTERNAL fs statSync']);
    const client = one(run.spans, `PUT ${ds.url}/after-body`);
    expect(client.attributes['http.response.status_code']).toBe(200);
    // Node wrote this request's headers in its constructor (Expect): the context still went out.
    const seen = ds.to('/after-body')[0]!;
    expect(String(seen.headers.expect)).toBe('100-continue');
    expect(traceparent(seen.headers.traceparent)).toEqual({ traceId: server.traceId, parentId: client.spanId, flags: '03' }); // sampled, random trace id (the agent started it)
  });

  it('behind a proxy, takes server.address/port and client.address from Forwarded or X-Forwarded-*', async () => {
    const service = `srv-proxy-${ext}`;
    const run = await withServer(rx, { ext, service }, async (base) => {
      await send(`${base}/orders/31`, {
        headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1', 'x-forwarded-host': 'shop.example.com', 'x-forwarded-proto': 'https' },
      });
      await send(`${base}/orders/32`, { headers: { forwarded: 'for="[2001:db8::1]:4711";host=api.example.com:8443;proto=https, for=10.0.0.2' } });
    });
    const byPath = (p: string) => run.spans.find((s) => s.attributes['url.path'] === p)!;
    expect(byPath('/orders/31').attributes).toMatchObject({
      'server.address': 'shop.example.com',
      'server.port': 443,
      'client.address': '203.0.113.7',
      'network.peer.address': '127.0.0.1',
    });
    expect(byPath('/orders/32').attributes).toMatchObject({
      'server.address': 'api.example.com',
      'server.port': 8443,
      'client.address': '2001:db8::1',
      'network.peer.address': '127.0.0.1',
    });
  });

  it('marks 5xx SERVER spans ERROR with error.type, and leaves 4xx unset (the client erred, not the server)', async () => {
    const service = `srv-status-${ext}`;
    const run = await withServer(rx, { ext, service }, async (base) => {
      await send(`${base}/fail`);
      await send(`${base}/nope`);
    });
    const fail = one(run.spans, 'GET /fail');
    expect(fail.status.code).toBe('ERROR');
    expect(fail.attributes['http.response.status_code']).toBe(500);
    expect(fail.attributes['error.type']).toBe('500');
    const nope = one(run.spans, 'GET');
    expect(nope.attributes['url.path']).toBe('/nope');
    expect(nope.status.code).toBe('UNSET');
    expect(nope.attributes['http.response.status_code']).toBe(404);
    expect(nope.attributes).not.toHaveProperty('error.type');
  });

  it("continues the caller's W3C trace (traceparent, tracestate) and passes baggage on", async () => {
    const service = `srv-w3c-${ext}`;
    ds.seen.length = 0;
    const run = await withServer(rx, { ext, service, env: { DOWNSTREAM: ds.url } }, async (base) => {
      await send(`${base}/orders/1`, {
        headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=opaque-1', baggage: 'tenant=acme,plan=gold' },
      });
      // An unsampled caller: no spans here, but its trace id and decision travel on.
      await send(`${base}/orders/2`, { headers: { traceparent: `00-${'1'.repeat(32)}-${PARENT}-00` } });
    });
    const server = one(run.spans, 'GET /orders/:id');
    expect(server.traceId).toBe(TRACE);
    expect(server.parentSpanId).toBe(PARENT);
    expect(server.traceState).toBe('vendor=opaque-1');
    const client = one(childrenOf(run.spans, server), /^GET http/);
    expect(client.kind).toBe('CLIENT');

    const [first, second] = ds.to('/inventory/');
    const tp = traceparent(first!.headers.traceparent);
    expect(tp).toEqual({ traceId: TRACE, parentId: client.spanId, flags: '01' });
    expect(first!.headers.tracestate).toBe('vendor=opaque-1');
    expect(String(first!.headers.baggage).split(',').sort()).toEqual(['plan=gold', 'tenant=acme']);

    expect(run.spans.filter((s) => s.traceId === '1'.repeat(32))).toEqual([]);
    const unsampled = traceparent(second!.headers.traceparent);
    expect(unsampled.traceId).toBe('1'.repeat(32));
    expect(unsampled.flags).toBe('00');
  });

  it.each([
    ['b3', { b3: `${TRACE}-${PARENT}-1` }],
    ['b3multi', { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '1' }],
  ] as const)('continues a %s caller and propagates the same way', async (prop, headers) => {
    const service = `srv-${prop}-${ext}`;
    ds.seen.length = 0;
    const run = await withServer(rx, { ext, service, env: { DOWNSTREAM: ds.url, OTEL_PROPAGATORS: prop } }, async (base) => {
      await send(`${base}/orders/3`, { headers });
    });
    const server = one(run.spans, 'GET /orders/:id');
    expect(server.traceId).toBe(TRACE);
    expect(server.parentSpanId).toBe(PARENT);
    const client = one(childrenOf(run.spans, server), /^GET http/);
    const h = ds.to('/inventory/')[0]!.headers;
    expect(h.traceparent, 'only the configured propagator is used').toBeUndefined();
    if (prop === 'b3') {
      expect(h.b3).toBe(`${TRACE}-${client.spanId}-1`);
    } else {
      expect(h).toMatchObject({ 'x-b3-traceid': TRACE, 'x-b3-spanid': client.spanId, 'x-b3-sampled': '1' });
      expect(h.b3).toBeUndefined();
    }
  });

  it('starts a new trace when the caller sends no context, or a malformed one', async () => {
    const service = `srv-root-${ext}`;
    const run = await withServer(rx, { ext, service }, async (base) => {
      await send(`${base}/orders/4`);
      await send(`${base}/orders/5`, { headers: { traceparent: '00-zzzz-not-a-context-01' } });
    });
    const servers = byName(run.spans, 'GET /orders/:id');
    expect(servers).toHaveLength(2);
    for (const s of servers) expect(s.parentSpanId).toBe('');
    expect(servers[0]!.traceId).not.toBe(servers[1]!.traceId);
  });

  it('does the same for https servers', async (ctx) => {
    if (!cert) return ctx.skip();
    const service = `srv-tls-${ext}`;
    const run = await withServer(rx, { ext, service, tls: cert }, async (base) => {
      expect((await send(`${base}/orders/9`, { ca: cert!.cert, headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })).status).toBe(200);
    });
    const server = one(run.spans, 'GET /orders/:id');
    expect(server.kind).toBe('SERVER');
    expect(server.traceId).toBe(TRACE);
    expect(server.parentSpanId).toBe(PARENT);
    expect(server.attributes).toMatchObject({ 'url.scheme': 'https', 'url.path': '/orders/9', 'server.port': run.port, 'http.response.status_code': 200 });
  });
});
