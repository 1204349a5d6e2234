/**
 * A request header must not crash the process. With
 * OTEL_PROPAGATORS=tracecontext,baggage,jaeger, an incoming `baggage: a%20b=1`
 * used to make the app's next fetch() inside that request throw
 * `InvalidArgumentError: invalid header key` (the jaeger propagator wrote
 * `uberctx-a b`), uncaught: exit 1 where bare node keeps serving. What cannot
 * be carried in a header is now dropped; the rest still propagates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { get, invalidLines, startRecorder, startRelay, type Recorder } from './wire';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

let rx: OtlpReceiver;
let down: Recorder;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  down = await startRecorder();
});
afterAll(async () => {
  await down.close();
  await rx.close();
});

describe.each(VARIANTS)('a hostile baggage key does not crash the app (%s)', (ext) => {
  it('baggage "a%20b=1" with tracecontext,baggage,jaeger: fetch() and http.request() inside the request go out, the app keeps serving and exits 0', async () => {
    const relay = await startRelay(ext, rx.url, down.url, { OTEL_SERVICE_NAME: `crash-${ext}`, OTEL_PROPAGATORS: 'tracecontext,baggage,jaeger' });
    const hostile = await get(relay.port, `/relay/${ext}-hostile`, [
      ['traceparent', `00-${TRACE}-${PARENT}-01`],
      ['baggage', 'a%20b=1,tenant=acme'],
    ]);
    // The same app keeps answering afterwards.
    const after = await get(relay.port, `/relay/${ext}-after`);
    const { code, stderr } = await relay.stop();
    expect(hostile, stderr).toEqual({ status: 200, body: 'relayed 200 200' });
    expect(after.status).toBe(200);
    expect(code, stderr).toBe(0);
    expect(stderr).toBe('');

    const out = [...down.to(`/fetch/${ext}-hostile`), ...down.to(`/http/${ext}-hostile`)];
    expect(out).toHaveLength(2);
    for (const s of out) {
      expect(invalidLines(s), s.path).toEqual([]);
      // The trace still propagates on every configured format, and so does the baggage that can be carried.
      expect(s.headers.traceparent?.split('-')[1], s.path).toBe(TRACE);
      expect(s.headers['uber-trace-id']?.split(':')[0], s.path).toBe(TRACE);
      expect(s.headers.baggage?.split(','), s.path).toEqual(['a%20b=1', 'tenant=acme']);
      expect(s.headers['uberctx-tenant'], s.path).toBe('acme');
      // "a b" is no header name: that one entry is not sent as jaeger baggage.
      expect(
        s.raw.filter(([k]) => k.toLowerCase().startsWith('uberctx-')).map(([k]) => k.toLowerCase()),
        s.path,
      ).toEqual(['uberctx-tenant']);
    }
  });
});

describe.each(VARIANTS)('fields that could not be carried are counted at exit (%s)', (ext) => {
  it('the exit summary (OTEL_LOG_LEVEL=info) says how many header fields were not sent', async () => {
    const relay = await startRelay(ext, rx.url, down.url, {
      OTEL_SERVICE_NAME: `count-${ext}`,
      OTEL_PROPAGATORS: 'tracecontext,baggage,jaeger',
      OTEL_LOG_LEVEL: 'info',
    });
    await get(relay.port, `/relay/${ext}-count`, [
      ['traceparent', `00-${TRACE}-${PARENT}-01`],
      ['baggage', 'a%20b=1,tenant=acme'],
    ]);
    const { code, stderr } = await relay.stop();
    expect(code, stderr).toBe(0);
    // Two outgoing calls (fetch and http.request), each without its `uberctx-a b` field.
    const summary = stderr.split('\n').filter((l) => l.includes('propagation:') && l.includes('not sent'));
    expect(summary, stderr).toEqual([expect.stringMatching(/propagation: 2 header field\(s\) not sent/)]);
  });
});
