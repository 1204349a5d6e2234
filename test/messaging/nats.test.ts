/**
 * nats.js against the machine's NATS server (JetStream on), two processes like
 * a real deployment: a web app that publishes and makes a request inside an
 * HTTP request and publishes once more from a background job, and a worker
 * that subscribes. Each CONSUMER span must continue its message's trace across
 * the process boundary, through the message headers. Both client generations
 * (`nats` 2.x, `@nats-io/*` 3.x), CJS and ESM, callback and iterator
 * subscriptions, core NATS and JetStream. Then the messaging metrics, exact
 * while traces are sampled at 10%.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, childrenOf, one, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, startFixture, VARIANTS, type FixtureResult } from '../harness/fixture';
import { requireServer, SERVERS } from '../harness/servers';
import { METRICS_ON, attributeSets, shapeOf, tally } from '../harness/messaging-metrics';

const HAVE_NATS = await requireServer('nats');
const BODY_SECRET = 'SECRET-BODY';
/** The connection URL carries credentials (the server has no auth and ignores them); no span may show them. */
const NATS_URL = 'nats://alice:url-secret-pw@127.0.0.1:4222';
const bodySize = (n: number): number => Buffer.byteLength(JSON.stringify({ order: n, card: '4111-1111-SECRET-BODY' }));

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

interface PairRun {
  base: string;
  pub: FixtureResult;
  pubSpans: RecvSpan[];
  subSpans: RecvSpan[];
  /** subject -> headers the subscriber received */
  received: Map<string, Record<string, string>>;
}

async function runPair(ext: string, gen: string, api: string, env: Record<string, string> = {}): Promise<PairRun> {
  const base = `otel.${randomUUID().slice(0, 8)}`;
  const js = api.startsWith('js-');
  const tag = `${gen}-${api}-${ext}-${randomUUID().slice(0, 4)}`;
  const common = { endpoint: rx.url, timeoutMs: 30_000 };
  const sub = startFixture({
    ...common,
    fixture: `messaging/nats-subscriber.${ext}`,
    args: [gen, api, base, js ? '2' : '3'],
    env: { OTEL_SERVICE_NAME: `nats-sub-${tag}`, OTEL_BSP_SCHEDULE_DELAY: '60000', NATS_URL, ...env },
  });
  await sub.ready;
  const pub = await runFixture({
    ...common,
    fixture: `messaging/nats-publisher.${ext}`,
    args: [gen, js ? 'js' : 'core', base],
    env: { OTEL_SERVICE_NAME: `nats-pub-${tag}`, OTEL_BSP_SCHEDULE_DELAY: '60000', NATS_URL, ...env },
  });
  expect(pub.code, pub.stderr).toBe(0);
  expect(pub.stdout).toContain('PUBLISHED');
  const res = await sub.result;
  expect(res.code, res.stdout + res.stderr).toBe(0);
  const received = new Map<string, Record<string, string>>();
  for (const line of res.stdout.split('\n')) {
    const m = /^GOT (\S+) (.*)$/.exec(line);
    if (m) received.set(m[1]!, JSON.parse(m[2]!) as Record<string, string>);
  }
  const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);
  return { base, pub, pubSpans: of(`nats-pub-${tag}`), subSpans: of(`nats-sub-${tag}`), received };
}

// Traces the agent starts carry the random trace-id flag (W3C Level 2): sampled + random is 03.
const traceparent = (s: RecvSpan): string => `00-${s.traceId}-${s.spanId}-03`;

function consumerFor(spans: RecvSpan[], subject: string): RecvSpan {
  const found = spans.filter((s) => s.kind === 'CONSUMER' && s.attributes['messaging.destination.name'] === subject);
  expect(found, `one CONSUMER span for ${subject}`).toHaveLength(1);
  return found[0]!;
}

function noPayloads(spans: RecvSpan[]): void {
  for (const s of spans) {
    const text = JSON.stringify([s.name, s.attributes, s.events]);
    expect(text, s.name).not.toContain(BODY_SECRET);
    expect(text, s.name).not.toContain('url-secret-pw');
    expect(text, s.name).not.toContain('alice');
  }
}

const CASES = VARIANTS.flatMap((ext) => ['v2', 'v3'].map((gen) => [ext, gen] as const));

describe.skipIf(!HAVE_NATS).each(CASES)('nats (%s, %s)', (ext, gen) => {
  it.each(['callback', 'iterator'])('core NATS, %s subscription: PRODUCER and CLIENT spans in the app, CONSUMER spans in the worker', async (api) => {
    const { base, pubSpans, subSpans, received } = await runPair(ext, gen, api);
    const server = one(
      pubSpans.filter((s) => s.kind === 'SERVER'),
      /^POST/,
    );
    const server_ = { 'server.address': SERVERS.nats.host, 'server.port': SERVERS.nats.port };

    const created = one(pubSpans, `publish ${base}.created`);
    expect(created.kind).toBe('PRODUCER');
    expect(created.parentSpanId).toBe(server.spanId);
    expect(created.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': `${base}.created`,
      'messaging.message.body.size': bodySize(1),
      ...server_,
    });
    const request = one(pubSpans, `request ${base}.price`);
    expect(request.kind).toBe('CLIENT');
    expect(request.parentSpanId).toBe(server.spanId);
    expect(request.attributes).toMatchObject({
      'messaging.operation.name': 'request',
      'messaging.destination.name': `${base}.price`,
      'messaging.message.body.size': bodySize(2),
    });
    const background = one(pubSpans, `publish ${base}.background`);
    expect(background.parentSpanId).toBe('');
    // The request is one span: neither its inner publish nor the reply's inbox subscription shows up.
    expect(
      pubSpans
        .filter((s) => s.attributes['messaging.system'] === 'nats')
        .map((s) => s.name)
        .sort(),
    ).toEqual([`publish ${base}.background`, `publish ${base}.created`, `request ${base}-nobody.q`, `request ${base}.price`]);
    // A request nobody answers is an error on its CLIENT span; the app got the error as without the agent.
    const nobody = one(pubSpans, `request ${base}-nobody.q`);
    expect(nobody.parentSpanId).toBe('');
    expect(nobody.status.code).toBe('ERROR');
    expect(typeof nobody.attributes['error.type']).toBe('string');

    // The headers carry exactly the sending span's context, beside the app's own header.
    expect(received.get(`${base}.created`)).toEqual({ 'x-app': 'shop', traceparent: traceparent(created) });
    expect(received.get(`${base}.price`)).toEqual({ traceparent: traceparent(request) });
    expect(received.get(`${base}.background`)).toEqual({ traceparent: traceparent(background) });

    for (const [subject, parent] of [
      [`${base}.created`, created],
      [`${base}.price`, request],
      [`${base}.background`, background],
    ] as const) {
      const c = consumerFor(subSpans, subject);
      expect(c.name).toBe(`process ${base}.*`);
      expect(c.traceId).toBe(parent.traceId);
      expect(c.parentSpanId).toBe(parent.spanId);
      expect(c.attributes).toMatchObject({
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.template': `${base}.*`,
        ...server_,
      });
      expect(c.attributes['messaging.message.body.size']).toBe(
        subject.endsWith('price') ? bodySize(2) : subject.endsWith('created') ? bodySize(1) : bodySize(3),
      );
      // A callback runs inside its span; an iterator's loop body cannot (see docs/messaging.md).
      expect(childrenOf(subSpans, c).map((s) => s.name)).toEqual(api === 'callback' ? ['fs readFileSync'] : []);
    }
    expect(subSpans.filter((s) => s.kind === 'CONSUMER')).toHaveLength(3);
    // The reply goes to an inbox: the client's plumbing, no span.
    expect(subSpans.filter((s) => s.kind === 'PRODUCER')).toEqual([]);
    noPayloads([...pubSpans, ...subSpans]);
  });

  it.each(['js-callback', 'js-iterator', 'js-fetch'])('JetStream, %s: publish PRODUCER spans, consumer CONSUMER spans across processes', async (api) => {
    const { base, pubSpans, subSpans, received } = await runPair(ext, gen, api);
    const stream = base.replace(/[^A-Za-z0-9_-]/g, '_');
    const server = one(
      pubSpans.filter((s) => s.kind === 'SERVER'),
      /^POST/,
    );
    const created = one(pubSpans, `publish ${base}.created`);
    expect(created.kind).toBe('PRODUCER');
    expect(created.parentSpanId).toBe(server.spanId);
    expect(created.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.operation.name': 'publish', 'messaging.message.body.size': bodySize(1) });
    const background = one(pubSpans, `publish ${base}.background`);
    // js.publish is a request to the stream under the hood: no CLIENT span, no $JS API spans.
    expect(pubSpans.filter((s) => s.kind === 'CLIENT').every((s) => s.name.startsWith('POST'))).toBe(true);
    expect(pubSpans.filter((s) => s.kind === 'PRODUCER')).toHaveLength(2);
    expect(received.get(`${base}.created`)).toEqual({ 'x-app': 'shop', traceparent: traceparent(created) });

    for (const [subject, parent] of [
      [`${base}.created`, created],
      [`${base}.background`, background],
    ] as const) {
      const c = consumerFor(subSpans, subject);
      expect(c.name).toBe(`process ${stream}`);
      expect(c.traceId).toBe(parent.traceId);
      expect(c.parentSpanId).toBe(parent.spanId);
      expect(c.attributes).toMatchObject({
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.destination.subscription.name': 'worker',
      });
      expect(childrenOf(subSpans, c).map((s) => s.name)).toEqual(api === 'js-callback' ? ['fs readFileSync'] : []);
    }
    // Stream and consumer management, pull requests: none of it is a span.
    expect(subSpans.map((s) => s.kind).sort()).toEqual(api === 'js-callback' ? ['CONSUMER', 'CONSUMER', 'INTERNAL', 'INTERNAL'] : ['CONSUMER', 'CONSUMER']);
    noPayloads([...pubSpans, ...subSpans]);
  });
});

describe.skipIf(!HAVE_NATS)('nats: switches and sampling', () => {
  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=nats removes exactly the NATS spans; messages still flow, without context', async () => {
    const run = await runPair('cjs', 'v2', 'callback', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'nats' });
    expect(run.pubSpans.map((s) => s.kind).sort()).toEqual(['CLIENT', 'SERVER']);
    expect(run.subSpans).toEqual([]);
    expect(run.received.get(`${run.base}.created`)).toEqual({ 'x-app': 'shop' });
    expect(run.received.get(`${run.base}.price`)).toEqual({});
  });

  it('an unsampled trace stays unsampled across the hop and records nothing on either side', async () => {
    const run = await runPair('mjs', 'v3', 'callback', { OTEL_TRACES_SAMPLER: 'parentbased_always_off' });
    expect(run.pubSpans).toEqual([]);
    expect(run.subSpans).toEqual([]);
    // The context still travels (flags 02: not sampled, random trace id), so whatever the worker calls next stays out of the trace too.
    expect(run.received.get(`${run.base}.created`)?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-02$/);
  });
});

describe.skipIf(!HAVE_NATS).each([
  ['cjs', 'v2'],
  ['mjs', 'v3'],
] as const)('nats: messaging metrics, traces sampled at 10 percent (%s, %s)', (ext, gen) => {
  it('every publish, request and handled message is counted once, by operation and destination; a failing handler has error.type', async () => {
    const base = `otel.${randomUUID().slice(0, 8)}`;
    const service = `nats-metrics-${gen}-${ext}-${randomUUID().slice(0, 4)}`;
    const n = 20;
    const r = await runFixture({
      fixture: `messaging/nats-metrics.${ext}`,
      endpoint: rx.url,
      timeoutMs: 30_000,
      args: [gen, base, String(n)],
      env: { OTEL_SERVICE_NAME: service, NATS_URL, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1', ...METRICS_ON },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`DONE orders=${n} rejected=${n / 2} events=${n / 2} unhandled=${n / 2}`);
    const points = rx.metrics().filter((p) => p.resource['service.name'] === service);
    expect(shapeOf(points)).toEqual({
      'messaging.client.operation.duration': 'histogram s delta semconv-buckets',
      'messaging.process.duration': 'histogram s delta semconv-buckets',
      'messaging.client.sent.messages': 'sum {message} delta monotonic=true',
      'messaging.client.consumed.messages': 'sum {message} delta monotonic=true',
    });
    const send = ['messaging.operation.name', 'messaging.operation.type', 'messaging.destination.name', 'error.type'];
    expect(tally(points, 'messaging.client.operation.duration', send)).toEqual({
      [`publish send ${base}.orders -`]: n,
      [`publish send ${base}.events.packed -`]: n / 4,
      [`publish send ${base}.events.shipped -`]: n / 4,
      [`request send ${base}.price -`]: n / 4,
    });
    expect(tally(points, 'messaging.client.sent.messages', send)).toEqual({
      [`publish - ${base}.orders -`]: n,
      [`publish - ${base}.events.packed -`]: n / 4,
      [`publish - ${base}.events.shipped -`]: n / 4,
      [`request - ${base}.price -`]: n / 4,
    });
    // The wildcard subscription's messages count under its template, not under each subject.
    const proc = ['messaging.destination.name', 'messaging.destination.template', 'messaging.consumer.group.name', 'error.type'];
    expect(tally(points, 'messaging.process.duration', proc)).toEqual({
      [`${base}.orders - workers -`]: n / 2,
      [`${base}.orders - workers PaymentError`]: n / 2,
      [`- ${base}.events.* - -`]: n / 2,
      [`${base}.price - - -`]: n / 4,
    });
    expect(tally(points, 'messaging.client.consumed.messages', proc)).toEqual({
      [`${base}.orders - workers -`]: n,
      [`- ${base}.events.* - -`]: n / 2,
      [`${base}.price - - -`]: n / 4,
    });
    for (const p of points.filter((q) => q.name.startsWith('messaging.'))) {
      expect(p.attributes, p.name).toMatchObject({ 'messaging.system': 'nats', 'server.address': SERVERS.nats.host, 'server.port': SERVERS.nats.port });
    }
    expect(attributeSets(points, 'messaging.process.duration')).not.toContainEqual(expect.stringContaining('body'));
    // Most traces were not sampled (about 10% of the 45 roots; 30 is far out in the tail): the counts above do not depend on them.
    const producers = rx.spans().filter((s) => s.resource['service.name'] === service && (s.kind === 'PRODUCER' || s.kind === 'CLIENT'));
    expect(producers.length).toBeLessThan(30);
  });
});
