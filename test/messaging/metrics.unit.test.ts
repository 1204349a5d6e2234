/**
 * The messaging metrics where a real app cannot show them: a 'message'
 * listener that throws (in a real MQTT.js client the throw takes the
 * connection's packet handling down with it), MQTT topic filter matching, and
 * metrics off meaning no instrument at all. A meter that keeps what it is
 * given stands in for the SDK; the agent's own tracer is not involved.
 */
import { EventEmitter } from 'node:events';
import type { Attributes, Meter, MeterProvider } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { MqttInstrumentation } from '../../src/instrumentations/mqtt/instrumentation';
import { matches } from '../../src/instrumentations/mqtt/topics';

interface Rec {
  name: string;
  value: number;
  attributes: Attributes;
}

function recordingMeter(): { provider: MeterProvider; recs: Rec[]; created: string[] } {
  const recs: Rec[] = [];
  const created: string[] = [];
  const instrument = (name: string) => {
    created.push(name);
    const push = (value: number, attributes: Attributes = {}): void => void recs.push({ name, value, attributes });
    return { record: push, add: push };
  };
  const meter = { createHistogram: instrument, createCounter: instrument } as unknown as Meter;
  return { provider: { getMeter: () => meter }, recs, created };
}

function patched(metrics: boolean) {
  const m = recordingMeter();
  const instr = new MqttInstrumentation({ enabled: false, metrics });
  instr.setMeterProvider(m.provider);
  class MqttClient extends EventEmitter {
    options = { protocolVersion: 5, hostname: 'broker.local', port: 1883 };
    /** The broker refuses topic `full`. */
    publish(t: string, _m: unknown, _o: unknown, cb?: (e?: unknown) => void): this {
      cb?.(t === 'full' ? new RangeError('queue full') : undefined);
      return this;
    }
    subscribe(_topics: unknown): this {
      return this;
    }
    unsubscribe(_topics: unknown): this {
      return this;
    }
  }
  instr.getModuleDefinitions()[0]!.patch!({ MqttClient });
  return { ...m, client: new MqttClient() };
}

describe('mqtt: messaging metrics of a throwing listener', () => {
  it('the throw reaches the caller as without the agent; messaging.process.duration carries its class as error.type', () => {
    const { client, recs } = patched(true);
    class SensorError extends Error {}
    client.subscribe('plant/+/temp');
    client.on('message', (topic: string) => {
      if (topic.endsWith('/temp') && topic.includes('b')) throw new SensorError('bad reading');
    });
    client.emit('message', 'plant/a/temp', Buffer.from('1'), {});
    expect(() => client.emit('message', 'plant/b/temp', Buffer.from('2'), {})).toThrow(SensorError);
    const base = { 'messaging.system': 'mqtt', 'messaging.operation.name': 'process', 'server.address': 'broker.local', 'server.port': 1883 };
    const template = { 'messaging.destination.template': 'plant/+/temp' };
    expect(recs.map((r) => [r.name, r.attributes])).toEqual([
      ['messaging.process.duration', { ...base, 'messaging.operation.type': 'process', ...template }],
      ['messaging.client.consumed.messages', { ...base, ...template }],
      ['messaging.process.duration', { ...base, 'messaging.operation.type': 'process', ...template, 'error.type': 'SensorError' }],
      // The message was delivered all the same: consumed, without the handler's error.
      ['messaging.client.consumed.messages', { ...base, ...template }],
    ]);
    expect(recs.every((r) => r.value >= 0)).toBe(true);
  });

  it('a refused publish counts with error.type, and the app still gets its error; after unsubscribe() a topic counts under its own name', () => {
    const { client, recs } = patched(true);
    let got: unknown;
    client.publish('full', 'x', {}, (e?: unknown) => (got = e));
    expect(got).toBeInstanceOf(RangeError);
    const send = {
      'messaging.system': 'mqtt',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': 'full',
      'server.address': 'broker.local',
      'server.port': 1883,
      'error.type': 'RangeError',
    };
    expect(recs.map((r) => [r.name, r.attributes])).toEqual([
      ['messaging.client.operation.duration', { ...send, 'messaging.operation.type': 'send' }],
      ['messaging.client.sent.messages', send],
    ]);
    recs.length = 0;
    client.subscribe(['a/#']);
    client.unsubscribe('a/#');
    client.emit('message', 'a/b', Buffer.from(''), {});
    expect(recs[0]?.attributes).toMatchObject({ 'messaging.destination.name': 'a/b' });
    expect(recs[0]?.attributes).not.toHaveProperty('messaging.destination.template');
  });

  it('metrics off: no instrument is created and nothing is recorded', () => {
    const { client, recs, created } = patched(false);
    client.on('message', () => undefined);
    client.emit('message', 't', Buffer.from(''), {});
    client.publish('t', 'x', {});
    expect(created).toEqual([]);
    expect(recs).toEqual([]);
  });
});

describe('mqtt topic filters', () => {
  it.each([
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/d', false],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/b', 'a/b', true],
  ])('%s matches %s: %s', (filter, topic, want) => {
    expect(matches(filter.split('/'), topic)).toBe(want);
  });
});
