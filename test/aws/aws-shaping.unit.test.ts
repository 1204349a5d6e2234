// The agent's AWS SDK shaping, in process: message-attribute injection (room, the app's own
// attributes, re-sent commands), the DynamoDB key-value filter on upstream's real extension,
// and the processing wrapper passing the app's results and errors through unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { AgentLog } from '../../src/log';
import { buildPropagator } from '../../src/propagators';
import { extractFrom, injectInto, type Attributes } from '../../src/instrumentations/aws-sdk/carrier';
import { traceProcessing } from '../../src/instrumentations/aws-sdk/process';
import { shape } from '../../src/instrumentations/aws-sdk/shaping';
import type { ServiceExtension } from '../../src/instrumentations/aws-sdk/types';

function recordingLog(): AgentLog & { warnings: string[] } {
  const warnings: string[] = [];
  const once = new Set<string>();
  const log = {
    level: 'info',
    enabled: () => true,
    error: (m: string) => warnings.push(m),
    warn: (m: string) => warnings.push(m),
    info: () => undefined,
    debug: () => undefined,
    warnOnce: (k: string, m: string) => {
      if (!once.has(k)) warnings.push(m);
      once.add(k);
    },
    rateLimited: (_k: string, m: string) => warnings.push(m),
  };
  return Object.assign(log as unknown as AgentLog, { warnings });
}

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const active = (spanId: string) => trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId, traceFlags: TraceFlags.SAMPLED });
const attrs = (n: number): Attributes => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, { DataType: 'String', StringValue: `v${i}` }]));

beforeAll(() => {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  propagation.disable();
  context.disable();
});

describe('injectInto', () => {
  it('sends a copy with the context, leaving the app object alone, and fills the last free slot', () => {
    const log = recordingLog();
    const mine = attrs(9);
    const input: { MessageAttributes?: Attributes } = { MessageAttributes: mine };
    context.with(active('b7ad6b7169203331'), () => injectInto(input, log));
    expect(Object.keys(mine)).toHaveLength(9);
    expect(input.MessageAttributes).not.toBe(mine);
    expect(input.MessageAttributes?.traceparent).toEqual({ DataType: 'String', StringValue: `00-${TRACE}-b7ad6b7169203331-01` });
    expect(Object.keys(input.MessageAttributes!)).toHaveLength(10);
    // The same input sent again, under another span: the new context, not the stale one.
    context.with(active('00f067aa0ba902b7'), () => injectInto(input, log));
    expect(input.MessageAttributes?.traceparent?.StringValue).toBe(`00-${TRACE}-00f067aa0ba902b7-01`);
    expect(Object.keys(input.MessageAttributes!)).toHaveLength(10);
    expect(log.warnings).toEqual([]);
  });

  it('keeps an attribute the app set itself, and warns once when there is no room', () => {
    const log = recordingLog();
    const own = { traceparent: { DataType: 'String', StringValue: 'the app’s own' } };
    const a: { MessageAttributes?: Attributes } = { MessageAttributes: own };
    context.with(active('b7ad6b7169203331'), () => injectInto(a, log));
    expect(a.MessageAttributes).toBe(own);
    for (let i = 0; i < 3; i++) {
      const full: { MessageAttributes?: Attributes } = { MessageAttributes: attrs(10) };
      context.with(active('b7ad6b7169203331'), () => injectInto(full, log));
      expect(Object.keys(full.MessageAttributes!)).toHaveLength(10);
    }
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/^aws-sdk: a message with 10 message attributes has no room for traceparent/);
  });

  it('with the agent propagators: SQS name rules from the guard, the 10 counted with the app attributes', () => {
    const log = recordingLog();
    propagation.disable();
    propagation.setGlobalPropagator(buildPropagator(['tracecontext', 'baggage', 'jaeger']));
    try {
      const members = ['ok_1=1', 'bad!key=2', ...Array.from({ length: 12 }, (_, i) => `k${i}=v`)].join(',');
      const ctx = propagation.extract(ROOT_CONTEXT, { traceparent: `00-${TRACE}-b7ad6b7169203331-01`, baggage: members });
      const input: { MessageAttributes?: Attributes } = { MessageAttributes: attrs(5) };
      context.with(ctx, () => injectInto(input, log));
      const names = Object.keys(input.MessageAttributes!);
      expect(names).toHaveLength(10);
      expect(names.slice(0, 8)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'traceparent', 'baggage', 'uber-trace-id']);
      expect(names).not.toContain('uberctx-bad!key');
      for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_.-]+$/);
      expect(log.warnings).toHaveLength(1);
      expect(log.warnings[0]).toMatch(/^aws-sdk: a message with 5 message attributes has no room for uberctx-/);
    } finally {
      propagation.disable();
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });

  it('adds nothing without an active span, and reads contexts back from attributes and envelopes', () => {
    const input: { MessageAttributes?: Attributes } = {};
    injectInto(input, recordingLog());
    expect(input.MessageAttributes).toBeUndefined();
    const fields = propagation.fields();
    const tp = `00-${TRACE}-b7ad6b7169203331-01`;
    const fromAttrs = extractFrom({ MessageAttributes: { traceparent: { DataType: 'String', StringValue: tp } } }, fields);
    expect(trace.getSpanContext(fromAttrs!)?.spanId).toBe('b7ad6b7169203331');
    const envelope = JSON.stringify(
      { Type: 'Notification', TopicArn: 'arn:aws:sns:us-east-1:1:t', Message: 'x', MessageAttributes: { traceparent: { Type: 'String', Value: tp } } },
      null,
      2,
    );
    expect(trace.getSpanContext(extractFrom({ Body: envelope }, fields)!)?.traceId).toBe(TRACE);
    expect(extractFrom({ Body: '{"Type":"Notification","TopicArn": broken' }, fields)).toBeUndefined();
    expect(extractFrom({ Body: 'plain text' }, fields)).toBeUndefined();
  });
});

describe('DynamoDB extension', () => {
  it('drops item collection metrics (they hold key values) and keeps the rest of upstream', () => {
    const [instr] = shape(recordingLog(), (c) => [new AwsInstrumentation(c)]);
    const ext = (instr as unknown as { servicesExtensions: { services: Map<string, ServiceExtension> } }).servicesExtensions.services.get('DynamoDB')!;
    const set: Record<string, unknown> = {};
    const span = { setAttribute: (k: string, v: unknown) => (set[k] = v), isRecording: () => true } as unknown as Span;
    const data = {
      Count: 2,
      ConsumedCapacity: [{ TableName: 't', CapacityUnits: 1 }],
      ItemCollectionMetrics: { t: [{ ItemCollectionKey: { pk: { S: 'KEYSECRET' } }, SizeEstimateRangeGB: [0, 1] }] },
    };
    ext.responseHook!(
      { data, request: { serviceName: 'DynamoDB', commandName: 'BatchWriteItem', commandInput: {} } },
      span,
      trace.getTracer('t'),
      {},
      undefined,
    );
    expect(set['aws.dynamodb.count']).toBe(2);
    expect(set['aws.dynamodb.consumed_capacity']).toEqual([JSON.stringify(data.ConsumedCapacity[0])]);
    expect(JSON.stringify(set)).not.toContain('KEYSECRET');
    // The app's response object is untouched.
    expect(data.ItemCollectionMetrics.t[0]!.ItemCollectionKey.pk.S).toBe('KEYSECRET');
    const meta = ext.requestPreSpanHook(
      { serviceName: 'DynamoDB', commandName: 'GetItem', commandInput: { TableName: 't', Key: { pk: { S: 'KEYSECRET' } } } },
      {},
      console as never,
    );
    expect(meta.spanAttributes).toMatchObject({ 'db.system.name': 'aws.dynamodb', 'db.collection.name': 't', 'db.operation.name': 'GetItem' });
    expect(meta.spanAttributes?.['db.namespace']).toBeUndefined();
  });

  it('a throwing hook costs the span its data, never the call', () => {
    const log = recordingLog();
    const [instr] = shape(log, (c) => [new AwsInstrumentation(c)]);
    const sqs = (instr as unknown as { servicesExtensions: { services: Map<string, ServiceExtension> } }).servicesExtensions.services.get('SQS')!;
    const hostile = {
      get QueueUrl(): string {
        throw new Error('boom');
      },
    };
    expect(sqs.requestPreSpanHook({ serviceName: 'SQS', commandName: 'SendMessage', commandInput: hostile as never }, {}, console as never)).toEqual({
      isIncoming: false,
    });
    expect(log.warnings).toEqual(['aws-sdk: SQS span setup failed (boom); the AWS call goes on untouched']);
  });
});

describe('traceProcessing', () => {
  const target = () => ({ tracer: trace.getTracer('t'), queue: 'q', attributes: {}, parents: new WeakMap() });

  it('map and forEach return and throw exactly what the app callback does', async () => {
    const messages = [{ MessageId: '1' }, { MessageId: '2' }];
    traceProcessing(messages, target());
    expect(messages.map((m) => m.MessageId)).toEqual(['1', '2']);
    const bad = new Error('handler failed');
    const mapped = messages.map(async (m) => {
      if (m.MessageId === '2') throw bad;
      return m.MessageId;
    });
    await expect(mapped[0]).resolves.toBe('1');
    await expect(mapped[1]).rejects.toBe(bad);
    expect(() =>
      messages.forEach(() => {
        throw bad;
      }),
    ).toThrow(bad);
    const thisArg = { seen: [] as string[] };
    messages.forEach(function (this: typeof thisArg, m) {
      this.seen.push(m.MessageId);
    }, thisArg);
    expect(thisArg.seen).toEqual(['1', '2']);
    // Nothing enumerable was added: the array looks the same to the app.
    expect(Object.keys(messages)).toEqual(['0', '1']);
    expect(JSON.stringify(messages)).toBe('[{"MessageId":"1"},{"MessageId":"2"}]');
  });

  it('parents each call to its producer, ends when an async callback settles, marks a rejection, and skips unsampled ones', async () => {
    const ended: ReadableSpan[] = [];
    const provider = new TracerProvider({
      spanProcessors: [{ onStart: () => undefined, onEnd: (s) => void ended.push(s), forceFlush: async () => undefined, shutdown: async () => undefined }],
    });
    const producer = active('b7ad6b7169203331');
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.NONE, isRemote: true });
    const [ok, bad, quiet] = [{ MessageId: 'ok' }, { MessageId: 'bad' }, { MessageId: 'quiet' }];
    const parents = new WeakMap<object, ReturnType<typeof active>>([
      [ok, producer],
      [bad, producer],
      [quiet, unsampled],
    ]);
    const messages = [ok, bad, quiet];
    traceProcessing(messages, { tracer: provider.getTracer('t'), queue: 'q', attributes: { 'messaging.system': 'aws_sqs' }, parents });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inside: Array<string | undefined> = [];
    const results = messages.map(async (m) => {
      inside.push(trace.getActiveSpan()?.spanContext().spanId);
      await gate;
      if (m === bad) throw new Error('handler failed');
      return m.MessageId;
    });
    expect(ended).toEqual([]);
    release();
    await expect(results[0]).resolves.toBe('ok');
    await expect(results[1]).rejects.toThrow('handler failed');
    await expect(results[2]).resolves.toBe('quiet');
    expect(ended.map((s) => [s.name, s.kind, s.parentSpanContext?.spanId, s.attributes['messaging.message.id'], s.status.code])).toEqual([
      ['process q', SpanKind.CONSUMER, 'b7ad6b7169203331', 'ok', SpanStatusCode.UNSET],
      ['process q', SpanKind.CONSUMER, 'b7ad6b7169203331', 'bad', SpanStatusCode.ERROR],
    ]);
    expect(ended[1]!.events.map((e) => e.name)).toEqual(['exception']);
    // The callbacks ran inside their spans; the unsampled one inside the producer's context.
    expect(inside).toEqual([ended[0]!.spanContext().spanId, ended[1]!.spanContext().spanId, '00f067aa0ba902b7']);
  });
});
