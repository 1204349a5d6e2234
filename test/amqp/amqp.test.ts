/**
 * amqplib against the machine's RabbitMQ, with two processes like a real
 * deployment: a web app that publishes (inside a request, and from a
 * background job), and a worker that consumes. The worker's CONSUMER span must
 * continue the publisher's trace across the process boundary, through the
 * message headers. Then the messaging metrics the agent's hooks add, exact
 * while traces are sampled at 10%.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, childrenOf, one, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, startFixture, VARIANTS, type FixtureResult } from '../harness/fixture';
import { requireServer, SERVERS } from '../harness/servers';
import { METRICS_ON, shapeOf, tally } from '../harness/messaging-metrics';

const HAVE_RABBIT = await requireServer('rabbitmq');
const URL = `amqp://guest:guest@${SERVERS.rabbitmq.host}:${SERVERS.rabbitmq.port}`;
/** What the fixtures put in every message body; no span may carry it. */
const BODY_SECRET = 'SECRET-BODY';
const bodySize = (n: number): number => Buffer.byteLength(JSON.stringify({ order: n, card: '4111-1111-SECRET-BODY' }));

let rx: OtlpReceiver;
const declared: string[] = [];

beforeAll(async () => {
  rx = await startOtlpReceiver();
});

afterAll(async () => {
  await rx?.close();
  if (!HAVE_RABBIT || declared.length === 0) return;
  // The consumer deletes its queue and exchange; this only catches a run that died half way.
  interface Channel {
    deleteQueue(q: string): Promise<unknown>;
    deleteExchange(x: string): Promise<unknown>;
  }
  const amqp = createRequire(import.meta.url)('amqplib') as {
    connect(url: string, o: object): Promise<{ createChannel(): Promise<Channel>; close(): Promise<void> }>;
  };
  const conn = await amqp.connect(URL, { timeout: 2000 });
  const ch = await conn.createChannel();
  for (const name of declared) {
    await ch.deleteQueue(name);
    await ch.deleteExchange(`${name}-x`);
  }
  await conn.close();
});

interface PairRun {
  queue: string;
  exchange: string;
  pub: FixtureResult;
  con: FixtureResult;
  pubSpans: RecvSpan[];
  conSpans: RecvSpan[];
  /** messageId -> headers the consumer received */
  received: Map<string, Record<string, unknown>>;
}

/**
 * Starts the consumer, waits until it consumes, runs the publisher, waits for the consumer to finish.
 * Each process delivers its spans in one export at exit (long batch delay), so what the
 * receiver holds does not depend on how exports and exits interleave.
 */
async function runPair(ext: string, api: string, tag: string, env: Record<string, string> = {}): Promise<PairRun> {
  const queue = `otel-agent-test-${randomUUID()}`;
  const exchange = `${queue}-x`;
  declared.push(queue);
  const pubService = `amqp-pub-${tag}-${ext}-${api}`;
  const conService = `amqp-con-${tag}-${ext}-${api}`;
  const consumer = startFixture({
    fixture: `amqp/consumer.${ext}`,
    args: [api, queue, exchange, '2'],
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: conService, OTEL_BSP_SCHEDULE_DELAY: '60000', ...env },
    timeoutMs: 30_000,
  });
  await consumer.ready;
  const pub = await runFixture({
    fixture: `amqp/publisher.${ext}`,
    args: [api, queue, exchange],
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: pubService, OTEL_BSP_SCHEDULE_DELAY: '60000', ...env },
    timeoutMs: 30_000,
  });
  expect(pub.code, pub.stderr).toBe(0);
  expect(pub.stdout).toContain('PUBLISHED 2');
  const con = await consumer.result;
  expect(con.code, con.stdout + con.stderr).toBe(0);
  const received = new Map<string, Record<string, unknown>>();
  for (const line of con.stdout.split('\n')) {
    const m = /^GOT (\S+) (.*)$/.exec(line);
    if (m) received.set(m[1]!, JSON.parse(m[2]!) as Record<string, unknown>);
  }
  expect([...received.keys()].sort()).toEqual(['order-1', 'order-2']);
  const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);
  return { queue, exchange, pub, con, pubSpans: of(pubService), conSpans: of(conService), received };
}

const byMessageId = (spans: RecvSpan[], id: string): RecvSpan => {
  const found = spans.filter((s) => s.kind === 'CONSUMER' && s.attributes['messaging.message.id'] === id);
  expect(found, `one CONSUMER span for ${id}`).toHaveLength(1);
  return found[0]!;
};

describe.skipIf(!HAVE_RABBIT).each(VARIANTS)('amqplib (%s)', (ext) => {
  it.each(['promise', 'callback'])('%s API: PRODUCER spans in the web app, CONSUMER spans in the worker, one trace per message', async (api) => {
    const run = await runPair(ext, api, 'on');
    const { pubSpans, conSpans, queue, exchange } = run;

    // Publisher: POST (client) -> POST /orders/:id (server) -> publish <exchange> (producer).
    const server = one(
      pubSpans.filter((s) => s.kind === 'SERVER'),
      'POST /orders/:id',
    );
    const client = one(
      pubSpans.filter((s) => s.kind === 'CLIENT'),
      /^POST/,
    );
    expect(server.parentSpanId).toBe(client.spanId);
    const toExchange = one(pubSpans, `publish ${exchange}`);
    expect(toExchange.kind).toBe('PRODUCER');
    expect(toExchange.traceId).toBe(server.traceId);
    expect(toExchange.parentSpanId).toBe(server.spanId);
    expect(toExchange.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': exchange,
      'messaging.rabbitmq.destination.routing_key': 'orders.created',
      'messaging.message.id': 'order-1',
      'messaging.message.conversation_id': 'conv-1',
      'messaging.message.body.size': bodySize(1),
      'server.address': SERVERS.rabbitmq.host,
      'server.port': SERVERS.rabbitmq.port,
      // upstream's older names stay, for dashboards built on them
      'messaging.destination': exchange,
      'messaging.rabbitmq.routing_key': 'orders.created',
      'messaging.url': `amqp://${SERVERS.rabbitmq.host}:${SERVERS.rabbitmq.port}`,
    });

    // The background publish has no request around it: a root PRODUCER span, default exchange.
    const toQueue = one(pubSpans, 'publish <default>');
    expect(toQueue.kind).toBe('PRODUCER');
    expect(toQueue.parentSpanId).toBe('');
    expect(toQueue.attributes).toMatchObject({
      'messaging.destination.name': '',
      'messaging.rabbitmq.destination.routing_key': queue,
      'messaging.message.id': 'order-2',
      'messaging.operation.type': 'send',
    });
    expect(pubSpans.filter((s) => s.kind === 'PRODUCER')).toHaveLength(2);

    // The headers the worker received carry exactly the PRODUCER span's context.
    expect(run.received.get('order-1')).toEqual({ 'x-app': 'shop', traceparent: `00-${toExchange.traceId}-${toExchange.spanId}-03` }); // sampled, random trace id
    expect(run.received.get('order-2')).toEqual({ 'x-app': 'shop', traceparent: `00-${toQueue.traceId}-${toQueue.spanId}-03` }); // sampled, random trace id

    // Worker (another process): each CONSUMER span is the child of its message's PRODUCER span.
    for (const [id, producer, fromExchange, routingKey] of [
      ['order-1', toExchange, exchange, 'orders.created'],
      ['order-2', toQueue, '', queue],
    ] as const) {
      const consumer = byMessageId(conSpans, id);
      expect(consumer.name).toBe(`process ${queue}`);
      expect(consumer.traceId).toBe(producer.traceId);
      expect(consumer.parentSpanId).toBe(producer.spanId);
      expect(consumer.status.code).not.toBe('ERROR');
      expect(consumer.attributes).toMatchObject({
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.operation': 'process',
        'messaging.destination.name': fromExchange,
        'messaging.rabbitmq.destination.routing_key': routingKey,
        'messaging.message.body.size': bodySize(Number(id.slice(-1))),
        'server.address': SERVERS.rabbitmq.host,
        'server.port': SERVERS.rabbitmq.port,
      });
      expect(typeof consumer.attributes['messaging.rabbitmq.message.delivery_tag']).toBe('number');
      // The work the handler does for the message nests under it.
      const work = childrenOf(conSpans, consumer);
      expect(work.map((s) => s.name)).toEqual(['fs readFile']);
    }
    expect(conSpans.filter((s) => s.kind === 'CONSUMER')).toHaveLength(2);

    // Neither message bodies nor the connection's credentials appear anywhere.
    for (const s of [...pubSpans, ...conSpans]) {
      const text = JSON.stringify([s.name, s.attributes, s.events]);
      expect(text, s.name).not.toContain(BODY_SECRET);
      expect(text, s.name).not.toContain('guest');
    }
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=amqplib removes exactly the messaging spans; messages still flow', async () => {
    const run = await runPair(ext, 'promise', 'off', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'amqplib' });
    // The web app keeps its HTTP spans, nothing else.
    expect(run.pubSpans.map((s) => s.kind).sort()).toEqual(['CLIENT', 'SERVER']);
    expect(one(run.pubSpans, 'POST /orders/:id').kind).toBe('SERVER');
    // No context is injected, so the worker has no span to hang its work on (fs only traces inside a span).
    expect(run.conSpans).toEqual([]);
    expect(run.received.get('order-1')).toEqual({ 'x-app': 'shop' });
    expect(run.received.get('order-2')).toEqual({ 'x-app': 'shop' });
  });
});

describe.skipIf(!HAVE_RABBIT).each(VARIANTS)('amqplib: messaging metrics, traces sampled at 10 percent (%s)', (ext) => {
  it('every publish and delivery is counted once; a confirm channel has publish durations; a nack is error.type on the processing', async () => {
    const queue = `otel-agent-test-${randomUUID()}`;
    const exchange = `${queue}-x`;
    declared.push(queue);
    const service = `amqp-metrics-${ext}-${randomUUID().slice(0, 4)}`;
    const n = 20;
    const r = await runFixture({
      fixture: `amqp/metrics.${ext}`,
      args: [queue, exchange, String(n)],
      endpoint: rx.url,
      timeoutMs: 30_000,
      env: { OTEL_SERVICE_NAME: service, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1', ...METRICS_ON },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`DONE nacked=${n / 4}`);
    const points = rx.metrics().filter((p) => p.resource['service.name'] === service);
    expect(shapeOf(points)).toEqual({
      'messaging.client.operation.duration': 'histogram s delta semconv-buckets',
      'messaging.process.duration': 'histogram s delta semconv-buckets',
      'messaging.client.sent.messages': 'sum {message} delta monotonic=true',
      'messaging.client.consumed.messages': 'sum {message} delta monotonic=true',
    });
    const keys = ['messaging.system', 'messaging.operation.name', 'messaging.operation.type', 'messaging.destination.name', 'error.type'];
    // Only the confirm channel's publishes have an end to measure; the default exchange counts under the queue.
    expect(tally(points, 'messaging.client.operation.duration', keys)).toEqual({ [`rabbitmq publish send ${queue} -`]: n / 2 });
    expect(tally(points, 'messaging.client.sent.messages', keys)).toEqual({
      [`rabbitmq publish - ${exchange} -`]: n,
      [`rabbitmq publish - ${queue} -`]: n / 2,
    });
    expect(tally(points, 'messaging.process.duration', keys)).toEqual({
      [`rabbitmq process process ${exchange} -`]: n - n / 4,
      [`rabbitmq process process ${exchange} nack`]: n / 4,
      [`rabbitmq process process ${queue} -`]: n / 2,
    });
    expect(tally(points, 'messaging.client.consumed.messages', keys)).toEqual({
      [`rabbitmq process - ${exchange} -`]: n,
      [`rabbitmq process - ${queue} -`]: n / 2,
    });
    // About 10% of the 30 publishes were traced (20 is far out in the tail).
    expect(rx.spans().filter((s) => s.resource['service.name'] === service && s.kind === 'PRODUCER').length).toBeLessThan(20);
  });
});
