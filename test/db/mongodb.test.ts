import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { startMongoServer, type MongoTestServer } from '../servers/mongo-server';
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

let rx: OtlpReceiver;
// No MongoDB can be installed here: the driver talks to the in-process wire-protocol stand-in.
let mongo: MongoTestServer;
beforeAll(async () => {
  [rx, mongo] = await Promise.all([startOtlpReceiver(), startMongoServer()]);
});
afterAll(async () => {
  await Promise.all([rx?.close(), mongo?.close()]);
});

describe.each(VARIANTS)('mongodb (%s)', (ext) => {
  const fixture = `db/mongodb.${ext}`;
  const env = { DB_SECRET: secret('mongo') };
  const service = `mongodb-${ext}`;

  it('one span per operation, named by operation and collection, no document values', async () => {
    const r = await runFixture({ fixture, endpoint: rx.url, env: { ...env, MONGO_URL: mongo.uri, OTEL_SERVICE_NAME: service } });
    expectOk(r);
    expect(r.stdout).toContain(`NOTE ${env.DB_SECRET}`);
    expect(r.stdout).toContain('ERR 11000');
    const spans = spansOf(rx, service);
    const { server, db } = requestSpans(spans);
    expect(server.name).toBe('GET /mongo');
    expect(db.map((s) => s.name).sort()).toEqual([
      'aggregate items',
      'createIndexes items',
      'delete items',
      'find items',
      'insert items',
      'insert items',
      'update items',
    ]);
    const base = {
      'db.system.name': 'mongodb',
      'db.namespace': 'shop',
      'db.collection.name': 'items',
      'server.address': '127.0.0.1',
      'server.port': mongo.port,
    };
    for (const s of db) expectClient(s, { ...base, 'db.operation.name': s.name.split(' ')[0] });

    // The command's shape is kept, every value is `?`.
    expect(only(db, 'find items').attributes['db.query.text']).toMatch(/^\{"find":"\?","filter":\{"secret":"\?"\}/);
    // aggregate is sent to `shop.$cmd`; the collection is the command's value.
    expect(only(db, 'aggregate items').attributes['db.query.text']).toMatch(/^\{"aggregate":"\?","pipeline":\[\{"\$match":\{"qty":\{"\$gt":"\?"\}\}\}\]/);

    // The duplicate key comes back as a write error in an ok reply; the span still fails.
    const inserts = db.filter((s) => s.name === 'insert items');
    const failed = inserts.filter((s) => s.status.code === 'ERROR');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attributes).toMatchObject({ 'error.type': '11000', 'db.response.status_code': '11000' });
    expect(failed[0]!.status.message).toMatch(/^E11000 duplicate key error .*dup key: \{ \? \}$/);
    for (const s of db.filter((x) => x !== failed[0])) expect(s.status.code, s.name).not.toBe('ERROR');

    // The driver's session cleanup on close (endSessions) makes no span; nothing outside the request either.
    expect(spans.filter(isDb)).toHaveLength(db.length);

    expectNowhere(spans, env.DB_SECRET);
  });

  it('db.client.operation.duration: one point per command, sampled or not, write errors included', async () => {
    const N = 10;
    const metrics = `${service}-metrics`;
    const r = await runFixture({ fixture, endpoint: rx.url, env: { ...env, MONGO_URL: mongo.uri, ...metricsEnv(metrics, N) } });
    expectOk(r);
    expect(r.stdout.split('\n').filter((l) => l === 'ERR 11000')).toHaveLength(N);
    // Only the first of the N requests was sampled.
    expect(spansOf(rx, metrics).filter((s) => s.kind === 'SERVER')).toHaveLength(1);
    const points = durationPoints(rx, metrics);
    // The duplicate key is a write error inside an ok reply: error.type as on the span. The
    // driver's handshake and monitoring (hello) and its endSessions on close make no point.
    expect(countsBy(points, ['db.operation.name', 'db.collection.name', 'error.type'])).toEqual({
      'insert items undefined': N,
      'insert items 11000': N,
      'find items undefined': N,
      'update items undefined': N,
      'aggregate items undefined': N,
      'createIndexes items undefined': N,
      'delete items undefined': N,
    });
    expectDurationPoints(points, '@x/otel-agent/mongodb', {
      'db.system.name': 'mongodb',
      'db.namespace': 'shop',
      'server.address': '127.0.0.1',
      'server.port': mongo.port,
    });
    // The points carry the caller's context: exemplars name the sampled request's trace only.
    expect(exemplarTraces(points)).toEqual([SAMPLED_REQUEST_TRACE]);
    expectNowhere(spansOf(rx, metrics), env.DB_SECRET);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=mongodb removes exactly the database spans', async () => {
    await expectDisabledRemovesOnly(rx, { fixture, name: 'mongodb', env: { ...env, MONGO_URL: mongo.uri }, enabledService: service });
  });
});
