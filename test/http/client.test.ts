/**
 * CLIENT spans for http.request / https.request and the global fetch:
 * names, attributes, the context the called server receives, and failures
 * (refused connections, timeouts, error statuses).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFixture, VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { closedPort, makeCert, OLD_HTTP_ATTRIBUTES, spansOf, startDownstream, traceparent, type Downstream, type TestCert } from './helpers';

interface Call {
  via: 'http' | 'https' | 'fetch';
  url: string;
  method?: string;
  body?: string;
  timeoutMs?: number;
  onTimeout?: 'destroy';
  abortMs?: number;
}

let rx: OtlpReceiver;
let ds: Downstream;
let tlsDs: Downstream | undefined;
let cert: TestCert | undefined;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  ds = await startDownstream();
  cert = makeCert();
  if (cert) tlsDs = await startDownstream(cert);
});
afterAll(async () => {
  await ds.close();
  await tlsDs?.close();
  await rx.close();
  cert?.cleanup();
});

/** Runs the client fixture; returns each call's printed result and its CLIENT span (matched by url.full). */
async function runCalls(
  ext: string,
  service: string,
  calls: Call[],
  env: Record<string, string> = {},
): Promise<{ results: string[]; spans: RecvSpan[]; byCall: RecvSpan[] }> {
  const r = await runFixture({
    fixture: `http/client.${ext}`,
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: service, CALLS: JSON.stringify(calls), ...(cert ? { CA: cert.certPath, NODE_EXTRA_CA_CERTS: cert.certPath } : {}), ...env },
  });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr, 'the agent printed warnings or errors').toBe('');
  const results = calls.map((_c, i) => /^RESULT \d+ (.*)$/m.exec(r.stdout.split('\n').find((l) => l.startsWith(`RESULT ${i} `)) ?? '')?.[1] ?? '(none)');
  const spans = spansOf(rx, service);
  const byCall = calls.map((c) => {
    const m = spans.filter((s) => s.kind === 'CLIENT' && s.attributes['url.full'] === c.url);
    expect(m, `one CLIENT span for ${c.via} ${c.url}; got: ${spans.map((s) => `${s.name} ${String(s.attributes['url.full'])}`).join(', ')}`).toHaveLength(1);
    return m[0]!;
  });
  return { results, spans, byCall };
}

const SCOPES = { http: '@x/otel-agent/http', https: '@x/otel-agent/http', fetch: '@x/otel-agent/undici' };

describe.each(VARIANTS)('http client and fetch (%s)', (ext) => {
  it('make one CLIENT span per call, named METHOD origin+path template, and inject its context into the request', async () => {
    ds.seen.length = 0;
    const calls: Call[] = [
      { via: 'http', url: `${ds.url}/users/1001/cart` },
      { via: 'http', method: 'POST', url: `${ds.url}/users/1002/orders`, body: '{"sku":1}' },
      { via: 'fetch', url: `${ds.url}/users/1003/cart` },
      { via: 'fetch', method: 'PUT', url: `${ds.url}/users/1004/orders`, body: '{"sku":2}' },
    ];
    const { results, spans, byCall } = await runCalls(ext, `cli-ok-${ext}`, calls);
    expect(results).toEqual(['200', '200', '200', '200']);
    expect(spans).toHaveLength(4);
    expect(byCall.map((s) => s.name)).toEqual([
      `GET ${ds.url}/users/:id/cart`,
      `POST ${ds.url}/users/:id/orders`,
      `GET ${ds.url}/users/:id/cart`,
      `PUT ${ds.url}/users/:id/orders`,
    ]);
    calls.forEach((c, i) => {
      const span = byCall[i]!;
      expect(span.kind).toBe('CLIENT');
      expect(span.scope.name).toBe(SCOPES[c.via]);
      expect(span.parentSpanId, 'a call outside any request starts its own trace').toBe('');
      expect(span.status.code).toBe('UNSET');
      expect(span.attributes).toMatchObject({
        'http.request.method': c.method ?? 'GET',
        'url.full': c.url,
        'server.address': '127.0.0.1',
        'server.port': ds.port,
        'http.response.status_code': 200,
        'network.peer.address': '127.0.0.1',
      });
      expect(span.attributes, 'method_original only when the method was not canonical').not.toHaveProperty('http.request.method_original');
      expect(span.attributes, 'no empty url.query').not.toHaveProperty('url.query');
      for (const old of OLD_HTTP_ATTRIBUTES) expect(span.attributes).not.toHaveProperty(old);
      // What the called server received: this span's trace, with this span as the parent.
      const seen = ds.seen.find((s) => c.url.endsWith(s.url))!;
      expect(seen.method).toBe(c.method ?? 'GET');
      expect(traceparent(seen.headers.traceparent)).toEqual({ traceId: span.traceId, parentId: span.spanId, flags: '03' }); // sampled, random trace id
    });
  });

  it('do the same over https (https.request and fetch)', async (ctx) => {
    if (!cert || !tlsDs) return ctx.skip();
    tlsDs.seen.length = 0;
    const calls: Call[] = [
      { via: 'https', url: `${tlsDs.url}/secure/a` },
      { via: 'fetch', url: `${tlsDs.url}/secure/b` },
    ];
    const { results, byCall } = await runCalls(ext, `cli-tls-${ext}`, calls);
    expect(results).toEqual(['200', '200']);
    expect(byCall.map((s) => s.name)).toEqual([`GET ${tlsDs.url}/secure/a`, `GET ${tlsDs.url}/secure/b`]);
    byCall.forEach((span, i) => {
      expect(span.attributes['server.port']).toBe(tlsDs!.port);
      expect(traceparent(tlsDs!.seen[i]!.headers.traceparent)).toMatchObject({ traceId: span.traceId, parentId: span.spanId });
    });
    expect(byCall[1]!.attributes['url.scheme']).toBe('https');
  });

  it('record a refused connection as status ERROR, error.type ECONNREFUSED and an exception event', async () => {
    const port = await closedPort();
    const calls: Call[] = [
      { via: 'http', url: `http://127.0.0.1:${port}/down/a` },
      { via: 'fetch', url: `http://127.0.0.1:${port}/down/b` },
    ];
    const { results, byCall } = await runCalls(ext, `cli-refused-${ext}`, calls);
    expect(results).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
    for (const span of byCall) {
      expect(span.status.code).toBe('ERROR');
      expect(span.status.message).toContain('ECONNREFUSED');
      expect(span.attributes['error.type']).toBe('ECONNREFUSED');
      expect(span.attributes).not.toHaveProperty('http.response.status_code');
      expect(span.events.find((e) => e.name === 'exception')?.attributes['exception.type']).toBe('ECONNREFUSED');
    }
  });

  it('record timeouts as status ERROR with an error.type naming the failure', async () => {
    ds.seen.length = 0;
    const calls: Call[] = [
      { via: 'http', url: `${ds.url}/hang/signal`, timeoutMs: 150 },
      { via: 'http', url: `${ds.url}/hang/destroy`, timeoutMs: 150, onTimeout: 'destroy' },
      { via: 'fetch', url: `${ds.url}/hang/fetch`, timeoutMs: 150 },
    ];
    const { results, byCall } = await runCalls(ext, `cli-timeout-${ext}`, calls);
    // What the app itself saw: AbortSignal.timeout aborts http with an AbortError (code ABORT_ERR)
    // and fetch with a TimeoutError DOMException (whose numeric code 23 upstream used as
    // error.type); destroy() on the `timeout` event is a hang-up.
    expect(results).toEqual(['ABORT_ERR', 'ECONNRESET', 'TimeoutError']);
    expect(byCall.map((s) => s.attributes['error.type'])).toEqual(['AbortError', 'ECONNRESET', 'TimeoutError']);
    for (const span of byCall) {
      expect(span.status.code).toBe('ERROR');
      expect(typeof span.attributes['error.type']).toBe('string');
    }
    // The hanging server did receive each call, with the client span as parent.
    for (const [i, span] of byCall.entries()) {
      expect(traceparent(ds.seen.find((s) => calls[i]!.url.endsWith(s.url))?.headers.traceparent).parentId).toBe(span.spanId);
    }
  });

  it('end a fetch that the app aborts itself without marking it an error', async () => {
    const { results, byCall } = await runCalls(ext, `cli-abort-${ext}`, [{ via: 'fetch', url: `${ds.url}/hang/abort`, abortMs: 100 }]);
    expect(results).toEqual(['AbortError']);
    expect(byCall[0]!.status.code).toBe('UNSET');
    expect(byCall[0]!.attributes).not.toHaveProperty('error.type');
  });

  it('record the headers listed in OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_*, for http and fetch alike', async () => {
    const calls: Call[] = [
      { via: 'http', url: `${ds.url}/headers/http` },
      { via: 'fetch', url: `${ds.url}/headers/fetch` },
    ];
    const { byCall } = await runCalls(ext, `cli-headers-${ext}`, calls, {
      OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST: 'Host,Accept',
      OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE: 'Content-Type',
    });
    for (const span of byCall) expect(span.attributes['http.response.header.content-type']).toEqual(['application/json']);
    expect(byCall[0]!.attributes['http.request.header.host']).toEqual([`127.0.0.1:${ds.port}`]);
    expect(byCall[1]!.attributes['http.request.header.accept']).toEqual(['*/*']);
  });

  it('mark 4xx and 5xx responses ERROR on the client side, with the status code as error.type', async () => {
    const calls: Call[] = [
      { via: 'http', url: `${ds.url}/status/404?via=http` },
      { via: 'http', url: `${ds.url}/status/503?via=http` },
      { via: 'fetch', url: `${ds.url}/status/404?via=fetch` },
      { via: 'fetch', url: `${ds.url}/status/503?via=fetch` },
    ];
    const { results, byCall } = await runCalls(ext, `cli-status-${ext}`, calls);
    expect(results).toEqual(['404', '503', '404', '503']);
    expect(byCall.map((s) => [s.attributes['http.response.status_code'], s.status.code, s.attributes['error.type']])).toEqual([
      [404, 'ERROR', '404'],
      [503, 'ERROR', '503'],
      [404, 'ERROR', '404'],
      [503, 'ERROR', '503'],
    ]);
    // The name never carries the query string.
    for (const s of byCall) expect(s.name).toBe(`GET ${ds.url}/status/:id`);
  });
});
