/**
 * Header capture per route, which only the configuration file can say
 * (`instrumentation/development.js.http.{server,client}.routes`), on what the receiver got:
 * a route's headers are recorded on the requests it matches, on top of the general lists,
 * and nowhere else.
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { startFixture, VARIANTS } from '../harness/fixture';
import { send, spansOf, startDownstream, type Downstream } from '../http/helpers';

let rx: OtlpReceiver;
let down: Downstream;
let dir: string;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  down = await startDownstream();
  dir = mkdtempSync(join(tmpdir(), 'otel-agent-routes-'));
});
afterAll(async () => {
  await rx.close();
  await down.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The YAML of a file that sends to the receiver as `service`, with `js` under instrumentation/development. */
const fileWith = (service: string, js: string): string => `file_format: "1.1"
resource:
  attributes: [{ name: service.name, value: ${service} }]
tracer_provider:
  processors:
    - batch:
        schedule_delay: 50
        exporter:
          otlp_http:
            endpoint: ${rx.url}/v1/traces
propagator:
  composite: [{ tracecontext: }]
instrumentation/development:
  js:
${js}`;

const headers = (a: Record<string, unknown>) => Object.fromEntries(Object.entries(a).filter(([k]) => k.includes('.header.')));

/** One HTTP/2 request from the test process (untraced), on its own session. */
function h2(url: string, path: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(url);
    s.on('error', reject);
    const r = s.request({ ':path': path, ':method': o.method ?? 'GET', ...o.headers });
    r.on('response', (h) => {
      r.resume();
      r.on('end', () => {
        s.close();
        resolve(Number(h[':status']));
      });
    });
    r.on('error', reject);
    r.end();
  });
}

describe.each(VARIANTS)('header capture per route (%s)', (ext) => {
  it('a server route and a client route add their headers to the requests they match only', async () => {
    const service = `routes-${ext}`;
    const file = join(dir, `routes-${ext}.yaml`);
    writeFileSync(
      file,
      `file_format: "1.1"
resource:
  attributes: [{ name: service.name, value: ${service} }]
tracer_provider:
  processors:
    - batch:
        schedule_delay: 50
        exporter:
          otlp_http:
            endpoint: ${rx.url}/v1/traces
propagator:
  composite: [{ tracecontext: }]
instrumentation/development:
  general:
    http:
      server:
        request_captured_headers: [x-request-id]
  js:
    http:
      server:
        routes:
          - path: /orders/*
            request_captured_headers: [X-Cart-Id]
            response_captured_headers: [content-type]
      client:
        routes:
          - url: http://127.0.0.1:*/inventory/*
            request_captured_headers: [traceparent]
            response_captured_headers: [content-type]
`,
    );
    const f = startFixture({ fixture: `http/server.${ext}`, env: { OTEL_CONFIG_FILE: file, DOWNSTREAM: down.url } });
    const port = Number((await f.ready).split(' ')[1]);
    await send(`http://127.0.0.1:${port}/orders/7`, { headers: { 'x-cart-id': 'c1', 'x-request-id': 'r1' } });
    await send(`http://127.0.0.1:${port}/fail`, { headers: { 'x-cart-id': 'c2', 'x-request-id': 'r2' } });
    await send(`http://127.0.0.1:${port}/quit`, { method: 'POST' });
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => / warning:/.test(l))).toEqual([]);
    const spans = spansOf(rx, service);
    const server = (path: string) => spans.find((s) => s.kind === 'SERVER' && s.attributes['url.path'] === path)!;

    expect(headers(server('/orders/7').attributes)).toEqual({
      'http.request.header.x-request-id': ['r1'],
      'http.request.header.x-cart-id': ['c1'],
      'http.response.header.content-type': ['application/json'],
    });
    // Not matched: the general list only.
    expect(headers(server('/fail').attributes)).toEqual({ 'http.request.header.x-request-id': ['r2'] });
    const client = spans.find((s) => s.kind === 'CLIENT')!;
    const sent = down.to('/inventory/7').at(-1)!;
    expect(headers(client.attributes)).toEqual({
      'http.request.header.traceparent': [sent.headers.traceparent],
      'http.response.header.content-type': ['application/json'],
    });
  });

  it('a client route applies to fetch calls too (and not to the http call beside it)', async () => {
    const service = `routes-fetch-${ext}`;
    const file = join(dir, `routes-fetch-${ext}.yaml`);
    writeFileSync(
      file,
      fileWith(
        service,
        `    http:
      client:
        routes:
          - url: http://127.0.0.1:*/via-fetch
            request_captured_headers: [traceparent]
            response_captured_headers: [content-type]
`,
      ),
    );
    const f = startFixture({ fixture: `http/server.${ext}`, env: { OTEL_CONFIG_FILE: file, DOWNSTREAM: down.url } });
    const port = Number((await f.ready).split(' ')[1]);
    await send(`http://127.0.0.1:${port}/work`);
    await send(`http://127.0.0.1:${port}/quit`, { method: 'POST' });
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => / warning:/.test(l))).toEqual([]);
    const spans = spansOf(rx, service).filter((s) => s.kind === 'CLIENT');
    const viaFetch = spans.find((s) => s.scope.name === '@x/otel-agent/undici')!;
    expect(viaFetch.attributes['url.full']).toBe(`${down.url}/via-fetch`);
    expect(headers(viaFetch.attributes)).toEqual({
      'http.request.header.traceparent': [down.to('/via-fetch').at(-1)!.headers.traceparent],
      'http.response.header.content-type': ['application/json'],
    });
    const viaHttp = spans.find((s) => s.scope.name === '@x/otel-agent/http')!;
    expect(viaHttp.attributes['url.full']).toBe(`${down.url}/via-http`);
    expect(headers(viaHttp.attributes)).toEqual({});
  });

  it('server and client routes apply to HTTP/2 streams', async () => {
    const service = `routes-h2-${ext}`;
    const file = join(dir, `routes-h2-${ext}.yaml`);
    writeFileSync(
      file,
      fileWith(
        service,
        `    http:
      server:
        routes:
          - path: /orders/*
            request_captured_headers: [x-cart-id]
            response_captured_headers: [content-type]
      client:
        routes:
          - url: http://127.0.0.1:*/inventory/*
            request_captured_headers: [x-app]
            response_captured_headers: [x-served-by]
`,
      ),
    );
    const f = startFixture({ fixture: `http2/server.${ext}`, env: { OTEL_CONFIG_FILE: file } });
    const base = `http://127.0.0.1:${Number((await f.ready).split(' ')[1])}`;
    try {
      expect(await h2(base, '/orders/7', { headers: { 'x-cart-id': 'c1' } })).toBe(200);
      expect(await h2(base, '/fail', { headers: { 'x-cart-id': 'c2' } })).toBe(500);
    } finally {
      await h2(base, '/quit', { method: 'POST' }).catch(() => f.child.kill('SIGTERM'));
    }
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => / warning:/.test(l))).toEqual([]);
    const spans = spansOf(rx, service);
    const server = (path: string) => spans.find((s) => s.kind === 'SERVER' && s.attributes['url.path'] === path)!;
    expect(headers(server('/orders/7').attributes)).toEqual({
      'http.request.header.x-cart-id': ['c1'],
      'http.response.header.content-type': ['application/json'],
    });
    // Not matched: nothing (no general lists here), on the stream server and on the compat server.
    expect(headers(server('/fail').attributes)).toEqual({});
    expect(headers(server('/inventory/7').attributes)).toEqual({});
    const client = spans.find((s) => s.kind === 'CLIENT')!;
    expect(client.attributes['url.full']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/inventory\/7$/);
    expect(headers(client.attributes)).toEqual({
      'http.request.header.x-app': ['fixture'],
      'http.response.header.x-served-by': ['compat'],
    });
  });
});
