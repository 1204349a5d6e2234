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

describe.skipIf(!available).each(VARIANTS)('ioredis (%s)', (ext) => {
  const fixture = `db/ioredis.${ext}`;
  const env = { DB_SECRET: secret('ioredis') };
  const service = `ioredis-${ext}`;

  it('one span per command and per MULTI or pipeline inside the request; no handshake, no duplicates', async () => {
    const r = await runFixture({ fixture, endpoint: rx.url, env: { ...env, OTEL_SERVICE_NAME: service } });
    expectOk(r);
    expect(r.stdout).toContain(`NOTE ${env.DB_SECRET}`);
    expect(r.stdout).toContain('ERR WRONGTYPE');
    const pid = /PID (\d+)/.exec(r.stdout)![1]!;
    const spans = spansOf(rx, service);
    const { server, db } = requestSpans(spans);
    expect(server.name).toBe('GET /ioredis');
    // The connection's own commands (SELECT 1, CLIENT SETINFO, INFO) and the offline-queue resend
    // of the first SET make no spans.
    expect(db.map((s) => s.name).sort()).toEqual(['DEL', 'GET', 'GET', 'HGET', 'HSET', 'MULTI', 'PIPELINE GET', 'PIPELINE INCR', 'SET']);

    expectClient(only(db, 'SET'), { ...REDIS, 'db.operation.name': 'SET', 'db.query.text': `SET note:${pid} ?` });
    expectClient(only(db, 'HSET'), { ...REDIS, 'db.query.text': `HSET hash:${pid} ? ?` });
    expect(
      db
        .filter((s) => s.name === 'GET')
        .map((s) => s.attributes['db.query.text'])
        .sort(),
    ).toEqual([`GET count:${pid}`, `GET note:${pid}`]);
    expectClient(only(db, 'DEL'), { ...REDIS, 'db.query.text': `DEL note:${pid} hash:${pid} multi:${pid}` });
    expectClient(only(db, 'MULTI'), {
      ...REDIS,
      'db.operation.name': 'MULTI',
      'db.operation.batch.size': 2,
      'db.query.text': `SET multi:${pid} ?; INCR count:${pid}`,
    });
    expectClient(only(db, 'PIPELINE GET'), { ...REDIS, 'db.operation.batch.size': 2, 'db.query.text': `GET note:${pid}; GET multi:${pid}` });
    // A batch of one is a single operation: no batch size.
    const single = only(db, 'PIPELINE INCR');
    expect(single.attributes['db.query.text']).toBe(`INCR count:${pid}`);
    expect(single.attributes['db.operation.batch.size']).toBeUndefined();

    const hget = only(db, 'HGET');
    expect(hget.status.code).toBe('ERROR');
    expect(hget.attributes).toMatchObject({ 'db.query.text': `HGET note:${pid} ?`, 'error.type': 'WRONGTYPE', 'db.response.status_code': 'WRONGTYPE' });

    // ioredis is traced only inside a traced operation: the DEL after the request made no span.
    expect(spans.filter((s) => isDb(s) && s.traceId !== server.traceId)).toEqual([]);
    expect(spans.filter((s) => isDb(s))).toHaveLength(db.length);

    expectNowhere(spans, env.DB_SECRET);
  });

  it('db.client.operation.duration: every command and batch, sampled or not, in a traced operation or not', async () => {
    const N = 10;
    const metrics = `${service}-metrics`;
    const r = await runFixture({ fixture, endpoint: rx.url, env: { ...env, ...metricsEnv(metrics, N) } });
    expectOk(r);
    // Only the first of the N requests was sampled.
    expect(spansOf(rx, metrics).filter((s) => s.kind === 'SERVER')).toHaveLength(1);
    const points = durationPoints(rx, metrics);
    // Per request: two pipelines (the second's callback issues a GET) and a MULTI, one point each;
    // the DEL after the requests, outside any traced operation, counts too (it makes no span).
    // The handshake, the offline-queue replay of the first SET and the commands in batches make none.
    expect(countsBy(points, ['db.operation.name', 'error.type'])).toEqual({
      'SET undefined': N,
      'HSET undefined': N,
      'GET undefined': 2 * N,
      'MULTI undefined': N,
      'PIPELINE undefined': 2 * N,
      'HGET WRONGTYPE': N,
      'DEL undefined': N + 1,
    });
    expectDurationPoints(points, '@x/otel-agent/ioredis', REDIS);
    // The points carry the caller's context: exemplars name the sampled request's trace only.
    expect(exemplarTraces(points)).toEqual([SAMPLED_REQUEST_TRACE]);
    expectNowhere(spansOf(rx, metrics), env.DB_SECRET);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=ioredis removes exactly the database spans', async () => {
    await expectDisabledRemovesOnly(rx, { fixture, name: 'ioredis', env, enabledService: service });
  });
});
