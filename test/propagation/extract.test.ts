/**
 * Propagation that accepts what real callers send: the HTTP server extracts
 * whenever a header any configured propagator can READ is there, not only
 * the ones it writes. Header sets are the ones Envoy/Istio
 * sidecars (B3 multi with x-request-id and parent span id), Zipkin clients
 * (B3 single, 64-bit legacy ids) and Jaeger clients (uberctx-* baggage
 * without a trace) send. `b3: 0` and `X-B3-Sampled: 0` without ids are
 * "do not sample": nothing under that request is recorded and the calls it
 * makes propagate "not sampled".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { invalidLines, runRelay, spansFor, startRecorder, type Recorder } from './wire';

const TRACE = '80f198ee56343ba864fe8b2a57d3eff7';
const SPAN = 'e457b5a2e4d86bd1';
const PARENT = '05e3ac9a4f6e3b90';

/** What an Istio/Envoy sidecar adds to a request it forwards (B3 multi). */
const ENVOY: [string, string][] = [
  ['x-forwarded-proto', 'http'],
  ['x-request-id', '2a7f4c5e-8d3b-4c1a-9e2f-6b5d4c3a2f1e'],
  ['x-envoy-attempt-count', '1'],
  ['x-b3-traceid', TRACE],
  ['x-b3-spanid', SPAN],
  ['x-b3-parentspanid', PARENT],
  ['x-b3-sampled', '1'],
  ['x-envoy-internal', 'true'],
];
/** A Zipkin (Brave) client with single-header B3: trace-span-sampled-parent. */
const ZIPKIN_SINGLE: [string, string][] = [['b3', `${TRACE}-${SPAN}-1-${PARENT}`]];
/** An older Zipkin client: 64-bit trace id, capitalised names as on the wire. */
const ZIPKIN_64: [string, string][] = [
  ['X-B3-TraceId', '463ac35c9f6413ad'],
  ['X-B3-SpanId', '72485a3953bb6124'],
  ['X-B3-Sampled', '1'],
];

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

describe.each(VARIANTS)('extraction accepts what real callers send (%s)', (ext) => {
  it('OTEL_PROPAGATORS=b3 (single): an Envoy/Istio X-B3-* request and a 64-bit Zipkin one are continued; calls propagate as b3', async () => {
    const service = `b3-${ext}`;
    const run = await runRelay(rx, down, { ext, service, propagators: 'b3' }, [
      { tag: 'envoy', headers: ENVOY },
      { tag: 'zipkin64', headers: ZIPKIN_64 },
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.replies.map((r) => r.status)).toEqual([200, 200]);
    const envoy = spansFor(run, service, 'envoy');
    expect(envoy.server).toMatchObject({ traceId: TRACE, parentSpanId: SPAN });
    expect(envoy.clients).toHaveLength(2);
    for (const c of envoy.clients) expect(c).toMatchObject({ traceId: TRACE, parentSpanId: envoy.server!.spanId });
    const out = run.out('envoy');
    for (const s of [out.fetch, out.http]) {
      expect(invalidLines(s)).toEqual([]);
      expect(s.headers.b3).toMatch(new RegExp(`^${TRACE}-[0-9a-f]{16}-1$`));
      expect(envoy.clients.map((c) => c.spanId)).toContain(s.headers.b3!.split('-')[1]);
    }
    expect(spansFor(run, service, 'zipkin64').server).toMatchObject({ traceId: '0000000000000000463ac35c9f6413ad', parentSpanId: '72485a3953bb6124' });
  });

  it('OTEL_PROPAGATORS=b3multi: a single b3 header (Zipkin) is continued; calls propagate as X-B3-*', async () => {
    const service = `b3multi-${ext}`;
    const run = await runRelay(rx, down, { ext, service, propagators: 'b3multi' }, [{ tag: 'single', headers: ZIPKIN_SINGLE }]);
    expect(run.code, run.stderr).toBe(0);
    const { server, clients } = spansFor(run, service, 'single');
    expect(server).toMatchObject({ traceId: TRACE, parentSpanId: SPAN });
    expect(clients.map((c) => c.traceId)).toEqual([TRACE, TRACE]);
    const out = run.out('single');
    for (const s of [out.fetch, out.http]) {
      expect(s.headers['x-b3-traceid']).toBe(TRACE);
      expect(s.headers['x-b3-sampled']).toBe('1');
      expect(s.headers.b3).toBeUndefined();
    }
  });

  it('OTEL_PROPAGATORS=jaeger: uberctx-* baggage alone (no uber-trace-id) is read and passed on', async () => {
    const service = `jaeger-${ext}`;
    const run = await runRelay(rx, down, { ext, service, propagators: 'jaeger' }, [
      {
        tag: 'bag',
        headers: [
          ['uberctx-tenant', 'acme'],
          ['uberctx-request-origin', 'mobile%20app'],
        ],
      },
    ]);
    expect(run.code, run.stderr).toBe(0);
    const { server } = spansFor(run, service, 'bag');
    expect(server?.parentSpanId).toBe('');
    const out = run.out('bag');
    for (const s of [out.fetch, out.http]) {
      expect(s.headers['uber-trace-id']?.split(':')[0]).toBe(server!.traceId);
      expect(s.headers['uberctx-tenant']).toBe('acme');
      expect(s.headers['uberctx-request-origin']).toBe('mobile%20app');
    }
  });

  it('OTEL_PROPAGATORS=tracecontext,baggage,jaeger: uberctx-* alone also goes out as W3C baggage', async () => {
    const service = `jaeger-w3c-${ext}`;
    const run = await runRelay(rx, down, { ext, service, propagators: 'tracecontext,baggage,jaeger' }, [{ tag: 'bag', headers: [['uberctx-tenant', 'acme']] }]);
    expect(run.code, run.stderr).toBe(0);
    const out = run.out('bag');
    for (const s of [out.fetch, out.http]) {
      expect(s.headers.baggage).toBe('tenant=acme');
      expect(s.headers['uberctx-tenant']).toBe('acme');
    }
  });

  it('b3: 0 and X-B3-Sampled: 0 without ids (deny) are honoured: no span recorded under them, calls propagate not-sampled', async () => {
    const service = `deny-${ext}`;
    const run = await runRelay(rx, down, { ext, service, propagators: 'tracecontext,b3' }, [
      { tag: 'deny-single', headers: [['b3', '0']] },
      { tag: 'deny-multi', headers: [['X-B3-Sampled', '0']] },
      // Control: the same service records an ordinary request, so "nothing recorded" above is not a broken export.
      { tag: 'control', headers: [] },
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.replies.map((r) => r.status)).toEqual([200, 200, 200]);
    const control = spansFor(run, service, 'control');
    expect(control.server).toBeDefined();
    expect(control.clients).toHaveLength(2);
    for (const tag of ['deny-single', 'deny-multi']) {
      const { server, clients } = spansFor(run, service, tag);
      expect(server, tag).toBeUndefined();
      expect(clients, tag).toEqual([]);
      const out = run.out(tag);
      for (const s of [out.fetch, out.http]) {
        expect(s.headers.traceparent, tag).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
        expect(s.headers.b3, tag).toMatch(/^[0-9a-f]{32}-[0-9a-f]{16}-0$/);
        expect(s.headers.b3!.split('-')[0], tag).toBe(s.headers.traceparent!.split('-')[1]);
      }
    }
  });
});
