// kafkajs producer and consumer in two separate processes, both run with the agent and no
// tracing code, talking to the in-memory Kafka-protocol broker in the test process: the
// checkout service's PRODUCER spans inject W3C context into each record, the worker's CONSUMER
// spans continue (eachMessage) or link to (eachBatch) it, and the worker's HTTP call nests inside.
// Then upstream's messaging metrics, with the units the agent fills in (kafkajs/hooks.ts).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan, byName, one, spanTree } from '../harness/otlp-receiver';
import { runFixture, startFixture, VARIANTS } from '../harness/fixture';
import { startKafkaBroker, type KafkaBroker, type StoredRecord } from '../servers/kafka-broker';
import { METRICS_ON, shapeOf, tally } from '../harness/messaging-metrics';

const KAFKA_SCOPE = '@opentelemetry/instrumentation-kafkajs';
const ALL_MESSAGES = 5;

interface Downstream {
  url: string;
  seen: { path: string; traceparent?: string }[];
  close(): Promise<void>;
}

/** The HTTP service the worker notifies; records the traceparent each call carried. */
async function startDownstream(): Promise<Downstream> {
  const seen: Downstream['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? '', traceparent: req.headers.traceparent as string | undefined });
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Consumed {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  traceparent: string | null;
}

let rx: OtlpReceiver;
let broker: KafkaBroker;
let downstream: Downstream;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});
afterEach(async () => {
  await Promise.all([broker?.close(), downstream?.close()]);
});

const keyOf = (r: { key: Buffer | string | null }): string => (r.key === null ? 'none' : r.key.toString());
const traceparentOf = (s: RecvSpan): string => `00-${s.traceId}-${s.spanId}-03`; // sampled, random trace id (the agent starts these traces)
const dump = (spans: RecvSpan[]): string => JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
/**
 * Spans of one service, each once: the exit flush re-sends a batch whose export was still in
 * flight (at-least-once, see src/processor.ts), so the receiver may hold a span twice.
 */
function spansOf(service: string): RecvSpan[] {
  const seen = new Set<string>();
  return rx.spans().filter((s) => {
    const id = `${s.traceId}/${s.spanId}`;
    if (s.resource['service.name'] !== service || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/**
 * Runs the checkout service (one POST /checkout: send + sendBatch, five records), then the
 * worker until it has handled all five, each in its own process with the agent.
 */
async function runBoth(ext: string, mode: 'each-message' | 'each-batch', tag: string, extraEnv: Record<string, string> = {}) {
  broker = await startKafkaBroker();
  downstream = await startDownstream();
  const secret = `TOPSECRET-${randomBytes(8).toString('hex')}`;
  const env = {
    KAFKA_BROKERS: broker.brokers.join(','),
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    SECRET_BODY: secret,
    ...extraEnv,
  };
  const producerService = `checkout-${tag}-${ext}`;
  const consumerService = `worker-${tag}-${ext}`;

  const p = startFixture({
    fixture: `kafka/producer.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { ...env, OTEL_SERVICE_NAME: producerService },
  });
  const port = (await p.ready).split(' ')[1];
  const res = await fetch(`http://127.0.0.1:${port}/checkout`, { method: 'POST' });
  const body = await res.text();
  const pr = await p.result;
  expect(res.status, `${body}\n${pr.stderr}`).toBe(200);
  expect(JSON.parse(body)).toEqual([
    ['audit', 0, 0],
    ['orders', 0, 0],
    ['orders', 0, 0],
  ]);
  expect(pr.code, pr.stderr).toBe(0);

  // Started after everything is produced (fromBeginning): each topic's records arrive in one
  // fetch, so eachBatch sees exactly one batch per topic.
  const c = await runFixture({
    fixture: `kafka/consumer.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    args: [mode],
    endpoint: rx.url,
    timeoutMs: 20_000,
    env: { ...env, OTEL_SERVICE_NAME: consumerService, KAFKA_EXPECT: String(ALL_MESSAGES), DOWNSTREAM_URL: downstream.url },
  });
  expect(c.code, c.stderr).toBe(0);
  for (const r of [pr, c]) expect(r.stderr).not.toContain('[otel-agent]');
  const consumed = c.stdout
    .split('\n')
    .filter((l) => l.startsWith('MSG '))
    .map((l) => JSON.parse(l.slice(4)) as Consumed);
  expect(consumed).toHaveLength(ALL_MESSAGES);

  const records: StoredRecord[] = [...broker.messages('orders'), ...broker.messages('audit')];
  expect(records.map((r) => [r.topic, r.offset, keyOf(r), r.value?.toString()])).toEqual([
    ['orders', 0, 'order-1', `${secret} #1`],
    ['orders', 1, 'order-2', `${secret} #2`],
    ['orders', 2, 'order-3', `${secret} #3`],
    ['audit', 0, 'audit-1', `${secret} #4`],
    ['audit', 1, 'none', `${secret} #5`],
  ]);
  return { secret, records, consumed, producerSpans: spansOf(producerService), consumerSpans: spansOf(consumerService) };
}

/** The checkout side, identical for both consumer styles; returns the PRODUCER span per record key. */
function expectProducerSide(spans: RecvSpan[], records: StoredRecord[], consumed: Consumed[]) {
  const tree = spanTree(spans);
  const server = one(
    spans.filter((s) => s.kind === 'SERVER'),
    'POST /checkout',
  );
  const sends = spans.filter((s) => s.kind === 'PRODUCER');
  // One PRODUCER span per message (send: 2, sendBatch: 1 + 2), nothing else from kafkajs.
  expect(sends.map((s) => s.name).sort(), tree).toEqual(['send audit', 'send audit', 'send orders', 'send orders', 'send orders']);
  expect(spans.filter((s) => s.scope.name === KAFKA_SCOPE)).toHaveLength(sends.length);
  expect(spans).toHaveLength(sends.length + 1);

  const byKey = new Map<string, RecvSpan>();
  for (const s of sends) {
    expect(s.traceId).toBe(server.traceId);
    expect(s.parentSpanId).toBe(server.spanId);
    expect(s.scope.name).toBe(KAFKA_SCOPE);
    const topic = s.name.slice('send '.length);
    expect(s.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
    });
    const key = (s.attributes['messaging.kafka.message.key'] as string | undefined) ?? 'none';
    expect(byKey.has(key)).toBe(false);
    byKey.set(key, s);
  }
  expect([...byKey.keys()].sort()).toEqual(['audit-1', 'none', 'order-1', 'order-2', 'order-3']);
  // The partition is known (and recorded) only where the app chose it.
  expect(byKey.get('order-2')!.attributes['messaging.destination.partition.id']).toBe('0');
  for (const k of ['order-1', 'order-3', 'audit-1', 'none']) expect(byKey.get(k)!.attributes['messaging.destination.partition.id']).toBeUndefined();

  // Each stored record carries exactly its own producer span's context, byte for byte, and the
  // worker read the same bytes back.
  for (const r of records) {
    expect(r.headers).toEqual([{ key: 'traceparent', value: Buffer.from(traceparentOf(byKey.get(keyOf(r))!)) }]);
  }
  for (const m of consumed) expect(m.traceparent).toBe(traceparentOf(byKey.get(m.key ?? 'none')!));
  return { server, byKey };
}

describe.each(VARIANTS)('kafkajs across two processes (%s)', (ext) => {
  it('eachMessage: one trace from the producing request through each CONSUMER span to the worker HTTP call', async () => {
    const { secret, records, consumed, producerSpans, consumerSpans } = await runBoth(ext, 'each-message', 'msg');
    const { server, byKey } = expectProducerSide(producerSpans, records, consumed);
    const tree = spanTree([...producerSpans, ...consumerSpans]);

    const processes = consumerSpans.filter((s) => s.kind === 'CONSUMER');
    const calls = consumerSpans.filter((s) => s.kind === 'CLIENT');
    expect(processes.map((s) => s.name).sort(), tree).toEqual(['process audit', 'process audit', 'process orders', 'process orders', 'process orders']);
    expect(calls).toHaveLength(ALL_MESSAGES);
    expect(consumerSpans).toHaveLength(processes.length + calls.length);

    for (const proc of processes) {
      const key = (proc.attributes['messaging.kafka.message.key'] as string | undefined) ?? 'none';
      const producer = byKey.get(key)!;
      const topic = proc.name.slice('process '.length);
      const rec = records.find((r) => r.topic === topic && keyOf(r) === key)!;
      // Parent is the producer span in the other process (context from the record headers).
      expect(proc.traceId).toBe(server.traceId);
      expect(proc.parentSpanId).toBe(producer.spanId);
      expect(proc.links).toEqual([]);
      expect(proc.attributes).toMatchObject({
        'messaging.system': 'kafka',
        'messaging.destination.name': topic,
        'messaging.operation.name': 'process',
        'messaging.operation.type': 'process',
        'messaging.destination.partition.id': '0',
        'messaging.kafka.offset': String(rec.offset),
      });
      // The handler's HTTP call nests under the message's process span, and carries it onward.
      const call = one(
        calls.filter((c) => c.parentSpanId === proc.spanId),
        /^GET\b/,
      );
      expect(call.traceId).toBe(server.traceId);
      expect(call.attributes['url.full']).toBe(`${downstream.url}/message/${topic}/${key}`);
      expect(downstream.seen.find((d) => d.path === `/message/${topic}/${key}`)?.traceparent).toBe(traceparentOf(call));
    }
    // Checkout request, sends, processing and downstream calls: one trace across both processes.
    expect(new Set([...producerSpans, ...consumerSpans].map((s) => s.traceId))).toEqual(new Set([server.traceId]));
    expect(dump([...producerSpans, ...consumerSpans])).not.toContain(secret);
  });

  it('eachBatch: one poll span per batch linked to every message producer, per-message process spans under it', async () => {
    const { secret, records, consumed, producerSpans, consumerSpans } = await runBoth(ext, 'each-batch', 'batch');
    const { server, byKey } = expectProducerSide(producerSpans, records, consumed);
    const tree = spanTree([...producerSpans, ...consumerSpans]);

    const polls = consumerSpans.filter((s) => s.name.startsWith('poll '));
    const processes = consumerSpans.filter((s) => s.kind === 'CONSUMER');
    const calls = consumerSpans.filter((s) => s.scope.name !== KAFKA_SCOPE);
    expect(polls.map((s) => s.name).sort(), tree).toEqual(['poll audit', 'poll orders']);
    expect(processes).toHaveLength(ALL_MESSAGES);
    expect(calls).toHaveLength(2);
    expect(consumerSpans).toHaveLength(polls.length + processes.length + calls.length);

    const link = (s: RecvSpan) => ({ traceId: s.traceId, spanId: s.spanId, attributes: {} });
    for (const [topic, keys] of [
      ['orders', ['order-1', 'order-2', 'order-3']],
      ['audit', ['audit-1', 'none']],
    ] as const) {
      const poll = one(polls, `poll ${topic}`);
      // A batch mixes messages from many traces: it starts its own trace and links to each one.
      expect(poll.kind).toBe('CLIENT');
      expect(poll.parentSpanId).toBe('');
      expect(poll.traceId).not.toBe(server.traceId);
      expect(poll.attributes).toMatchObject({
        'messaging.system': 'kafka',
        'messaging.destination.name': topic,
        'messaging.operation.name': 'poll',
        'messaging.operation.type': 'receive',
        'messaging.batch.message_count': keys.length,
        'messaging.destination.partition.id': '0',
      });
      expect(poll.links).toEqual(keys.map((k) => link(byKey.get(k)!)));

      const mine = processes.filter((p) => p.parentSpanId === poll.spanId);
      expect(mine.map((p) => p.name)).toEqual(keys.map(() => `process ${topic}`));
      for (const p of mine) {
        const key = (p.attributes['messaging.kafka.message.key'] as string | undefined) ?? 'none';
        expect(p.traceId).toBe(poll.traceId);
        expect(p.links).toEqual([link(byKey.get(key)!)]);
        expect(p.attributes).toMatchObject({ 'messaging.operation.type': 'process', 'messaging.destination.name': topic });
      }
      expect(mine.map((p) => (p.attributes['messaging.kafka.message.key'] as string | undefined) ?? 'none').sort()).toEqual([...keys].sort());

      // The batch handler's HTTP call runs under the poll span.
      const call = one(
        calls.filter((c) => c.parentSpanId === poll.spanId),
        /^GET\b/,
      );
      expect(call.kind).toBe('CLIENT');
      expect(call.attributes['url.full']).toBe(`${downstream.url}/batch/${topic}?n=${keys.length}`);
      expect(downstream.seen.find((d) => d.path === `/batch/${topic}?n=${keys.length}`)?.traceparent).toBe(traceparentOf(call));
    }
    expect(dump([...producerSpans, ...consumerSpans])).not.toContain(secret);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=kafkajs removes the messaging spans and the record headers, nothing else', async () => {
    const { records, consumed, producerSpans, consumerSpans } = await runBoth(ext, 'each-message', 'off', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'kafkajs' });
    const tree = spanTree([...producerSpans, ...consumerSpans]);
    expect(
      [...producerSpans, ...consumerSpans].filter((s) => s.scope.name === KAFKA_SCOPE),
      tree,
    ).toEqual([]);
    // The checkout request is still traced, but its records carry no context...
    const server = one(producerSpans, 'POST /checkout');
    expect(producerSpans).toEqual([server]);
    for (const r of records) expect(r.headers).toEqual([]);
    for (const m of consumed) expect(m.traceparent).toBeNull();
    // ...so each worker HTTP call is still traced, as the root of its own unrelated trace.
    const calls = byName(consumerSpans, /^GET\b/);
    expect(consumerSpans).toEqual(calls);
    expect(calls).toHaveLength(ALL_MESSAGES);
    for (const c of calls) {
      expect(c.kind).toBe('CLIENT');
      expect(c.parentSpanId).toBe('');
      expect(c.traceId).not.toBe(server.traceId);
    }
    expect(new Set(calls.map((c) => c.traceId)).size).toBe(ALL_MESSAGES);
  });
});

describe.each(VARIANTS)('kafkajs: upstream messaging metrics on the agent meter (%s)', (ext) => {
  it('records sent and processed counted once per message by topic, with the conventions units; broker requests as client operations', async () => {
    await runBoth(ext, 'each-message', 'metrics', {
      ...METRICS_ON,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    });
    const of = (service: string) => rx.metrics().filter((p) => p.resource['service.name'] === service && p.scope === KAFKA_SCOPE);
    const checkout = of(`checkout-metrics-${ext}`);
    const worker = of(`worker-metrics-${ext}`);
    expect(shapeOf(checkout)).toEqual({
      'messaging.client.operation.duration': 'histogram s delta semconv-buckets',
      'messaging.client.sent.messages': 'sum {message} delta monotonic=true',
    });
    expect(shapeOf(worker)).toEqual({
      'messaging.client.operation.duration': 'histogram s delta semconv-buckets',
      'messaging.process.duration': 'histogram s delta semconv-buckets',
      'messaging.client.consumed.messages': 'sum {message} delta monotonic=true',
    });
    const keys = ['messaging.system', 'messaging.operation.name', 'messaging.destination.name', 'error.type'];
    expect(tally(checkout, 'messaging.client.sent.messages', keys)).toEqual({ 'kafka send orders -': 3, 'kafka send audit -': 2 });
    expect(tally(worker, 'messaging.process.duration', keys)).toEqual({ 'kafka process orders -': 3, 'kafka process audit -': 2 });
    expect(tally(worker, 'messaging.client.consumed.messages', keys)).toEqual({ 'kafka process orders -': 3, 'kafka process audit -': 2 });
    // Upstream's client operations are the broker protocol's requests (Produce, Fetch, Metadata, ...), named by API, without a destination.
    const produce = tally(checkout, 'messaging.client.operation.duration', ['messaging.operation.name', 'messaging.destination.name']);
    expect(produce['Produce -']).toBeGreaterThanOrEqual(1);
    expect(Object.keys(tally(worker, 'messaging.client.operation.duration', ['messaging.operation.name']))).toContain('Fetch');
    for (const p of [...checkout, ...worker].filter((q) => q.name === 'messaging.client.operation.duration')) {
      expect(p.attributes).toMatchObject({ 'messaging.system': 'kafka', 'server.address': '127.0.0.1' });
      expect(typeof p.attributes['server.port']).toBe('number');
    }
  });
});
