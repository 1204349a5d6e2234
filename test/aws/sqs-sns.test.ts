// AWS SDK v3 SQS and SNS clients against the in-repo stand-in (test/servers/sqs-sns.ts), traced
// by the agent with no code in the apps: a producer process sends to SQS and publishes on SNS,
// a second process receives and handles the messages; the trace crosses the two through the
// message attributes (and through the SNS JSON envelope). Then the SQS messaging metrics.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan, byName, one, spanTree } from '../harness/otlp-receiver';
import { startFixture, runFixture, VARIANTS } from '../harness/fixture';
import { startSqsSns, type SqsSnsServer } from '../servers/sqs-sns';
import { METRICS_ON, shapeOf, tally } from '../harness/messaging-metrics';

const AWS_SCOPE = '@opentelemetry/instrumentation-aws-sdk';

let rx: OtlpReceiver;
let srv: SqsSnsServer;
beforeAll(async () => {
  [rx, srv] = await Promise.all([startOtlpReceiver(), startSqsSns()]);
});
afterAll(async () => {
  await Promise.all([rx?.close(), srv?.close()]);
});

/** Spans of one service, each once (the exit flush may re-send a batch, see src/processor.ts). */
function spansOf(service: string): RecvSpan[] {
  const seen = new Set<string>();
  return rx.spans().filter((s) => {
    const id = `${s.traceId}/${s.spanId}`;
    if (s.resource['service.name'] !== service || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

const dump = (spans: RecvSpan[]): string => JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

interface Setup {
  env: Record<string, string>;
  queues: { orders: string; raw: string; envelope: string };
}

/** Queues and a topic with a raw and an enveloped SQS subscription, made by the (untraced) test. */
async function setup(tag: string): Promise<Setup> {
  const cfg = { endpoint: srv.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'STANDIN', secretAccessKey: 'STANDIN' } };
  const sqs = new SQSClient(cfg);
  const sns = new SNSClient(cfg);
  const queues = { orders: `orders-${tag}`, raw: `news-raw-${tag}`, envelope: `news-env-${tag}` };
  const urls: Record<string, string> = {};
  for (const [k, name] of Object.entries(queues)) urls[k] = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `news-${tag}` }));
  await sns.send(
    new SubscribeCommand({
      TopicArn,
      Protocol: 'sqs',
      Endpoint: `arn:aws:sqs:us-east-1:000000000000:${queues.raw}`,
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: `arn:aws:sqs:us-east-1:000000000000:${queues.envelope}` }));
  sqs.destroy();
  sns.destroy();
  return { queues, env: { ...srv.env(), QUEUE_URL: urls.orders!, RAW_URL: urls.raw!, ENVELOPE_URL: urls.envelope!, TOPIC_ARN: TopicArn! } };
}

interface Produced {
  single: string;
  batch: string[];
  failed: number;
  crowded: string[];
  published: string;
  mineUnchanged: boolean;
}
interface Seen {
  id: string;
  body: string;
  attributes: Record<string, { DataType: string; StringValue?: string }> | null;
}
type Consumed = Record<'orders' | 'raw' | 'envelope', Seen[]>;

async function produce(ext: string, service: string, s: Setup, secret: string, env: Record<string, string> = {}) {
  const f = startFixture({
    fixture: `sqs/producer.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { ...s.env, OTEL_SERVICE_NAME: service, SECRET_BODY: secret, ...env },
  });
  const port = (await f.ready).split(' ')[1];
  const res = await fetch(`http://127.0.0.1:${port}/orders`, { method: 'POST' });
  const text = await res.text();
  const r = await f.result;
  expect(res.status, `${text}\n${r.stderr}`).toBe(200);
  expect(r.code, r.stderr).toBe(0);
  return { app: JSON.parse(text) as Produced, spans: spansOf(service), stderr: r.stderr };
}

async function consume(ext: string, service: string, s: Setup, env: Record<string, string> = {}) {
  const r = await runFixture({
    fixture: `sqs/consumer.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { ...s.env, OTEL_SERVICE_NAME: service, ...env },
  });
  expect(r.code, r.stderr).toBe(0);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  expect(line, r.stdout + r.stderr).toBeDefined();
  return { app: JSON.parse(line!.slice('RESULT '.length)) as Consumed, spans: spansOf(service), stderr: r.stderr };
}

const tp = (s: RecvSpan): string => `00-${s.traceId}-${s.spanId}-03`; // sampled, random trace id (the agent starts these traces)
const aws = (spans: RecvSpan[]): RecvSpan[] => spans.filter((s) => s.scope.name === AWS_SCOPE);

describe.each(VARIANTS)('SQS and SNS (%s)', (ext) => {
  it('links a producer process to a consumer process through SQS and SNS (raw and enveloped)', async () => {
    const s = await setup(ext);
    const from = srv.requests.length;
    const secret = `TOPSECRET-${randomBytes(8).toString('hex')}`;
    const p = await produce(ext, `sqs-producer-${ext}`, s, secret);
    const ptree = spanTree(p.spans);
    expect(p.app.failed).toBe(0);
    // The app's own attributes object was not written into.
    expect(p.app.mineUnchanged).toBe(true);

    // Producer: one PRODUCER span per send/publish, under the request; no HTTP CLIENT span.
    const server = one(
      p.spans.filter((x) => x.kind === 'SERVER'),
      'POST /orders',
    );
    const sends = byName(p.spans, `send ${s.queues.orders}`);
    const publish = one(p.spans, `send news-${ext}`);
    expect(sends, ptree).toHaveLength(4);
    expect(aws(p.spans), ptree).toHaveLength(5);
    expect(p.spans, ptree).toHaveLength(6);
    for (const x of [...sends, publish]) {
      expect(x.kind).toBe('PRODUCER');
      expect(x.parentSpanId).toBe(server.spanId);
      expect(x.attributes).toMatchObject({
        'messaging.operation.name': 'send',
        'messaging.operation.type': 'send',
        'rpc.system': 'aws-api',
        'cloud.region': 'us-east-1',
      });
    }
    const [single, batch, crowded0, crowded1] = sends as [RecvSpan, RecvSpan, RecvSpan, RecvSpan];
    for (const x of sends)
      expect(x.attributes).toMatchObject({ 'messaging.system': 'aws_sqs', 'messaging.destination.name': s.queues.orders, 'rpc.service': 'SQS' });
    expect(single.attributes).toMatchObject({ 'rpc.method': 'SendMessage', 'messaging.message.id': p.app.single });
    expect(batch.attributes).toMatchObject({ 'rpc.method': 'SendMessageBatch', 'messaging.batch.message_count': 2 });
    expect(batch.attributes['messaging.message.id']).toBeUndefined();
    expect([crowded0, crowded1].map((x) => x.attributes['messaging.message.id'])).toEqual(p.app.crowded);
    expect(publish.attributes).toMatchObject({
      'rpc.service': 'SNS',
      'rpc.method': 'Publish',
      'messaging.system': 'aws.sns',
      'messaging.destination.name': `news-${ext}`,
      'aws.sns.topic.arn': s.env.TOPIC_ARN,
      'messaging.message.id': p.app.published,
    });
    // The 10-attribute limit: said once, for two such messages.
    expect(p.stderr.match(/aws-sdk: a message with 10 message attributes has no room for traceparent/g)).toHaveLength(1);

    // What SQS stored: the app's attributes untouched, plus the context of the send span; the
    // full messages exactly the app's ten. No trace context in any HTTP header to AWS.
    const stored = srv.messages(s.queues.orders);
    expect(stored.map((m) => m.MessageId)).toEqual([p.app.single, ...p.app.batch, ...p.app.crowded]);
    expect(stored[0]!.MessageAttributes).toEqual({
      tenant: { DataType: 'String', StringValue: 'acme' },
      priority: { DataType: 'Number', StringValue: '5' },
      traceparent: { DataType: 'String', StringValue: tp(single) },
    });
    expect(stored[1]!.MessageAttributes).toEqual({
      tenant: { DataType: 'String', StringValue: 'globex' },
      traceparent: { DataType: 'String', StringValue: tp(batch) },
    });
    expect(stored[2]!.MessageAttributes).toEqual({ traceparent: { DataType: 'String', StringValue: tp(batch) } });
    for (const m of stored.slice(3)) expect(Object.keys(m.MessageAttributes)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
    expect(srv.messages(s.queues.raw)[0]!.MessageAttributes).toEqual({
      kind: { DataType: 'String', StringValue: 'launch' },
      traceparent: { DataType: 'String', StringValue: tp(publish) },
    });
    for (const r of srv.requests.slice(from)) expect(r.headers.traceparent, r.action).toBeUndefined();

    // Consumer, another process.
    const c = await consume(ext, `sqs-consumer-${ext}`, s);
    const ctree = spanTree(c.spans);
    expect(c.stderr).not.toMatch(/warn|error/i);
    // The app sees the attributes it asked for and nothing the agent asked SQS for...
    expect(c.app.orders.map((m) => m.attributes)).toEqual([
      { tenant: { DataType: 'String', StringValue: 'acme' } },
      { tenant: { DataType: 'String', StringValue: 'globex' } },
      null,
      null,
      null,
    ]);
    expect(c.app.orders.map((m) => m.body)).toEqual(['single', 'b1', 'b2', 'full0', 'full1'].map((b) => `${secret} ${b}`));
    // ...unless it asked for All, which includes the context.
    expect(c.app.raw[0]!.attributes).toEqual({
      kind: { DataType: 'String', StringValue: 'launch' },
      traceparent: { DataType: 'String', StringValue: tp(publish) },
    });
    expect(JSON.parse(c.app.envelope[0]!.body)).toMatchObject({ Type: 'Notification', Message: `${secret} news` });

    // receive: a CLIENT span per ReceiveMessage, linked to each received message's producer.
    const receive = one(c.spans, `receive ${s.queues.orders}`);
    expect(receive.kind).toBe('CLIENT');
    expect(receive.attributes).toMatchObject({
      'messaging.system': 'aws_sqs',
      'messaging.destination.name': s.queues.orders,
      'messaging.operation.name': 'receive',
      'messaging.operation.type': 'receive',
      'messaging.batch.message_count': 5,
    });
    expect(receive.links.map((l) => [l.traceId, l.spanId, l.attributes['messaging.message.id']])).toEqual([
      [server.traceId, single.spanId, p.app.single],
      [server.traceId, batch.spanId, p.app.batch[0]],
      [server.traceId, batch.spanId, p.app.batch[1]],
    ]);
    // process: a CONSUMER span per message, child of its producer (in the producer's trace),
    // with the app's work on that message (the DeleteMessage) under it.
    const processed = byName(c.spans, `process ${s.queues.orders}`);
    expect(processed, ctree).toHaveLength(5);
    const byId = new Map(processed.map((x) => [x.attributes['messaging.message.id'], x]));
    const parentOf: Array<[string, RecvSpan | undefined]> = [
      [p.app.single, single],
      [p.app.batch[0]!, batch],
      [p.app.batch[1]!, batch],
      [p.app.crowded[0]!, undefined],
      [p.app.crowded[1]!, undefined],
    ];
    for (const [id, producer] of parentOf) {
      const x = byId.get(id)!;
      expect(x, ctree).toBeDefined();
      expect(x.kind).toBe('CONSUMER');
      expect(x.attributes).toMatchObject({
        'messaging.system': 'aws_sqs',
        'messaging.operation.type': 'process',
        'messaging.destination.name': s.queues.orders,
      });
      if (producer) {
        expect(x.traceId).toBe(producer.traceId);
        expect(x.parentSpanId).toBe(producer.spanId);
      } else {
        // No context travelled (no room): the processing starts its own trace.
        expect(x.parentSpanId).toBe('');
        expect(x.traceId).not.toBe(server.traceId);
      }
      const del = c.spans.filter((d) => d.parentSpanId === x.spanId);
      expect(
        del.map((d) => [d.name, d.kind]),
        ctree,
      ).toEqual([['SQS.DeleteMessage', 'CLIENT']]);
      expect(x.endNs).toBeGreaterThanOrEqual(del[0]!.endNs);
    }
    // SNS: both subscriptions' messages are processed as children of the Publish span.
    for (const q of [s.queues.raw, s.queues.envelope]) {
      expect(one(c.spans, `receive ${q}`).links.map((l) => l.spanId)).toEqual([publish.spanId]);
      const x = one(c.spans, `process ${q}`);
      expect([x.traceId, x.parentSpanId]).toEqual([publish.traceId, publish.spanId]);
    }
    // No HTTP CLIENT span under any AWS call, no fs or other spans.
    expect(c.spans.filter((x) => x.scope.name !== AWS_SCOPE)).toEqual([]);

    for (const r of srv.requests.slice(from)) expect(r.headers.traceparent, r.action).toBeUndefined();
    // Bodies never reach the exporter.
    const all = dump([...p.spans, ...c.spans]);
    expect(all).not.toContain(secret);
    expect(all).not.toContain('launch');
    expect(all).not.toContain('STANDIN');
  });

  it('an unsampled producer costs the consumer no process span and no span under it', async () => {
    const s = await setup(`${ext}-off`);
    const p = await produce(ext, `sqs-unsampled-producer-${ext}`, s, 'quiet', { OTEL_TRACES_SAMPLER: 'always_off' });
    expect(p.spans).toEqual([]);
    expect(srv.messages(s.queues.orders)[0]!.MessageAttributes.traceparent?.StringValue).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-02$/); // not sampled, random trace id
    const c = await consume(ext, `sqs-unsampled-consumer-${ext}`, s);
    const tree = spanTree(c.spans);
    // The three unsampled messages: no process span, and their DeleteMessage inherits the
    // producer's decision. The two without context get their own (sampled) traces.
    const processed = byName(c.spans, `process ${s.queues.orders}`);
    expect(
      processed.map((x) => x.attributes['messaging.message.id']),
      tree,
    ).toEqual(p.app.crowded);
    expect(byName(c.spans, 'SQS.DeleteMessage'), tree).toHaveLength(2);
    expect(byName(c.spans, /^process news/), tree).toEqual([]);
    expect(byName(c.spans, /^receive /), tree).toHaveLength(3);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=aws-sdk: no AWS spans, plain HTTP CLIENT spans, the app attributes as sent', async () => {
    const s = await setup(`${ext}-disabled`);
    const p = await produce(ext, `sqs-disabled-${ext}`, s, 'quiet', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'aws-sdk' });
    const tree = spanTree(p.spans);
    expect(p.stderr).not.toMatch(/warn|error/i);
    expect(aws(p.spans), tree).toEqual([]);
    const http = p.spans.filter((x) => x.kind === 'CLIENT');
    expect(
      http.map((x) => [x.scope.name, x.attributes['http.request.method']]),
      tree,
    ).toEqual(Array(5).fill(['@x/otel-agent/http', 'POST']));
    expect(p.spans).toHaveLength(6);
    const stored = srv.messages(s.queues.orders);
    expect(stored[0]!.MessageAttributes).toEqual({ tenant: { DataType: 'String', StringValue: 'acme' }, priority: { DataType: 'Number', StringValue: '5' } });
    expect(stored[2]!.MessageAttributes).toEqual({});
    expect(srv.messages(s.queues.raw)[0]!.MessageAttributes).toEqual({ kind: { DataType: 'String', StringValue: 'launch' } });
  });
});

describe.each(VARIANTS)('SQS: messaging metrics, traces sampled at 10 percent (%s)', (ext) => {
  it('received messages are counted once by queue; every handler callback has a process duration, a throwing one its error.type', async () => {
    const s = await setup(`${ext}-metrics`);
    await produce(ext, `sqs-metrics-producer-${ext}`, s, 'quiet', { OTEL_TRACES_SAMPLER: 'always_off' });
    const service = `sqs-metrics-consumer-${ext}`;
    const c = await consume(ext, service, s, {
      REJECT_ENVELOPE: '1',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      ...METRICS_ON,
    });
    expect((c.app as unknown as { envelopeError: string }).envelopeError).toBe('TypeError');
    const points = rx.metrics().filter((p) => p.resource['service.name'] === service);
    expect(shapeOf(points)).toEqual({
      'messaging.process.duration': 'histogram s delta semconv-buckets',
      'messaging.client.consumed.messages': 'sum {message} delta monotonic=true',
    });
    const keys = ['messaging.system', 'messaging.operation.name', 'messaging.destination.name', 'error.type'];
    // Pull-based: counted by the receive, not again by the processing.
    expect(tally(points, 'messaging.client.consumed.messages', keys)).toEqual({
      [`aws_sqs receive ${s.queues.orders} -`]: 5,
      [`aws_sqs receive ${s.queues.raw} -`]: 1,
      [`aws_sqs receive ${s.queues.envelope} -`]: 1,
    });
    expect(tally(points, 'messaging.process.duration', keys)).toEqual({
      [`aws_sqs process ${s.queues.orders} -`]: 5,
      [`aws_sqs process ${s.queues.raw} -`]: 1,
      [`aws_sqs process ${s.queues.envelope} TypeError`]: 1,
    });
    expect(points.filter((p) => p.name === 'messaging.process.duration').every((p) => p.attributes['messaging.operation.type'] === 'process')).toBe(true);
  });
});
