/**
 * The per-message cost of an unsampled message: with the default parent-based
 * sampler, a message whose context says "not sampled" (or a publish inside an
 * unsampled trace) must not ask the tracer for a span nor build attributes;
 * only the context is read (and, when sending, written to the message). The
 * fake clients below have the shape the instrumentations patch; a tracer that
 * counts calls tells whether any span work happened.
 */
import { context, propagation, trace, ROOT_CONTEXT, TraceFlags, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MqttInstrumentation } from '../../src/instrumentations/mqtt/instrumentation';
import { NatsInstrumentation } from '../../src/instrumentations/nats/instrumentation';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const header = (flags: '00' | '01'): string => `00-${TRACE}-${PARENT}-${flags}`;

let started = 0;
const tracer = {
  startSpan(): Span {
    started++;
    return trace.wrapSpanContext({ traceId: TRACE, spanId: 'a'.repeat(16), traceFlags: TraceFlags.NONE });
  },
} as unknown as Tracer;
const provider: TracerProvider = { getTracer: () => tracer };

const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: PARENT, traceFlags: TraceFlags.NONE, isRemote: true });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(() => {
  context.disable();
  propagation.disable();
});
beforeEach(() => {
  started = 0;
});

class FakeHdrs {
  m = new Map<string, string>();
  keys(): string[] {
    return [...this.m.keys()];
  }
  get(k: string): string {
    return this.m.get(k) ?? '';
  }
  set(k: string, v: string): void {
    this.m.set(k, v);
  }
}

function patch<T>(instr: NatsInstrumentation | MqttInstrumentation, exports: T): T {
  instr.setTracerProvider(provider);
  const def = instr.getModuleDefinitions()[0]!;
  return def.patch!(exports) as T;
}

describe('nats: an unsampled message costs no span', () => {
  class Conn {
    info = { headers: true };
    sent: FakeHdrs | undefined;
    publish(_s: string, _d: unknown, o?: { headers?: FakeHdrs }): void {
      this.sent = o?.headers;
    }
    request(): Promise<unknown> {
      return Promise.resolve({});
    }
    subscribe(_s: string, o: { callback: (e: unknown, m: unknown) => void }): { callback: (e: unknown, m: unknown) => void } {
      return { callback: o.callback };
    }
  }

  async function connected(parentBased: boolean): Promise<Conn> {
    const instr = new NatsInstrumentation({ enabled: false, parentBased });
    const mod = patch(instr, { connect: () => Promise.resolve(new Conn()), headers: () => new FakeHdrs() });
    return (await mod.connect()) as Conn;
  }

  it('publish inside an unsampled trace: no span, the context still travels with flags 00', async () => {
    const nc = await connected(true);
    context.with(unsampled, () => nc.publish('orders.created', new Uint8Array(3)));
    expect(started).toBe(0);
    expect(nc.sent?.get('traceparent')).toBe(header('00'));
    // The same call in a sampled (or unknown) trace does ask for a span: the check can fail.
    nc.publish('orders.created', new Uint8Array(3));
    expect(started).toBe(1);
  });

  it('a received message whose context is unsampled: the handler runs in that context, no span', async () => {
    const nc = await connected(true);
    let seen: string | undefined;
    const sub = nc.subscribe('orders.*', { callback: () => (seen = trace.getSpanContext(context.active())?.spanId) });
    const h = new FakeHdrs();
    h.set('traceparent', header('00'));
    sub.callback(null, { subject: 'orders.created', data: new Uint8Array(1), headers: h });
    expect(started).toBe(0);
    expect(seen).toBe(PARENT);
    h.set('traceparent', header('01'));
    sub.callback(null, { subject: 'orders.created', data: new Uint8Array(1), headers: h });
    expect(started).toBe(1);
  });

  it('a sampler that ignores the parent (always_on) still gets asked', async () => {
    const nc = await connected(false);
    context.with(unsampled, () => nc.publish('orders.created', new Uint8Array(3)));
    expect(started).toBe(1);
  });
});

describe('mqtt: an unsampled message costs no span', () => {
  class MqttClient {
    options = { protocolVersion: 5 };
    sent: unknown;
    publish(_t: string, _m: unknown, o: unknown, cb?: () => void): this {
      this.sent = o;
      cb?.();
      return this;
    }
    emit(_e: string, ..._a: unknown[]): boolean {
      return true;
    }
  }

  it('publish and receive inside an unsampled trace', () => {
    patch(new MqttInstrumentation({ enabled: false, parentBased: true }), { MqttClient });
    const c = new MqttClient();
    context.with(unsampled, () => c.publish('t/1', 'x', { qos: 1 }));
    expect(started).toBe(0);
    expect(c.sent).toEqual({ qos: 1, properties: { userProperties: { traceparent: header('00') } } });
    c.emit('message', 't/1', Buffer.from('x'), { properties: { userProperties: { traceparent: header('00') } } });
    expect(started).toBe(0);
    c.emit('message', 't/1', Buffer.from('x'), { properties: { userProperties: { traceparent: header('01') } } });
    expect(started).toBe(1);
  });
});
