/**
 * pg beyond the span shapes (pg.test.ts): the context an app's code runs in
 * after a query, sampled or not; db.client.operation.duration for every
 * query whatever the sampler keeps, and the pool's db.client.connection.*.
 *
 * pg calls a query's callback from its socket's data handler, i.e. in the
 * context the connection was opened in; a waiting pool checkout is handed
 * its client from another request's release. In both cases the app's code
 * must continue the request that issued the query: what it calls out to
 * carries that request's trace id and sampled flag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childrenOf, startOtlpReceiver, type OtlpReceiver, type RecvMetricPoint } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { driveContextFixture, eventually, expectCallerTraces, traceId } from './context-drive';
import { requireServer } from '../harness/servers';
import { expectOk, spansOf } from './helpers';

const available = await requireServer('postgres');

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

describe.skipIf(!available).each(VARIANTS)('pg: the context after a query (%s)', (ext) => {
  it("callbacks, promises and waiting checkouts continue the caller's trace, sampled or not", async () => {
    const service = `pg-context-${ext}`;
    const seen = await driveContextFixture(rx, `db/pg-context.${ext}`, true, service);
    const cases = seen.map((s) => `${s.request} ${s.case}`);
    expect(cases).toEqual([
      'a1 client-callback',
      'a1 pool-promise',
      'a1 query-object',
      'a2 client-callback',
      'a2 pool-promise',
      'a2 query-object',
      'w4 pool-waited-callback',
      'w4 pool-waited-promise',
      'w6 pool-waited-callback',
      'w6 pool-waited-promise',
    ]);
    // What the app called out to from there: the issuing request's trace, with its sampled flag.
    expectCallerTraces(seen, ['a1', 'w6']);

    const spans = spansOf(rx, service);
    // Sampled requests: every query a child of the request, the submittables (with and without a callback) included.
    for (const [id, names] of [
      [1, ['SELECT', 'SELECT', 'SELECT', 'SELECT']],
      // Both checkouts wait for /hold's client.
      [6, ['pg-pool.connect', 'pg-pool.connect', 'SELECT', 'SELECT']],
    ] as const) {
      const server = spans.find((s) => s.kind === 'SERVER' && s.traceId === traceId(id) && s.name !== 'GET /echo');
      expect(server, `the SERVER span of trace ${id}`).toBeDefined();
      const db = childrenOf(spans, server!).filter((s) => s.attributes['db.system.name'] === 'postgresql');
      expect(db.map((s) => s.name)).toEqual(names);
      for (const s of db) expect(s.kind).toBe('CLIENT');
    }
    expect(
      spans
        .filter((s) => s.attributes['db.system.name'] === 'postgresql' && s.traceId === traceId(1))
        .map((s) => s.attributes['db.query.text'])
        .sort(),
    ).toEqual(['SELECT ? AS one', 'SELECT ? AS three', 'SELECT ? AS two', 'SELECT ? AS four'].sort());
    // Unsampled requests leave no spans, and the waiting queries did not join the trace of the request that released their client.
    for (const id of [2, 4, 5]) expect(spans.filter((s) => s.traceId === traceId(id))).toEqual([]);
    expect(spans.filter((s) => s.traceId === traceId(3)).map((s) => s.name)).toEqual(['GET /hold']);

    // The app's own AsyncLocalStorage sees in pg's callbacks exactly what it sees without the agent.
    const bare = await driveContextFixture(rx, `db/pg-context.${ext}`, false, `${service}-bare`);
    expect(seen.map((s) => [s.request, s.case, s.store])).toEqual(bare.map((s) => [s.request, s.case, s.store]));
  });
});

/** Delta points summed by the given attributes. */
function countsBy(points: RecvMetricPoint[], keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points.filter((q) => q.name === 'db.client.operation.duration')) {
    const k = keys.map((key) => String(p.attributes[key])).join(' ');
    out[k] = (out[k] ?? 0) + p.count!;
  }
  return out;
}

describe.skipIf(!available).each(VARIANTS)('pg: db.client.operation.duration (%s)', (ext) => {
  // db.operation.name is the span's (`CREATE TABLE`, where upstream's metric said `CREATE`).
  it('counts every query with the sampler off, by operation and error.type', async () => {
    const service = `pg-metrics-${ext}`;
    const r = await runFixture({
      fixture: `db/pg.${ext}`,
      endpoint: rx.url,
      env: {
        OTEL_SERVICE_NAME: service,
        DB_SECRET: 'not-a-secret',
        DB_PASSWORD: 'pw',
        OTEL_TRACES_SAMPLER: 'always_off',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_AGENT_RUNTIME_METRICS: 'false',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      },
    });
    expectOk(r);
    expect(spansOf(rx, service)).toEqual([]);
    const points = rx.metrics().filter((p) => p.resource['service.name'] === service && p.name === 'db.client.operation.duration');
    expect(countsBy(points, ['db.operation.name', 'error.type'])).toEqual({
      'CREATE TABLE undefined': 1,
      'INSERT undefined': 1,
      'SELECT undefined': 5,
      'SELECT 42P01': 1,
      'SELECT 22P02': 1,
      'DROP TABLE undefined': 1,
    });
    for (const p of points) {
      expect(p.unit).toBe('s');
      expect(p.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.namespace': 'test', 'server.address': '127.0.0.1', 'server.port': 5432 });
      expect(p.sum).toBeGreaterThan(0);
    }
    // db.collection.name when the statement names one table (the fixture's are orders_<pid> and missing_<pid>).
    const tables = countsBy(points, ['db.operation.name', 'db.collection.name']);
    expect(Object.fromEntries(Object.entries(tables).map(([k, v]) => [k.replace(/_\d+$/, '_<pid>'), v]))).toEqual({
      'CREATE TABLE orders_<pid>': 1,
      'INSERT orders_<pid>': 1,
      'SELECT orders_<pid>': 4,
      'SELECT missing_<pid>': 1,
      'SELECT undefined': 2,
      'DROP TABLE orders_<pid>': 1,
    });
  });
});

describe.skipIf(!available).each(VARIANTS)('pg: db.client.connection.* (%s)', (ext) => {
  it("reports the pool's connections, read when the exporter collects", async () => {
    const service = `pg-pool-metrics-${ext}`;
    const name = '127.0.0.1:5432/test';
    const mine = () => rx.metrics().filter((p) => p.resource['service.name'] === service && p.name.startsWith('db.client.connection.'));
    await driveContextFixture(rx, `db/pg-context.${ext}`, true, service, {
      env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_AGENT_RUNTIME_METRICS: 'false', OTEL_METRIC_EXPORT_INTERVAL: '100' },
      // The pool (max 1) holds its one connection, idle, between requests.
      beforeShutdown: () =>
        eventually(
          () => mine().some((p) => p.name === 'db.client.connection.count' && p.attributes['db.client.connection.state'] === 'idle' && p.value === 1),
          'an idle connection in db.client.connection.count',
        ),
    });
    const points = mine();
    expect(points.filter((p) => p.name === 'db.client.connection.max').map((p) => [p.attributes['db.client.connection.pool.name'], p.value])).toContainEqual([
      name,
      1,
    ]);
    const counts = points.filter((p) => p.name === 'db.client.connection.count');
    expect(new Set(counts.map((p) => p.attributes['db.client.connection.state']))).toEqual(new Set(['used', 'idle']));
    for (const p of counts) {
      expect(p.attributes['db.client.connection.pool.name']).toBe(name);
      expect([0, 1]).toContain(p.value);
    }
    expect(points.some((p) => p.name === 'db.client.connection.pending_requests')).toBe(true);
  });
});
