/**
 * rpc.client.call.duration and rpc.server.call.duration (@grpc/grpc-js) count every call,
 * sampled or not: at 10% trace sampling, 20 rounds of every call type (unary, client-,
 * server- and bidi-streaming, failing ones included) across two processes are exactly the
 * counts the fixtures made, by method and status, with error.type on the failed ones (every
 * non-OK code on the client, only the server's failures on the server), and their exemplars
 * point at spans the receiver got. The HTTP/2 underneath is counted nowhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver, type RecvMetricPoint } from '../harness/otlp-receiver';
import { spansOf } from '../http/helpers';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const ROUNDS = 20;
const G = '@x/otel-agent/grpc';

const ENV = {
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.1',
  OTEL_METRICS_EXPORTER: 'otlp',
  OTEL_AGENT_RUNTIME_METRICS: 'false',
  OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
};

/** Delta points summed by `rpc.method rpc.status_code error.type`. */
function counts(points: RecvMetricPoint[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points) {
    const a = p.attributes;
    const k = `${String(a['rpc.method'])} ${String(a['rpc.status_code'])} ${String(a['error.type'])}`;
    out[k] = (out[k] ?? 0) + p.count!;
  }
  return out;
}

describe.each(VARIANTS)('gRPC call duration metrics (%s)', (ext) => {
  const cs = `rpc-metrics-cli-${ext}`;
  const ss = `rpc-metrics-srv-${ext}`;
  let port = 0;
  const of = (service: string, name: string) => rx.metrics().filter((p) => p.resource['service.name'] === service && p.name === name);

  beforeAll(async () => {
    const mode = ext === 'cjs' ? 'require' : 'import';
    const srv = startFixture({ fixture: `grpc/server.${ext}`, mode, endpoint: rx.url, env: { OTEL_SERVICE_NAME: ss, ...ENV } });
    port = Number((await srv.ready).split(' ')[1]);
    const cli = startFixture({
      fixture: `grpc/client.${ext}`,
      mode,
      endpoint: rx.url,
      timeoutMs: 60_000,
      env: { OTEL_SERVICE_NAME: cs, TARGET: `127.0.0.1:${port}`, QUIT: '1', ROUNDS: String(ROUNDS), ...ENV },
    });
    const c = await cli.result;
    const s = await srv.result;
    expect(c.code, c.stderr).toBe(0);
    expect(s.code, s.stderr).toBe(0);
    expect(c.stderr + s.stderr, 'the agent printed warnings or errors').toBe('');
    expect(c.stdout.split('\n').filter((l) => l === 'RESULT list-boom 1 then code=14')).toHaveLength(ROUNDS);
  }, 90_000);

  it('the client counts every call by method and status; every failure carries error.type', () => {
    const points = of(cs, 'rpc.client.call.duration');
    const N = ROUNDS;
    expect(counts(points)).toEqual({
      // The last one is the QUIT call.
      'shop.v1.Orders/GetOrder OK undefined': N + 1,
      'shop.v1.Orders/GetOrder NOT_FOUND NOT_FOUND': N,
      'shop.v1.Orders/GetOrder INTERNAL INTERNAL': N,
      'shop.v1.Orders/UploadItems OK undefined': N,
      'shop.v1.Orders/ListOrders OK undefined': N,
      'shop.v1.Orders/ListOrders UNAVAILABLE UNAVAILABLE': N,
      'shop.v1.Orders/Chat OK undefined': N,
      'shop.v1.Stock/Check OK undefined': N,
    });
    for (const p of points) {
      expect(p.scope).toBe(G);
      expect(p.unit).toBe('s');
      expect(p.type).toBe('histogram');
      expect(p.temporality).toBe('delta');
      expect(p.attributes).toMatchObject({ 'rpc.system.name': 'grpc', 'server.address': '127.0.0.1', 'server.port': port });
      expect(typeof p.attributes['rpc.grpc.status_code']).toBe('number');
    }
    const notFound = points.find((p) => p.attributes['rpc.status_code'] === 'NOT_FOUND')!;
    expect(notFound.attributes['rpc.grpc.status_code']).toBe(5);
    // Most calls were not sampled: far fewer CLIENT spans than calls (about 10% of 161 expected).
    const spans = spansOf(rx, cs).filter((s) => s.kind === 'CLIENT' && s.scope.name === G);
    expect(spans.length).toBeLessThan(80);
  });

  it('the server counts every call it received, and only its own failures are errors', () => {
    const N = ROUNDS;
    expect(counts(of(ss, 'rpc.server.call.duration'))).toEqual({
      'shop.v1.Orders/GetOrder OK undefined': N + 1,
      // NOT_FOUND is the caller's problem on a server: no error.type.
      'shop.v1.Orders/GetOrder NOT_FOUND undefined': N,
      'shop.v1.Orders/GetOrder INTERNAL INTERNAL': N,
      'shop.v1.Orders/UploadItems OK undefined': N,
      'shop.v1.Orders/ListOrders OK undefined': N,
      'shop.v1.Orders/ListOrders UNAVAILABLE UNAVAILABLE': N,
      'shop.v1.Orders/Chat OK undefined': N,
      // The client's N, and the N the server's own GetOrder 42 made to itself.
      'shop.v1.Stock/Check OK undefined': 2 * N,
    });
    for (const p of of(ss, 'rpc.server.call.duration')) {
      expect(p.unit).toBe('s');
      expect(p.attributes['rpc.system.name']).toBe('grpc');
      // Opt-in in the conventions: not recorded.
      expect(p.attributes).not.toHaveProperty('server.address');
    }
    // The server process's own calls (Stock/Check inside GetOrder 42) are client calls there.
    expect(counts(of(ss, 'rpc.client.call.duration'))).toEqual({ 'shop.v1.Stock/Check OK undefined': N });
  });

  it('exemplars point at spans the receiver got, of that method and status', () => {
    let seen = 0;
    for (const [service, name, kind] of [
      [cs, 'rpc.client.call.duration', 'CLIENT'],
      [ss, 'rpc.server.call.duration', 'SERVER'],
    ] as const) {
      const spans = new Map(spansOf(rx, service).map((s) => [s.spanId, s]));
      for (const p of of(service, name)) {
        for (const e of p.exemplars) {
          const span = spans.get(e.spanId);
          expect(span, `${name} exemplar ${e.spanId}`).toBeDefined();
          expect(span!.traceId).toBe(e.traceId);
          expect(span!.kind).toBe(kind);
          expect(span!.name).toBe(p.attributes['rpc.method']);
          expect(span!.attributes['rpc.status_code']).toBe(p.attributes['rpc.status_code']);
          seen++;
        }
      }
    }
    // About 10% of 320 calls were sampled; none at all would be a 1e-14 event.
    expect(seen).toBeGreaterThan(0);
  });

  it('the HTTP/2 streams under the calls are not HTTP requests in any metric', () => {
    const h2 = rx.metrics().filter((p) => [cs, ss].includes(String(p.resource['service.name'])) && p.scope === '@x/otel-agent/http2');
    expect(h2).toEqual([]);
  });
});
