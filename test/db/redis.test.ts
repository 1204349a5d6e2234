import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { requireServer } from '../harness/servers';
import {
  countsBy,
  durationPoints,
  expectClient,
  expectDisabledRemovesOnly,
  expectDurationPoints,
  expectNowhere,
  exemplarTraces,
  expectOk,
  isDb,
  metricsEnv,
  only,
  requestSpans,
  SAMPLED_REQUEST_TRACE,
  secret,
  spansOf,
} from './helpers';

const available = await requireServer('redis');

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

const REDIS = { 'db.system.name': 'redis', 'server.address': '127.0.0.1', 'server.port': 6379 };

// `redis` is node-redis v6 (@redis/client 6.x), `redis4` the same package at v4 (@redis/client 1.x).
describe.skipIf(!available).each(['redis', 'redis4'].flatMap((pkg) => VARIANTS.map((ext) => [pkg, ext] as const)))('node-redis: %s (%s)', (pkg, ext) => {
  const fixture = `db/redis.${ext}`;
  const env = { DB_SECRET: secret('redis') };
  const service = `${pkg}-${ext}`;

  it('one span per command, one per MULTI or pipeline, keys but never values', async () => {
    const r = await runFixture({ fixture, args: [pkg], endpoint: rx.url, env: { ...env, OTEL_SERVICE_NAME: service } });
    expectOk(r);
    expect(r.stdout).toContain(`NOTE ${env.DB_SECRET}`);
    expect(r.stdout).toContain('ERR WRONGTYPE');
    const pid = /PID (\d+)/.exec(r.stdout)![1]!;
    const spans = spansOf(rx, service);
    const { server, db } = requestSpans(spans);
    expect(server.name).toBe('GET /redis');
    expect(db.map((s) => s.name).sort()).toEqual(['DEL', 'GET', 'HGET', 'HSET', 'MULTI', 'PIPELINE GET', 'SET']);

    expectClient(only(db, 'SET'), { ...REDIS, 'db.operation.name': 'SET', 'db.query.text': `SET note:${pid} ?` });
    expectClient(only(db, 'HSET'), { ...REDIS, 'db.operation.name': 'HSET', 'db.query.text': `HSET hash:${pid} ? ?` });
    expectClient(only(db, 'GET'), { ...REDIS, 'db.operation.name': 'GET', 'db.query.text': `GET note:${pid}` });
    expectClient(only(db, 'DEL'), { ...REDIS, 'db.query.text': `DEL note:${pid} hash:${pid} multi:${pid} count:${pid}` });

    // The commands queued on a MULTI / pipeline make no spans of their own.
    expectClient(only(db, 'MULTI'), {
      ...REDIS,
      'db.operation.name': 'MULTI',
      'db.operation.batch.size': 2,
      'db.query.text': `SET multi:${pid} ?; INCR count:${pid}`,
    });
    expectClient(only(db, 'PIPELINE GET'), {
      ...REDIS,
      'db.operation.name': 'PIPELINE GET',
      'db.operation.batch.size': 2,
      'db.query.text': `GET note:${pid}; GET multi:${pid}`,
    });
    expect(spans.filter((s) => s.traceId === server.traceId && isDb(s))).toHaveLength(7);

    const hget = only(db, 'HGET');
    expect(hget.status.code).toBe('ERROR');
    expect(hget.attributes).toMatchObject({ 'db.query.text': `HGET note:${pid} ?`, 'error.type': 'WRONGTYPE', 'db.response.status_code': 'WRONGTYPE' });
    for (const s of db.filter((x) => x !== hget)) expect(s.status.code, s.name).not.toBe('ERROR');

    // connect() ran before the request: its span is a root of its own.
    expect(spans.filter((s) => isDb(s) && s.parentSpanId === '').map((s) => s.name)).toEqual(['redis-connect']);

    expectNowhere(spans, env.DB_SECRET);
  });

  it('db.client.operation.duration: one point per command and per batch, sampled or not', async () => {
    const N = 10;
    const metrics = `${service}-metrics`;
    const r = await runFixture({ fixture, args: [pkg], endpoint: rx.url, env: { ...env, ...metricsEnv(metrics, N) } });
    expectOk(r);
    // Only the first of the N requests was sampled: the other nine went through the unrecorded path.
    expect(spansOf(rx, metrics).filter((s) => s.kind === 'SERVER')).toHaveLength(1);
    const points = durationPoints(rx, metrics);
    // A MULTI / pipeline is one `MULTI` / `PIPELINE` point, its commands none; connect() and quit() none.
    expect(countsBy(points, ['db.operation.name', 'error.type'])).toEqual({
      'SET undefined': N,
      'HSET undefined': N,
      'GET undefined': N,
      'MULTI undefined': N,
      'PIPELINE undefined': N,
      'HGET WRONGTYPE': N,
      'DEL undefined': N,
    });
    expectDurationPoints(points, '@x/otel-agent/redis', REDIS);
    // The points carry the caller's context: exemplars name the sampled request's trace only.
    expect(exemplarTraces(points)).toEqual([SAMPLED_REQUEST_TRACE]);
    expectNowhere(spansOf(rx, metrics), env.DB_SECRET);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=redis removes exactly the database spans', async () => {
    await expectDisabledRemovesOnly(rx, { fixture, name: 'redis', env, enabledService: service, args: [pkg] });
  });
});
