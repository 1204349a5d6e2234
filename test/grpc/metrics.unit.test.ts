/** The attributes of rpc.{server,client}.call.duration (src/instrumentations/grpc/metrics.ts), on a recording meter. */
import { ROOT_CONTEXT, type Attributes, type Meter } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { RpcDuration } from '../../src/instrumentations/grpc/metrics';

interface Rec {
  name: string;
  value: number;
  attributes: Attributes;
}

function recordingMeter(): { meter: Meter; recs: Rec[]; opts: Record<string, { unit?: string }> } {
  const recs: Rec[] = [];
  const opts: Record<string, { unit?: string }> = {};
  const meter = {
    createHistogram(name: string, o: { unit?: string }) {
      opts[name] = o;
      return { record: (value: number, attributes: Attributes) => recs.push({ name, value, attributes }) };
    },
  } as unknown as Meter;
  return { meter, recs, opts };
}

describe('grpc duration metrics', () => {
  it('are histograms in seconds under the stable RPC names', () => {
    const { meter, recs, opts } = recordingMeter();
    const d = new RpcDuration(meter);
    d.recordServer(RpcDuration.start(), 'shop.v1.Orders/GetOrder', 0, ROOT_CONTEXT);
    expect(Object.keys(opts).sort()).toEqual(['rpc.client.call.duration', 'rpc.server.call.duration']);
    for (const o of Object.values(opts)) expect(o.unit).toBe('s');
    // Seconds, not milliseconds: a call made and ended at once is far below 1.
    expect(recs[0]!.value).toBeGreaterThanOrEqual(0);
    expect(recs[0]!.value).toBeLessThan(1);
  });

  it('mark every non-OK code an error on the client, only the server failures on the server', () => {
    const { meter, recs } = recordingMeter();
    const d = new RpcDuration(meter);
    const t0 = RpcDuration.start();
    d.recordClient(t0, 'dns:orders:50051', 'shop.v1.Orders/GetOrder', 5, ROOT_CONTEXT);
    d.recordServer(t0, 'shop.v1.Orders/GetOrder', 5, ROOT_CONTEXT);
    d.recordServer(t0, 'shop.v1.Orders/GetOrder', 13, ROOT_CONTEXT);
    expect(recs.map((r) => r.attributes)).toEqual([
      {
        'rpc.system.name': 'grpc',
        'rpc.method': 'shop.v1.Orders/GetOrder',
        'rpc.status_code': 'NOT_FOUND',
        'rpc.grpc.status_code': 5,
        'error.type': 'NOT_FOUND',
        'server.address': 'orders',
        'server.port': 50051,
      },
      { 'rpc.system.name': 'grpc', 'rpc.method': 'shop.v1.Orders/GetOrder', 'rpc.status_code': 'NOT_FOUND', 'rpc.grpc.status_code': 5 },
      {
        'rpc.system.name': 'grpc',
        'rpc.method': 'shop.v1.Orders/GetOrder',
        'rpc.status_code': 'INTERNAL',
        'rpc.grpc.status_code': 13,
        'error.type': 'INTERNAL',
      },
    ]);
  });

  it('take server.address from the target (a unix socket path has no port), and reuse one attribute set per call shape', () => {
    const { meter, recs } = recordingMeter();
    const d = new RpcDuration(meter);
    const t0 = RpcDuration.start();
    d.recordClient(t0, 'unix:/run/orders.sock', 'shop.v1.Orders/GetOrder', 0, ROOT_CONTEXT);
    d.recordClient(t0, 'unix:/run/orders.sock', 'shop.v1.Orders/GetOrder', 0, ROOT_CONTEXT);
    d.recordClient(t0, '127.0.0.1:50051', 'shop.v1.Orders/GetOrder', 0, ROOT_CONTEXT);
    expect(recs[0]!.attributes['server.address']).toBe('/run/orders.sock');
    expect(recs[0]!.attributes).not.toHaveProperty('server.port');
    expect(recs[0]!.attributes).not.toHaveProperty('error.type');
    // What an unsampled call costs: no attribute object built after the first call of its kind.
    expect(recs[1]!.attributes).toBe(recs[0]!.attributes);
    expect(recs[2]!.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': 50051 });
  });
});
