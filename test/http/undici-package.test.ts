/**
 * The npm `undici` package (request() and its own fetch()) is traced like the global fetch:
 * it publishes the same diagnostics channels. One CLIENT span per call, named METHOD
 * origin+path template, its context injected into the request, a 5xx marked ERROR.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runFixture, VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { spansOf, startDownstream, traceparent, type Downstream } from './helpers';

const UNDICI = (JSON.parse(readFileSync(join(ROOT, 'node_modules/undici/package.json'), 'utf8')) as { version: string }).version;

let rx: OtlpReceiver;
let ds: Downstream;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  ds = await startDownstream();
});
afterAll(async () => {
  await ds.close();
  await rx.close();
});

describe.each(VARIANTS)(`npm undici ${UNDICI} (%s)`, (ext) => {
  it('makes one CLIENT span per request() and fetch(), with its context in the request', async () => {
    ds.seen.length = 0;
    const service = `undici-pkg-${ext}`;
    const r = await runFixture({ fixture: `http/undici-package.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, BASE: ds.url } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr, 'the agent printed warnings or errors').toBe('');
    expect(r.stdout.match(/^RESULT \d+ \d+$/gm)).toEqual(['RESULT 0 200', 'RESULT 1 200', 'RESULT 2 503']);
    const spans = spansOf(rx, service).filter((s) => s.kind === 'CLIENT');
    const byPath = (p: string) => spans.find((s) => String(s.attributes['url.full']).startsWith(`${ds.url}${p}`))!;
    const calls = [byPath('/pkg/1001/request'), byPath('/pkg/1002/fetch'), byPath('/status/503')];
    expect(spans).toHaveLength(3);
    expect(calls.map((s) => s.name)).toEqual([`GET ${ds.url}/pkg/:id/request`, `GET ${ds.url}/pkg/:id/fetch`, `GET ${ds.url}/status/:id`]);
    for (const s of calls) {
      expect(s.scope.name).toBe('@x/otel-agent/undici');
      expect(s.attributes).toMatchObject({ 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': ds.port, 'url.scheme': 'http' });
      const seen = ds.seen.find((x) => String(s.attributes['url.full']).endsWith(x.url))!;
      expect(traceparent(seen.headers.traceparent)).toMatchObject({ traceId: s.traceId, parentId: s.spanId });
    }
    expect(calls[2]!.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': '503', 'url.query': 'via=pkg' });
    expect(calls[2]!.status.code).toBe('ERROR');
    expect(calls[0]!.status.code).toBe('UNSET');
  });
});
