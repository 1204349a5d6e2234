/**
 * BullMQ with zero configuration, against the machine's Redis, in two processes
 * like a real deployment: a web app adds jobs inside HTTP requests, a worker
 * process runs them. Each job's processing must continue the trace of the
 * request that added it, through the context carried in the job's options.
 * Then the messaging metrics, exact while traces are sampled at 10%.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, childrenOf, one, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, startFixture, VARIANTS, type FixtureResult } from '../harness/fixture';
import { requireServer, SERVERS } from '../harness/servers';
import { METRICS_ON, shapeOf, tally } from '../harness/messaging-metrics';

const HAVE_REDIS = await requireServer('redis');

let rx: OtlpReceiver;
const queues: string[] = [];

beforeAll(async () => {
  rx = await startOtlpReceiver();
});

afterAll(async () => {
  await rx?.close();
  if (!HAVE_REDIS || queues.length === 0) return;
  // Jobs remove themselves; the queue's own keys (meta, id counter, event stream) do not.
  const Redis = createRequire(import.meta.url)('ioredis') as new (o: object) => {
    keys(p: string): Promise<string[]>;
    del(...k: string[]): Promise<number>;
    quit(): Promise<unknown>;
  };
  const r = new Redis({ host: SERVERS.redis.host, port: SERVERS.redis.port, connectTimeout: 2000, maxRetriesPerRequest: 1 });
  for (const q of queues) {
    const keys = await r.keys(`bull:${q}:*`);
    if (keys.length) await r.del(...keys);
  }
  await r.quit();
});

interface Run {
  queue: string;
  producer: FixtureResult;
  worker: FixtureResult;
  web: RecvSpan[];
  work: RecvSpan[];
}

async function addAndProcess(ext: string, paths: string[], settled: number, more: Record<string, string> = {}): Promise<Run> {
  const queue = `orders-${ext}-${randomUUID().slice(0, 8)}`;
  queues.push(queue);
  const env = { QUEUE_NAME: queue, REDIS_PORT: String(SERVERS.redis.port), ...more };
  const worker = startFixture({
    fixture: `queue/bullmq-worker.${ext}`,
    endpoint: rx.url,
    env: { ...env, OTEL_SERVICE_NAME: `${queue}-worker`, EXPECT_SETTLED: String(settled) },
  });
  await worker.ready;
  const producer = await runFixture({
    fixture: `queue/bullmq-producer.${ext}`,
    endpoint: rx.url,
    env: { ...env, OTEL_SERVICE_NAME: `${queue}-web`, PATHS: paths.join(',') },
  });
  expect(producer.code, producer.stderr).toBe(0);
  const w = await worker.result;
  expect(w.code, w.stderr).toBe(0);
  const svc = (s: RecvSpan): unknown => s.resource['service.name'];
  return {
    queue,
    producer,
    worker: w,
    web: rx.spans().filter((s) => svc(s) === `${queue}-web`),
    work: rx.spans().filter((s) => svc(s) === `${queue}-worker`),
  };
}

describe.skipIf(!HAVE_REDIS).each(VARIANTS)('BullMQ, no configuration (%s)', (ext) => {
  it("a job added in an HTTP request is processed under that request's trace in the worker process", async () => {
    const r = await addAndProcess(ext, ['/orders?id=1'], 1);
    const server = one(
      r.web.filter((s) => s.kind === 'SERVER'),
      'POST /orders',
    );
    const publish = one(r.web, `publish ${r.queue}`);
    expect(publish.kind).toBe('PRODUCER');
    expect(publish.parentSpanId).toBe(server.spanId);
    const jobId = JSON.parse(
      r.producer.stdout
        .split('\n')
        .find((l) => l.startsWith('ADDED '))!
        .slice(6),
    ).jobId;
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.operation.type': 'send',
      'messaging.destination.name': r.queue,
      'messaging.message.id': jobId,
      'messaging.bullmq.job.name': 'charge',
    });
    // Adding the job is a Redis script call, made inside the PRODUCER span.
    expect(childrenOf(r.web, publish).map((s) => s.kind)).toContain('CLIENT');

    const proc = one(r.work, `process ${r.queue}`);
    expect(proc.kind).toBe('CONSUMER');
    expect(proc.traceId).toBe(server.traceId);
    expect(proc.parentSpanId).toBe(publish.spanId);
    expect(proc.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': r.queue,
      'messaging.message.id': jobId,
      'task.attempt': 1,
    });
    expect(proc.status.code).not.toBe('ERROR');
    // The processor's own work nests under the CONSUMER span: its progress update and its HTTP call.
    const kids = childrenOf(r.work, proc);
    const charge = one(kids, /^GET/);
    expect(charge.kind).toBe('CLIENT');
    expect(
      one(
        r.work.filter((s) => s.kind === 'SERVER'),
        'GET /charge',
      ).parentSpanId,
    ).toBe(charge.spanId);
    expect(kids.filter((s) => s.kind === 'CLIENT' && s.attributes['db.system.name'] === 'redis').length).toBeGreaterThan(0);

    // BullMQ's polling and bookkeeping make no root traces of their own in the worker; the
    // app's own 'completed' listener is not silenced: its receipt call is there, as it would be
    // without the agent (a trace of its own: the listener runs after the job's span ended).
    const roots = r.work.filter((s) => !s.parentSpanId);
    expect(roots.map((s) => `${s.kind} ${String(s.attributes['url.full'] ?? s.name)}`)).toEqual([
      expect.stringMatching(/^CLIENT http:\/\/127\.0\.0\.1:\d+\/receipt$/),
    ]);
  });

  it('a failing job records the error on every attempt, each attempt a child of the same PRODUCER span', async () => {
    const r = await addAndProcess(ext, ['/orders?id=2&fail=1'], 1);
    const publish = one(r.web, `publish ${r.queue}`);
    const procs = r.work
      .filter((s) => s.name === `process ${r.queue}`)
      .sort((a, b) => Number(a.attributes['task.attempt']) - Number(b.attributes['task.attempt']));
    expect(procs.map((s) => s.attributes['task.attempt'])).toEqual([1, 2]);
    for (const p of procs) {
      expect(p.traceId).toBe(publish.traceId);
      expect(p.parentSpanId).toBe(publish.spanId);
      expect(p.status).toEqual({ code: 'ERROR', message: 'card declined' });
      const ev = p.events.find((e) => e.name === 'exception');
      expect(ev?.attributes['exception.message']).toBe('card declined');
      expect(p.attributes['error.type']).toBe('Error');
    }
  });

  it('addBulk: one PRODUCER span for the batch, every job processed under it', async () => {
    const r = await addAndProcess(ext, ['/orders/bulk'], 2);
    const publish = one(r.web, `publish ${r.queue}`);
    expect(publish.attributes['messaging.batch.message_count']).toBe(2);
    const procs = r.work.filter((s) => s.name === `process ${r.queue}`);
    expect(procs).toHaveLength(2);
    for (const p of procs) expect(p.parentSpanId).toBe(publish.spanId);
    const ids = JSON.parse(
      r.producer.stdout
        .split('\n')
        .find((l) => l.startsWith('ADDED '))!
        .slice(6),
    ).jobIds;
    expect(procs.map((p) => p.attributes['messaging.message.id']).sort()).toEqual([...ids].sort());
  });
});

describe.skipIf(!HAVE_REDIS).each(VARIANTS)('BullMQ: messaging metrics, traces sampled at 10 percent (%s)', (ext) => {
  it('every add and every processor run is counted once; failed attempts carry error.type', async () => {
    // 16 jobs that succeed, 4 that fail both of their 2 attempts, one addBulk of 2 jobs.
    const paths = [
      ...Array.from({ length: 16 }, (_, i) => `/orders?id=${i}`),
      ...Array.from({ length: 4 }, (_, i) => `/orders?id=${100 + i}&fail=1`),
      '/orders/bulk',
    ];
    const r = await addAndProcess(ext, paths, 22, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1', ...METRICS_ON });
    const of = (service: string) => rx.metrics().filter((p) => p.resource['service.name'] === service);
    const web = of(`${r.queue}-web`);
    const work = of(`${r.queue}-worker`);
    expect(shapeOf(web)).toEqual({
      'messaging.client.operation.duration': 'histogram s delta semconv-buckets',
      'messaging.client.sent.messages': 'sum {message} delta monotonic=true',
    });
    expect(shapeOf(work)).toEqual({
      'messaging.process.duration': 'histogram s delta semconv-buckets',
      'messaging.client.consumed.messages': 'sum {message} delta monotonic=true',
    });
    const keys = ['messaging.system', 'messaging.operation.name', 'messaging.operation.type', 'messaging.destination.name', 'error.type'];
    // 21 calls (20 add, 1 addBulk), 22 jobs.
    expect(tally(web, 'messaging.client.operation.duration', keys)).toEqual({ [`bullmq publish send ${r.queue} -`]: 21 });
    expect(tally(web, 'messaging.client.sent.messages', keys)).toEqual({ [`bullmq publish - ${r.queue} -`]: 22 });
    expect(tally(work, 'messaging.process.duration', keys)).toEqual({
      [`bullmq process process ${r.queue} -`]: 18,
      [`bullmq process process ${r.queue} Error`]: 8,
    });
    expect(tally(work, 'messaging.client.consumed.messages', keys)).toEqual({ [`bullmq process - ${r.queue} -`]: 26 });
    // About 10% of the 21 requests were traced (15 is far out in the tail).
    expect(r.web.filter((s) => s.kind === 'PRODUCER').length).toBeLessThan(15);
  });
});
