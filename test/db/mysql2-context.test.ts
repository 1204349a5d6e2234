/**
 * mysql2 beyond the span shapes (mysql2.test.ts): the context an app's code
 * runs in after a query, sampled or not, and db.client.operation.duration
 * for every call. mysql2 calls a query's callback from its socket's data
 * handler; a waiting pool checkout is handed its connection from another
 * request's release. The app's code must continue the request that issued
 * the query: what it calls out to carries that request's trace id and
 * sampled flag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childrenOf, startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { driveContextFixture, expectCallerTraces, traceId } from './context-drive';
import { requireServer } from '../harness/servers';
import { isDb, spansOf } from './helpers';

const available = await requireServer('mariadb');

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

describe.skipIf(!available).each(VARIANTS)('mysql2: the context after a query (%s)', (ext) => {
  it("callbacks, promises and waiting checkouts continue the caller's trace, sampled or not", async () => {
    const service = `mysql2-context-${ext}`;
    const seen = await driveContextFixture(rx, `db/mysql2-context.${ext}`, true, service);
    const cases = seen.map((s) => `${s.request} ${s.case}`);
    expect(cases).toEqual([
      'a1 query-callback',
      'a1 pool-promise',
      'a1 execute-callback',
      'a2 query-callback',
      'a2 pool-promise',
      'a2 execute-callback',
      'w4 pool-waited-callback',
      'w6 pool-waited-callback',
    ]);
    // What the app called out to from there: the issuing request's trace, with its sampled flag.
    expectCallerTraces(seen, ['a1', 'w6']);

    const spans = spansOf(rx, service);
    // Sampled requests: every call a child of the request, the streaming one included.
    for (const [id, names] of [
      [1, ['SELECT', 'SELECT', 'SELECT', 'SELECT']],
      [6, ['SELECT']],
    ] as const) {
      const server = spans.find((s) => s.kind === 'SERVER' && s.traceId === traceId(id) && s.name !== 'GET /echo');
      expect(server, `the SERVER span of trace ${id}`).toBeDefined();
      const db = childrenOf(spans, server!).filter((s) => isDb(s));
      expect(db.map((s) => s.name)).toEqual(names);
      for (const s of db) expect(s.kind).toBe('CLIENT');
    }
    expect(
      spans
        .filter((s) => isDb(s) && s.traceId === traceId(1))
        .map((s) => s.attributes['db.query.text'])
        .sort(),
    ).toEqual(['SELECT ? AS one', 'SELECT ? AS three', 'SELECT ? AS two', 'SELECT ? AS four'].sort());
    // Unsampled requests leave no spans, and the waiting query did not join the trace of the request that released its client.
    for (const id of [2, 4, 5]) expect(spans.filter((s) => s.traceId === traceId(id))).toEqual([]);
    expect(spans.filter((s) => s.traceId === traceId(3)).map((s) => s.name)).toEqual(['GET /hold']);

    // The app's own AsyncLocalStorage sees in pg's callbacks exactly what it sees without the agent.
    const bare = await driveContextFixture(rx, `db/mysql2-context.${ext}`, false, `${service}-bare`);
    expect(seen.map((s) => [s.request, s.case, s.store])).toEqual(bare.map((s) => [s.request, s.case, s.store]));
  });
});

describe.skipIf(!available).each(VARIANTS)('mysql2: db.client.operation.duration (%s)', (ext) => {
  it('counts every call with the sampler off, by operation and error.type', async () => {
    const service = `mysql2-metrics-${ext}`;
    const r = await runFixture({
      fixture: `db/mysql2.${ext}`,
      endpoint: rx.url,
      env: {
        OTEL_SERVICE_NAME: service,
        DB_SECRET: 'not-a-secret',
        OTEL_TRACES_SAMPLER: 'always_off',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_AGENT_RUNTIME_METRICS: 'false',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const system = /SERVER (\w+)/.exec(r.stdout)![1]!;
    expect(spansOf(rx, service)).toEqual([]);
    const points = rx.metrics().filter((p) => p.resource['service.name'] === service && p.name === 'db.client.operation.duration');
    const counts: Record<string, number> = {};
    for (const p of points) {
      const k = `${String(p.attributes['db.operation.name'])} ${String(p.attributes['error.type'])}`;
      counts[k] = (counts[k] ?? 0) + p.count!;
    }
    expect(counts).toEqual({
      'SELECT undefined': 3,
      'CREATE TABLE undefined': 1,
      'INSERT undefined': 1,
      'INSERT 1062': 1,
      'UPDATE undefined': 1,
      'SELECT 1146': 1,
      'DROP TABLE undefined': 1,
    });
    for (const p of points) {
      expect(p.unit).toBe('s');
      expect(p.attributes).toMatchObject({ 'db.system.name': system, 'db.namespace': 'test', 'server.address': '127.0.0.1', 'server.port': 3306 });
    }
    // db.collection.name when the statement names one table (the fixture's are orders_<pid> and missing_<pid>).
    const tables: Record<string, number> = {};
    for (const p of points) {
      const k = `${String(p.attributes['db.operation.name'])} ${String(p.attributes['db.collection.name']).replace(/_\d+$/, '_<pid>')}`;
      tables[k] = (tables[k] ?? 0) + p.count!;
    }
    expect(tables).toEqual({
      'SELECT undefined': 1,
      'SELECT orders_<pid>': 2,
      'SELECT missing_<pid>': 1,
      'CREATE TABLE orders_<pid>': 1,
      'INSERT orders_<pid>': 2,
      'UPDATE orders_<pid>': 1,
      'DROP TABLE orders_<pid>': 1,
    });
  });
});
