/**
 * Header capture is opt-in by name (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*):
 * by default no header value is exported; a named header is captured on the
 * matching span kind and direction, an unnamed one is not. Naming a header
 * that carries credentials (authorization, cookie, ...) is the user's explicit
 * choice: it is captured as asked, and the agent says so once at startup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { VARIANTS } from '../harness/fixture';
import { killLeftovers, request, startTracked } from '../reliability/load';

afterAll(killLeftovers);

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const headerAttrs = (s: RecvSpan): Record<string, unknown> =>
  Object.fromEntries(Object.entries(s.attributes).filter(([k]) => /^http\.(request|response)\.header\./.test(k)));

async function run(ext: string, service: string, env: Record<string, string>): Promise<{ server: RecvSpan; client: RecvSpan; stderr: string }> {
  const f = startTracked({ fixture: `reliability/server.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, ...env } });
  const port = Number((await f.ready).split(' ')[1]);
  const a = await request(port, '/hop-headers/1', {
    headers: { 'x-request-id': 'req-42', 'x-other': 'not-named', authorization: 'Bearer named-by-the-user', cookie: 'sid=not-named' },
  });
  expect(a.status).toBe(200);
  await request(port, '/shutdown?code=0', { method: 'POST' });
  const r = await f.result;
  expect(r.code, r.stderr).toBe(0);
  const spans = rx.spans().filter((s) => s.resource['service.name'] === service);
  const server = spans.find((s) => s.kind === 'SERVER' && s.attributes['url.path'] === '/hop-headers/1')!;
  const client = spans.find((s) => s.kind === 'CLIENT' && s.parentSpanId === server.spanId)!;
  expect(server && client, spans.map((s) => s.name).join(', ')).toBeTruthy();
  return { server, client, stderr: r.stderr };
}

describe.each(VARIANTS)('HTTP header capture (%s)', (ext) => {
  it('by default no request or response header is exported', async () => {
    const { server, client, stderr } = await run(ext, `headers-default-${ext}`, {});
    expect(headerAttrs(server)).toEqual({});
    expect(headerAttrs(client)).toEqual({});
    expect(stderr).toBe('');
  });

  it('captures exactly the named headers, per span kind and direction; an explicitly named authorization header is captured, with one warning', async () => {
    const { server, client, stderr } = await run(ext, `headers-named-${ext}`, {
      OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST: 'X-Request-Id, authorization',
      OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE: 'x-served-by',
      OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST: 'x-request-id',
      OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE: 'x-served-by',
    });
    expect(headerAttrs(server)).toEqual({
      'http.request.header.x-request-id': ['req-42'],
      'http.request.header.authorization': ['Bearer named-by-the-user'],
      'http.response.header.x-served-by': ['fixture'],
    });
    expect(headerAttrs(client)).toEqual({
      'http.request.header.x-request-id': ['hop-1'],
      'http.response.header.x-served-by': ['fixture'],
    });
    const lines = stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\[otel-agent\] warning: OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST names authorization, which carries credentials/,
    );
  });
});
