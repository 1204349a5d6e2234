/**
 * MQTT.js against the machine's Mosquitto, two processes: a web app that
 * publishes (inside an HTTP request, QoS 1, and from a background job with
 * publishAsync, QoS 0) and a worker with a 'message' listener. With MQTT 5 the
 * worker's CONSUMER spans continue the publisher's traces through the user
 * properties; with MQTT 3.1.1 there is nowhere to carry the context, and the
 * spans are still recorded on both sides. Then the messaging metrics, exact
 * while traces are sampled at 10% (a throwing 'message' listener's error.type:
 * unsampled.unit.test.ts, since it takes MQTT.js's connection down with it).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, childrenOf, one, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, startFixture, VARIANTS } from '../harness/fixture';
import { requireServer, SERVERS } from '../harness/servers';
import { METRICS_ON, shapeOf, tally } from '../harness/messaging-metrics';

const HAVE_MQTT = await requireServer('mosquitto');
/** Credentials in the URL (Mosquitto allows anonymous and ignores them); no span may show them. */
const MQTT_URL = 'mqtt://bob:url-secret-pw@127.0.0.1:1883';
const bodySize = (n: number): number => Buffer.byteLength(JSON.stringify({ order: n, card: '4111-1111-SECRET-BODY' }));

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

async function runPair(ext: string, version: '5' | '4', env: Record<string, string> = {}) {
  const base = `otel-agent-test/${randomUUID().slice(0, 8)}`;
  const tag = `${version}-${ext}-${randomUUID().slice(0, 4)}`;
  const common = { endpoint: rx.url, timeoutMs: 30_000 };
  const sub = startFixture({
    ...common,
    fixture: `messaging/mqtt-subscriber.${ext}`,
    args: [version, base, '2'],
    env: { OTEL_SERVICE_NAME: `mqtt-sub-${tag}`, OTEL_BSP_SCHEDULE_DELAY: '60000', MQTT_URL, ...env },
  });
  await sub.ready;
  const pub = await runFixture({
    ...common,
    fixture: `messaging/mqtt-publisher.${ext}`,
    args: [version, base],
    env: { OTEL_SERVICE_NAME: `mqtt-pub-${tag}`, OTEL_BSP_SCHEDULE_DELAY: '60000', MQTT_URL, ...env },
  });
  expect(pub.code, pub.stderr).toBe(0);
  const res = await sub.result;
  expect(res.code, res.stdout + res.stderr).toBe(0);
  const received = new Map<string, Record<string, unknown>>();
  for (const line of res.stdout.split('\n')) {
    const m = /^GOT (\S+) (.*)$/.exec(line);
    if (m) received.set(m[1]!, JSON.parse(m[2]!) as Record<string, unknown>);
  }
  const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);
  return { base, pubSpans: of(`mqtt-pub-${tag}`), subSpans: of(`mqtt-sub-${tag}`), received };
}

const consumerFor = (spans: RecvSpan[], topic: string): RecvSpan => {
  const found = spans.filter((s) => s.kind === 'CONSUMER' && s.attributes['messaging.destination.name'] === topic);
  expect(found, `one CONSUMER span for ${topic}`).toHaveLength(1);
  return found[0]!;
};

describe.skipIf(!HAVE_MQTT).each(VARIANTS)('mqtt (%s)', (ext) => {
  it.each(['5', '4'] as const)('MQTT version %s: PRODUCER spans in the app, CONSUMER spans in the worker', async (version) => {
    const { base, pubSpans, subSpans, received } = await runPair(ext, version);
    const server = one(
      pubSpans.filter((s) => s.kind === 'SERVER'),
      /^POST/,
    );
    const created = one(pubSpans, `publish ${base}/created`);
    expect(created.kind).toBe('PRODUCER');
    expect(created.parentSpanId).toBe(server.spanId);
    expect(created.attributes).toMatchObject({
      'messaging.system': 'mqtt',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': `${base}/created`,
      'messaging.message.body.size': bodySize(1),
      'server.address': SERVERS.mosquitto.host,
      'server.port': SERVERS.mosquitto.port,
    });
    const background = one(pubSpans, `publish ${base}/background`);
    expect(background.parentSpanId).toBe('');
    expect(background.attributes['messaging.message.body.size']).toBe(bodySize(2));

    const v5 = version === '5';
    // MQTT 5: the user properties carry the PRODUCER span's context, beside the app's own property.
    // Traces the agent starts carry the random trace-id flag (W3C Level 2): sampled + random is 03.
    expect(received.get(`${base}/created`)).toEqual(v5 ? { 'x-app': 'shop', traceparent: `00-${created.traceId}-${created.spanId}-03` } : {});
    expect(received.get(`${base}/background`)).toEqual(v5 ? { traceparent: `00-${background.traceId}-${background.spanId}-03` } : {});

    for (const [topic, producer, n] of [
      [`${base}/created`, created, 1],
      [`${base}/background`, background, 2],
    ] as const) {
      const c = consumerFor(subSpans, topic);
      expect(c.name).toBe(`process ${topic}`);
      expect(c.attributes).toMatchObject({
        'messaging.system': 'mqtt',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.message.body.size': bodySize(n),
        'server.address': SERVERS.mosquitto.host,
      });
      if (v5) {
        expect(c.traceId).toBe(producer.traceId);
        expect(c.parentSpanId).toBe(producer.spanId);
      } else {
        // 3.1.1: no headers, so the worker's span starts a trace of its own.
        expect(c.traceId).not.toBe(producer.traceId);
        expect(c.parentSpanId).toBe('');
      }
      expect(childrenOf(subSpans, c).map((s) => s.name)).toEqual(['fs readFileSync']);
    }
    for (const s of [...pubSpans, ...subSpans]) {
      const text = JSON.stringify([s.name, s.attributes, s.events]);
      expect(text, s.name).not.toContain('SECRET-BODY');
      expect(text, s.name).not.toContain('url-secret-pw');
      expect(text, s.name).not.toContain('bob');
    }
  });
});

describe.skipIf(!HAVE_MQTT)('mqtt: switches', () => {
  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=mqtt removes exactly the MQTT spans and the context in the user properties', async () => {
    const run = await runPair('mjs', '5', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'mqtt' });
    expect(run.pubSpans.map((s) => s.kind).sort()).toEqual(['CLIENT', 'SERVER']);
    expect(run.subSpans).toEqual([]);
    expect(run.received.get(`${run.base}/created`)).toEqual({ 'x-app': 'shop' });
  });
});

describe.skipIf(!HAVE_MQTT).each(VARIANTS)('mqtt: messaging metrics, traces sampled at 10 percent (%s)', (ext) => {
  it('every publish and received message is counted once; wildcard subscriptions count under their filter, shared ones with their group', async () => {
    const base = `otel-agent-test/${randomUUID().slice(0, 8)}`;
    const service = `mqtt-metrics-${ext}-${randomUUID().slice(0, 4)}`;
    const n = 20;
    const r = await runFixture({
      fixture: `messaging/mqtt-metrics.${ext}`,
      endpoint: rx.url,
      timeoutMs: 30_000,
      args: [base, String(n)],
      env: { OTEL_SERVICE_NAME: service, MQTT_URL, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1', ...METRICS_ON },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`DONE got=${n + n / 2 + n / 4}`);
    const points = rx.metrics().filter((p) => p.resource['service.name'] === service);
    expect(shapeOf(points)).toEqual({
      'messaging.client.operation.duration': 'histogram s delta semconv-buckets',
      'messaging.process.duration': 'histogram s delta semconv-buckets',
      'messaging.client.sent.messages': 'sum {message} delta monotonic=true',
      'messaging.client.consumed.messages': 'sum {message} delta monotonic=true',
    });
    const send = ['messaging.operation.name', 'messaging.operation.type', 'messaging.destination.name', 'error.type'];
    const sent = {
      [`${base}/orders`]: n,
      [`${base}/devices/d0/telemetry`]: n / 4,
      [`${base}/devices/d1/telemetry`]: n / 4,
      [`${base}/jobs`]: n / 4,
    };
    expect(tally(points, 'messaging.client.operation.duration', send)).toEqual(
      Object.fromEntries(Object.entries(sent).map(([d, c]) => [`publish send ${d} -`, c])),
    );
    expect(tally(points, 'messaging.client.sent.messages', send)).toEqual(Object.fromEntries(Object.entries(sent).map(([d, c]) => [`publish - ${d} -`, c])));
    const proc = ['messaging.operation.type', 'messaging.destination.name', 'messaging.destination.template', 'messaging.consumer.group.name', 'error.type'];
    const processed = {
      [`process ${base}/orders - - -`]: n,
      [`process - ${base}/devices/+/telemetry - -`]: n / 2,
      [`process ${base}/jobs - workers -`]: n / 4,
    };
    expect(tally(points, 'messaging.process.duration', proc)).toEqual(processed);
    expect(tally(points, 'messaging.client.consumed.messages', proc)).toEqual(
      Object.fromEntries(Object.entries(processed).map(([k, c]) => [k.replace(/^process /, '- '), c])),
    );
    for (const p of points.filter((q) => q.name.startsWith('messaging.'))) {
      expect(p.attributes, p.name).toMatchObject({
        'messaging.system': 'mqtt',
        'server.address': SERVERS.mosquitto.host,
        'server.port': SERVERS.mosquitto.port,
      });
      expect(JSON.stringify(p.attributes), p.name).not.toContain('bob');
    }
    // About 10% of the 35 publishes started a sampled trace (25 is far out in the tail).
    const producers = rx.spans().filter((s) => s.resource['service.name'] === service && s.kind === 'PRODUCER');
    expect(producers.length).toBeLessThan(25);
  });
});
