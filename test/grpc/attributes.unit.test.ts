/** The gRPC semantic-convention rules of src/instrumentations/grpc/attributes.ts, without a network. */
import { describe, expect, it } from 'vitest';
import { callAttributes, codeOf, peerAttributes, STATUS_NAMES, targetAddress } from '../../src/instrumentations/grpc/attributes';

describe('grpc attributes', () => {
  it('names a call by its fully-qualified method', () => {
    expect(callAttributes('/shop.v1.Orders/GetOrder')).toEqual({
      name: 'shop.v1.Orders/GetOrder',
      attributes: { 'rpc.system.name': 'grpc', 'rpc.method': 'shop.v1.Orders/GetOrder' },
    });
  });

  it('has the 17 status names of the gRPC spec, in order', () => {
    expect(STATUS_NAMES).toHaveLength(17);
    expect([STATUS_NAMES[0], STATUS_NAMES[4], STATUS_NAMES[5], STATUS_NAMES[16]]).toEqual(['OK', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'UNAUTHENTICATED']);
  });

  it('takes the code of an error, UNKNOWN when it has none usable', () => {
    expect(codeOf({ code: 5 })).toBe(5);
    expect(codeOf(new Error('x'))).toBe(2);
    expect(codeOf({ code: 'ECONNRESET' })).toBe(2);
    expect(codeOf({ code: 99 })).toBe(2);
    expect(codeOf(null)).toBe(2);
  });

  it('reads server.address/port from channel targets', () => {
    expect(targetAddress('dns:localhost:50051')).toEqual({ address: 'localhost', port: 50051 });
    expect(targetAddress('dns:///orders.internal:8443')).toEqual({ address: 'orders.internal', port: 8443 });
    expect(targetAddress('dns://8.8.8.8/orders.internal:8443')).toEqual({ address: 'orders.internal', port: 8443 });
    expect(targetAddress('ipv4:10.0.0.1:50051,10.0.0.2:50051')).toEqual({ address: '10.0.0.1', port: 50051 });
    expect(targetAddress('dns:[::1]:50051')).toEqual({ address: '::1', port: 50051 });
    expect(targetAddress('dns:api.example.com')).toEqual({ address: 'api.example.com', port: 443 });
    expect(targetAddress('unix:/run/app.sock')).toEqual({ address: '/run/app.sock' });
  });

  it('reads network.peer.* from getPeer()', () => {
    expect(peerAttributes('127.0.0.1:4000')).toEqual({ 'network.peer.address': '127.0.0.1', 'network.peer.port': 4000 });
    expect(peerAttributes('ipv6:[::1]:4000')).toEqual({ 'network.peer.address': '::1', 'network.peer.port': 4000 });
    expect(peerAttributes('unix:/run/app.sock')).toEqual({});
  });
});
