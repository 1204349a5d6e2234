import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import {
  countsBy,
  durationPoints,
  expectClient,
  expectDisabledRemovesOnly,
  expectDurationPoints,
  expectNowhere,
  expectOk,
  isDb,
  metricsEnv,
  only,
  requestSpans,
  secret,
  spansOf,
} from './helpers';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

const errLines = (stdout: string): string[] => stdout.split('\n').filter((l) => l.startsWith('ERR '));

const LIBS = [
  {
    name: 'sqlite',
    extraNames: [] as string[],
    duplicate: { 'error.type': 'SQLITE_CONSTRAINT', 'db.response.status_code': '1555' },
    badPrepare: { 'error.type': 'SQLITE_ERROR', 'db.response.status_code': '1' },
    exceptionType: 'Error',
    // Per request, by db.operation.name, db.collection.name and error.type.
    perRequest: { 'INSERT orders undefined': 1, 'INSERT orders SQLITE_CONSTRAINT': 1 } as Record<string, number>,
  },
  {
    name: 'better-sqlite3',
    // db.transaction() runs BEGIN and COMMIT statements around the two inserts; db.pragma() prepares a PRAGMA.
    extraNames: ['BEGIN', 'COMMIT', 'INSERT orders', 'INSERT orders', 'PRAGMA'],
    duplicate: { 'error.type': 'SQLITE_CONSTRAINT_PRIMARYKEY', 'db.response.status_code': 'SQLITE_CONSTRAINT_PRIMARYKEY' },
    badPrepare: { 'error.type': 'SQLITE_ERROR', 'db.response.status_code': 'SQLITE_ERROR' },
    exceptionType: 'SqliteError',
    // Two more INSERTs in the transaction, its BEGIN and COMMIT, the PRAGMA.
    perRequest: {
      'INSERT orders undefined': 3,
      'INSERT orders SQLITE_CONSTRAINT_PRIMARYKEY': 1,
      'BEGIN undefined undefined': 1,
      'COMMIT undefined undefined': 1,
      'PRAGMA undefined undefined': 1,
    } as Record<string, number>,
  },
];

describe.each(LIBS.flatMap((lib) => VARIANTS.map((ext) => [lib.name, ext, lib] as const)))('%s (%s)', (name, ext, lib) => {
  const fixture = `db/${name}.${ext}`;
  const env = { DB_SECRET: secret(name) };
  const service = `${name}-${ext}`;

  it('a span around each synchronous call, under the request, with no values', async () => {
    const r = await runFixture({ fixture, endpoint: rx.url, env: { ...env, OTEL_SERVICE_NAME: service } });
    expectOk(r);
    expect(r.stdout).toContain(`NOTE ${env.DB_SECRET} `);
    const pid = /PID (\d+)/.exec(r.stdout)![1]!;
    const spans = spansOf(rx, service);
    const { server, db } = requestSpans(spans);
    const file = { 'db.system.name': 'sqlite', 'db.namespace': `orders-${pid}.db` };

    expect(db.map((s) => s.name).sort()).toEqual(
      [
        'INSERT orders',
        'INSERT orders',
        'SELECT orders',
        'SELECT orders',
        'SELECT orders',
        'SELECT orders',
        'SELECT orders',
        'CREATE TABLE t INSERT t',
        ...lib.extraNames,
      ].sort(),
    );
    const ok = db.filter((s) => s.status.code !== 'ERROR');
    const failed = db.filter((s) => s.status.code === 'ERROR');
    const withText = (spans: RecvSpan[], text: string) => spans.filter((s) => s.attributes['db.query.text'] === text);

    expectClient(withText(ok, 'INSERT INTO orders (id, note) VALUES (?, ?)')[0]!, {
      ...file,
      'db.query.summary': 'INSERT orders',
      'db.operation.name': 'INSERT',
      'db.collection.name': 'orders',
    });
    // The literal in the SQL is masked; get, all and iterate each make one span.
    expect(withText(ok, 'SELECT id FROM orders WHERE note = ?')).toHaveLength(1);
    expect(withText(ok, 'SELECT note FROM orders WHERE id = ?')).toHaveLength(1);
    expect(withText(ok, 'SELECT * FROM orders')).toHaveLength(1);
    const iterate = withText(ok, 'SELECT id FROM orders WHERE id > ?');
    expect(iterate).toHaveLength(1);
    for (const s of ok.filter((x) => x.name !== 'CREATE TABLE t INSERT t')) expectClient(s, file);

    // Several statements in one exec: a summary of all of them, no single operation.
    const memory = only(db, 'CREATE TABLE t INSERT t');
    expectClient(memory, { 'db.system.name': 'sqlite', 'db.namespace': ':memory:', 'db.query.text': 'CREATE TABLE t (x); INSERT INTO t VALUES (?)' });
    expect(memory.attributes['db.operation.name']).toBeUndefined();

    expect(failed).toHaveLength(2);
    const duplicate = only(failed, 'INSERT orders');
    expect(duplicate.attributes).toMatchObject(lib.duplicate);
    expect(duplicate.status.message).toBe('UNIQUE constraint failed: orders.id');
    expect(duplicate.events.find((e) => e.name === 'exception')?.attributes['exception.type']).toBe(lib.exceptionType);
    // The prepare that failed on an unterminated literal: SQLite quotes the fragment, the span does not.
    const badPrepare = only(failed, 'SELECT orders');
    expect(badPrepare.attributes).toMatchObject({ ...file, ...lib.badPrepare, 'db.query.text': 'SELECT * FROM orders WHERE note = ?' });
    expect(badPrepare.status.message).toBe('unrecognized token: "?"');

    // The table was created before the request: a root span of its own.
    expect(spans.filter((s) => isDb(s) && s.parentSpanId === '').map((s) => s.name)).toEqual(['CREATE TABLE orders']);
    expect(spans.filter((s) => isDb(s) && s.traceId === server.traceId)).toHaveLength(db.length);

    expectNowhere(spans, env.DB_SECRET);
  });

  it('errors reach the app exactly as without the agent', async () => {
    const [withAgent, without] = await Promise.all([
      runFixture({ fixture, endpoint: rx.url, env: { ...env, OTEL_SERVICE_NAME: `${service}-errors` } }),
      runFixture({ fixture, mode: 'none', env }),
    ]);
    expectOk(withAgent);
    expectOk(without);
    expect(errLines(without.stdout)).toHaveLength(2);
    expect(errLines(withAgent.stdout.replaceAll(/orders-\d+/g, ''))).toEqual(errLines(without.stdout.replaceAll(/orders-\d+/g, '')));
  });

  it('db.client.operation.duration: one point per statement run, sampled or not', async () => {
    const N = 10;
    const metrics = `${service}-metrics`;
    const r = await runFixture({ fixture, endpoint: rx.url, env: { ...env, ...metricsEnv(metrics, N) } });
    expectOk(r);
    const pid = /PID (\d+)/.exec(r.stdout)![1]!;
    // Only the first of the N requests was sampled.
    expect(spansOf(rx, metrics).filter((s) => s.kind === 'SERVER')).toHaveLength(1);
    const points = durationPoints(rx, metrics);
    const expected: Record<string, number> = {
      // get, all and iterate (counted when the iterator is exhausted), the literal's get.
      'SELECT orders undefined': 4 * N,
      // The prepare that failed: its span, and its point.
      'SELECT orders SQLITE_ERROR': N,
      // exec of two statements on the in-memory database: no single operation or table.
      'undefined undefined undefined': N,
      // Outside the requests: the table, then emptying the tables between requests.
      'CREATE TABLE orders undefined': 1,
      'DELETE orders undefined': N - 1,
      'DROP TABLE t undefined': N - 1,
    };
    for (const [k, n] of Object.entries(lib.perRequest)) expected[k] = n * N;
    expect(countsBy(points, ['db.operation.name', 'db.collection.name', 'error.type'])).toEqual(expected);
    const inMemory = (p: { attributes: Record<string, unknown> }) =>
      p.attributes['db.collection.name'] === 't' || p.attributes['db.operation.name'] === undefined;
    expectDurationPoints(
      points.filter((p) => !inMemory(p)),
      `@x/otel-agent/${name}`,
      { 'db.system.name': 'sqlite', 'db.namespace': `orders-${pid}.db` },
    );
    expectDurationPoints(points.filter(inMemory), `@x/otel-agent/${name}`, { 'db.system.name': 'sqlite', 'db.namespace': ':memory:' });
    expectNowhere(spansOf(rx, metrics), env.DB_SECRET);
  });

  it(`OTEL_NODE_DISABLED_INSTRUMENTATIONS=${name} removes exactly the database spans`, async () => {
    await expectDisabledRemovesOnly(rx, { fixture, name, env, enabledService: service });
  });
});
