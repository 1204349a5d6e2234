/**
 * node:http2 across two processes: a client process (test/fixtures/http2/client.*,
 * http2.connect + session.request) calling a server process (server.*: a stream-API
 * server that calls a compatibility-API server over HTTP/2, and a TLS allowHTTP1
 * server). Asserted on what the OTLP receiver got from both.
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, VARIANTS } from '../harness/fixture';
import { childrenOf, one, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { makeCert, OLD_HTTP_ATTRIBUTES, send, spansOf, type TestCert } from '../http/helpers';

let rx: OtlpReceiver;
// Made at collection time: the allowHTTP1 test is skipped (loudly, see makeCert) without openssl.
const cert: TestCert | undefined = makeCert();
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
  cert?.cleanup();
});

const H2 = '@x/otel-agent/http2';
const H1 = '@x/otel-agent/http';

interface Run {
  client: RecvSpan[];
  secureClient: RecvSpan[];
  server: RecvSpan[];
  ports: { stream: number; compat: number; secure: number };
  stdout: string;
  h1: string;
}

/** A plain (untraced) HTTP/2 request from the test process. */
function h2get(url: string, path: string, ca?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(url, { ca });
    s.on('error', reject);
    const r = s.request({ ':path': path, ':method': 'POST' });
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

async function run(ext: string, tag: string, env: Record<string, string | undefined> = {}): Promise<Run> {
  const mode = ext === 'cjs' ? 'require' : 'import';
  const ss = `h2-srv-${tag}-${ext}`;
  const cs = `h2-cli-${tag}-${ext}`;
  const tls = cert ? { TLS_KEY: cert.keyPath, TLS_CERT: cert.certPath } : {};
  const srv = startFixture({
    fixture: `http2/server.${ext}`,
    mode,
    endpoint: rx.url,
    env: {
      OTEL_SERVICE_NAME: ss,
      OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST: 'x-app',
      OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE: 'x-served-by',
      ...tls,
      ...env,
    },
  });
  const [stream, compat, secure] = (await srv.ready).split(' ').slice(1).map(Number) as [number, number, number];
  let stdout: string;
  let h1 = '';
  try {
    const cli = startFixture({
      fixture: `http2/client.${ext}`,
      mode,
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: cs, TARGET: `http://127.0.0.1:${stream}`, PATHS: JSON.stringify(['/orders/42?token=s3cr3t', '/nope', '/fail']), ...env },
    });
    const c = await cli.result;
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toBe('');
    stdout = c.stdout;
    if (cert) {
      const sc = startFixture({
        fixture: `http2/client.${ext}`,
        mode,
        endpoint: rx.url,
        env: { OTEL_SERVICE_NAME: `${cs}-tls`, TARGET: `https://127.0.0.1:${secure}`, CA: cert.certPath, PATHS: JSON.stringify(['/secure/1']), ...env },
      });
      expect((await sc.result).stdout).toBe('RESULT /secure/1 200\n');
      // HTTP/1.1 on the same allowHTTP1 server.
      h1 = (await send(`https://127.0.0.1:${secure}/secure/2`, { ca: cert.cert })).body;
    }
  } finally {
    await h2get(`http://127.0.0.1:${stream}`, '/quit').catch(() => srv.child.kill('SIGTERM'));
  }
  const s = await srv.result;
  expect(s.code, s.stderr).toBe(0);
  expect(s.stderr, 'the agent printed warnings or errors').toBe('');
  return { client: spansOf(rx, cs), secureClient: spansOf(rx, `${cs}-tls`), server: spansOf(rx, ss), ports: { stream, compat, secure }, stdout, h1 };
}

describe.each(VARIANTS)('node:http2 (%s)', (ext) => {
  let r: Run;
  beforeAll(async () => {
    r = await run(ext, 'all');
  });

  it('CLIENT spans for session.request(), with the HTTP attributes, redaction and error rules of HTTP/1.1', () => {
    expect(r.stdout).toBe('RESULT /orders/42?token=s3cr3t 200\nRESULT /nope 404\nRESULT /fail 500\n');
    const base = `http://127.0.0.1:${r.ports.stream}`;
    expect(r.client.map((s) => `${s.scope.name} ${s.kind} ${s.name}`).sort()).toEqual(
      [`${H2} CLIENT GET ${base}/fail`, `${H2} CLIENT GET ${base}/nope`, `${H2} CLIENT GET ${base}/orders/:id`].sort(),
    );
    const order = one(r.client, `GET ${base}/orders/:id`);
    expect(order.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': r.ports.stream,
      'url.full': `${base}/orders/42?token=REDACTED`,
      'network.protocol.version': '2',
      'http.response.status_code': 200,
      'user_agent.original': 'h2-fixture/1.0',
      'network.peer.address': '127.0.0.1',
    });
    expect(order.status.code).toBe('UNSET');
    for (const s of [...r.client, ...r.server]) for (const old of OLD_HTTP_ATTRIBUTES) expect(s.attributes, s.name).not.toHaveProperty(old);
    for (const [path, code] of [
      ['/nope', 404],
      ['/fail', 500],
    ] as const) {
      const s = one(r.client, `GET ${base}${path}`);
      expect(s.status.code).toBe('ERROR');
      expect(s.attributes).toMatchObject({ 'error.type': String(code), 'http.response.status_code': code });
    }
    expect(JSON.stringify(r.client.map((s) => s.attributes))).not.toContain('s3cr3t');
  });

  it('SERVER spans (stream API) continue the caller across processes, named like HTTP/1.1 ones', () => {
    const client = one(r.client, `GET http://127.0.0.1:${r.ports.stream}/orders/:id`);
    const server = one(r.server, 'GET /orders/:id');
    expect(server.scope.name).toBe(H2);
    expect(server.kind).toBe('SERVER');
    expect(server.traceId).toBe(client.traceId);
    expect(server.parentSpanId).toBe(client.spanId);
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'url.path': '/orders/42',
      'url.query': 'token=REDACTED',
      'network.protocol.version': '2',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': r.ports.stream,
      'client.address': '127.0.0.1',
      'user_agent.original': 'h2-fixture/1.0',
    });
    expect(server.attributes).not.toHaveProperty('http.route');
    // 404: named by the method only; 5xx: ERROR.
    const nope = r.server.find((s) => s.attributes['url.path'] === '/nope')!;
    expect(nope.name).toBe('GET');
    expect(nope.status.code).toBe('UNSET');
    const fail = one(r.server, 'GET /fail');
    expect(fail.status.code).toBe('ERROR');
    expect(fail.attributes['error.type']).toBe('500');
    expect(JSON.stringify(r.server.map((s) => s.attributes))).not.toContain('s3cr3t');
  });

  it('a handler calling another HTTP/2 service (compatibility API) nests, with the route a framework told, headers captured', () => {
    const server = one(r.server, 'GET /orders/:id');
    const inv = `GET http://127.0.0.1:${r.ports.compat}/inventory/:id`;
    expect(childrenOf(r.server, server).map((s) => `${s.kind} ${s.name}`)).toEqual([`CLIENT ${inv}`]);
    const call = one(r.server, inv);
    const compat = one(r.server, 'GET /inventory/:sku');
    expect(compat.parentSpanId).toBe(call.spanId);
    expect(compat.attributes).toMatchObject({
      'http.route': '/inventory/:sku',
      'url.path': '/inventory/42',
      'network.protocol.version': '2',
      'http.response.status_code': 200,
      'http.request.header.x-app': ['fixture'],
      'http.response.header.x-served-by': ['compat'],
    });
    // The request body's 'end' listener ran in the request's context.
    expect(childrenOf(r.server, compat).map((s) => s.name)).toEqual(['fs readFileSync']);
  });

  it.skipIf(!cert)('an allowHTTP1 TLS server: h2 requests are http2 SERVER spans, HTTP/1.1 ones http SERVER spans', () => {
    expect(r.h1).toBe('v1.1');
    const secure = r.server.filter((s) => s.attributes['url.path']?.toString().startsWith('/secure/'));
    expect(secure.map((s) => `${s.scope.name} ${s.name} ${s.attributes['network.protocol.version']} ${s.attributes['url.scheme']}`).sort()).toEqual(
      [`${H1} GET /secure/:id 1.1 https`, `${H2} GET /secure/:id 2 https`].sort(),
    );
    const h2 = secure.find((s) => s.scope.name === H2)!;
    const c = one(r.secureClient, `GET https://127.0.0.1:${r.ports.secure}/secure/:id`);
    expect(h2.parentSpanId).toBe(c.spanId);
  });

  it('propagates with whatever OTEL_PROPAGATORS names (b3multi: upper-case names, lower-cased on the wire)', async () => {
    const b3 = await run(ext, 'b3', { OTEL_PROPAGATORS: 'b3multi' });
    const client = one(b3.client, `GET http://127.0.0.1:${b3.ports.stream}/orders/:id`);
    const server = one(b3.server, 'GET /orders/:id');
    expect(server.traceId).toBe(client.traceId);
    expect(server.parentSpanId).toBe(client.spanId);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=http2 removes the HTTP/2 spans and their propagation', async () => {
    const off = await run(ext, 'off', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http2' });
    expect(off.stdout).toBe(r.stdout);
    expect(off.client).toEqual([]);
    expect(off.secureClient).toEqual([]);
    // What is left on the server: nothing of HTTP/2. The HTTP/1.1 request of the allowHTTP1 server
    // is handed to the http instrumentation by the http2 one, so it goes too (docs/http.md says so).
    expect(off.server.map((s) => s.scope.name)).toEqual([]);
  });
});
