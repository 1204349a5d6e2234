import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, childrenOf, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { requireServer } from '../harness/servers';
import { expectClient, expectDisabledRemovesOnly, expectNowhere, expectOk, isDb, only, requestSpans, secret, spansOf } from './helpers';

const available = await requireServer('postgres');

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

const PG = { 'db.system.name': 'postgresql', 'db.namespace': 'test', 'server.address': '127.0.0.1', 'server.port': 5432 };

describe.skipIf(!available).each(VARIANTS)('pg and pg-pool (%s)', (ext) => {
  const fixture = `db/pg.${ext}`;
  const env = { DB_SECRET: secret('pg'), DB_PASSWORD: secret('pgpass') };
  const service = `pg-${ext}`;

  it('traces each query under the request that issued it, with stable attributes and no values', async () => {
    const r = await runFixture({ fixture, endpoint: rx.url, env: { ...env, OTEL_SERVICE_NAME: service } });
    expectOk(r);
    // The secret really went through the database and back.
    expect(r.stdout).toContain(`NOTE ${env.DB_SECRET}`);
    expect(r.stdout).toContain('ERR 42P01');
    expect(r.stdout).toContain('ERR 22P02');
    const table = /TABLE (orders_\d+)/.exec(r.stdout)![1]!;
    const spans = spansOf(rx, service);
    const { server, db } = requestSpans(spans);
    expect(server.name).toBe('GET /pg');

    const insert = only(db, `INSERT ${table}`);
    expectClient(insert, {
      ...PG,
      'db.query.text': `INSERT INTO ${table} (id, note) VALUES ($1, $2)`,
      'db.query.summary': `INSERT ${table}`,
      'db.operation.name': 'INSERT',
      'db.collection.name': table,
    });
    expect(insert.status.code).not.toBe('ERROR');

    // Literals in the text are masked; the pool query and the callback query on a checked-out client look alike.
    const selects = db.filter((s) => s.name === `SELECT ${table}`);
    // (Compared as a set: the export order is not the start order.)
    expect(selects.map((s) => s.attributes['db.query.text']).sort()).toEqual([
      `SELECT id FROM ${table} WHERE note = ? AND id > ?`,
      `SELECT note FROM ${table} WHERE id = $1`,
      `SELECT note FROM ${table} WHERE id = $1`,
      `SELECT note FROM ${table} WHERE id = $1`,
    ]);
    for (const s of selects) expectClient(s, { ...PG, 'db.operation.name': 'SELECT', 'db.collection.name': table });
    // The named prepared statement, run twice.
    expect(selects.filter((s) => s.attributes['db.postgresql.plan'] === 'note-by-id')).toHaveLength(2);

    // No table to name it by: the span is named by the operation.
    expectClient(
      only(
        db.filter((s) => s.status.code !== 'ERROR'),
        'SELECT',
      ),
      { ...PG, 'db.query.text': 'SELECT ? AS one', 'db.operation.name': 'SELECT' },
    );

    const missing = only(db, `SELECT missing_${table.slice('orders_'.length)}`);
    expect(missing.status.code).toBe('ERROR');
    expect(missing.attributes).toMatchObject({ 'error.type': '42P01', 'db.response.status_code': '42P01' });
    const badInt = only(
      db.filter((s) => s.status.code === 'ERROR'),
      'SELECT',
    );
    expect(badInt.attributes).toMatchObject({ 'db.query.text': 'SELECT $1::int AS n', 'error.type': '22P02', 'db.response.status_code': '22P02' });
    // Postgres quotes the rejected value in its message; the exported message does not.
    expect(badInt.status.message).toBe('invalid input syntax for type integer: "?"');

    // Pool checkouts: one span when the empty pool opened its connection, one when a query had
    // to wait for the busy client, one when a failed query's discarded client was replaced;
    // none for handing out an idle client.
    const checkouts = db.filter((s) => s.name === 'pg-pool.connect');
    expect(checkouts).toHaveLength(3);
    const opened = checkouts.filter((c) => childrenOf(spans, c).some((k) => k.name === 'pg.connect'));
    expect(opened).toHaveLength(2);
    for (const c of checkouts) expectClient(c, { 'db.system.name': 'postgresql', 'db.namespace': 'test' });

    // The request's database work is all in its trace: its children plus the two connection handshakes.
    expect(spans.filter((s) => s.traceId === server.traceId && isDb(s))).toHaveLength(db.length + 2);

    // Outside any request the admin client's work is traced as root spans.
    const roots = spans.filter((s) => isDb(s) && s.parentSpanId === '');
    expect(roots.map((s) => s.name).sort()).toEqual([`CREATE TABLE ${table}`, `DROP TABLE ${table}`, 'pg.connect', 'pg.connect']);
    // A refused connection is a failed pg.connect with the network error's code.
    expect(r.stdout).toContain('ERR ECONNREFUSED');
    const refused = roots.filter((s) => s.status.code === 'ERROR');
    expect(refused.map((s) => [s.name, s.attributes['error.type'], s.attributes['server.port']])).toEqual([['pg.connect', 'ECONNREFUSED', 1]]);

    expectNowhere(spans, env.DB_SECRET, env.DB_PASSWORD);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=pg removes exactly the database spans', async () => {
    await expectDisabledRemovesOnly(rx, { fixture, name: 'pg', env, enabledService: service });
  });
});
