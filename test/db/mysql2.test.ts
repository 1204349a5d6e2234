import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { requireServer } from '../harness/servers';
import { expectClient, expectDisabledRemovesOnly, expectNowhere, expectOk, isDb, only, requestSpans, secret, spansOf } from './helpers';

const available = await requireServer('mariadb');

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

describe.skipIf(!available).each(VARIANTS)('mysql2 and mysql2/promise (%s)', (ext) => {
  const fixture = `db/mysql2.${ext}`;
  const env = { DB_SECRET: secret('mysql') };
  const service = `mysql2-${ext}`;

  it('traces callback and promise queries and executes under the request, with no values', async () => {
    const r = await runFixture({ fixture, endpoint: rx.url, env: { ...env, OTEL_SERVICE_NAME: service } });
    expectOk(r);
    expect(r.stdout).toContain(`NOTE ${env.DB_SECRET}`);
    expect(r.stdout).toContain('ERR ER_NO_SUCH_TABLE');
    expect(r.stdout).toContain('ERR ER_DUP_ENTRY');
    const system = /SERVER (\w+)/.exec(r.stdout)![1]!;
    const table = /TABLE (orders_\d+)/.exec(r.stdout)![1]!;
    const spans = spansOf(rx, service);
    const { server, db } = requestSpans(spans);
    expect(server.name).toBe('GET /mysql');
    const base = { 'db.system.name': system, 'db.namespace': 'test', 'server.address': '127.0.0.1', 'server.port': 3306 };

    // Spans are found by content, not order: the export order is not the start order.
    expect(db.map((s) => s.name).sort()).toEqual(
      [`INSERT ${table}`, `INSERT ${table}`, `SELECT ${table}`, `SELECT ${table}`, `UPDATE ${table}`, `SELECT missing_${table.slice('orders_'.length)}`].sort(),
    );
    const ok = db.filter((s) => s.status.code !== 'ERROR');
    const withText = (text: string) => {
      const found = ok.filter((s) => s.attributes['db.query.text'] === text);
      expect(found, text).toHaveLength(1);
      return found[0]!;
    };
    // mysql2 formats query() values into the SQL it sends; the span keeps the placeholders.
    expectClient(withText(`INSERT INTO ${table} (id, note) VALUES (?, ?)`), { ...base, 'db.operation.name': 'INSERT', 'db.collection.name': table });
    expectClient(withText(`SELECT note FROM ${table} WHERE id = ?`), { ...base, 'db.query.summary': `SELECT ${table}` });
    // In MySQL "..." is a string literal.
    expectClient(withText(`SELECT id FROM ${table} WHERE note = ? AND id > ?`), base);
    expectClient(withText(`UPDATE ${table} SET id = ? WHERE note = ?`), { ...base, 'db.operation.name': 'UPDATE' });
    expect(ok).toHaveLength(4);

    const missing = only(db, `SELECT missing_${table.slice('orders_'.length)}`);
    expect(missing.status.code).toBe('ERROR');
    expect(missing.attributes).toMatchObject({ 'error.type': '1146', 'db.response.status_code': '1146' });
    const dup = only(
      db.filter((s) => s.status.code === 'ERROR'),
      `INSERT ${table}`,
    );
    expect(dup.attributes).toMatchObject({ 'error.type': '1062', 'db.response.status_code': '1062' });
    // "Duplicate entry '<secret>' for key 'note'": the value is masked.
    expect(dup.status.message).toMatch(/^Duplicate entry \? for key /);

    // Outside the request: the version check, CREATE and DROP, as root spans.
    const roots = spans.filter((s) => isDb(s) && s.parentSpanId === '');
    expect(roots.map((s) => s.name).sort()).toEqual([`CREATE TABLE ${table}`, `DROP TABLE ${table}`, 'SELECT']);
    expect(only(roots, 'SELECT').attributes['db.query.text']).toBe('SELECT VERSION() AS v');

    expectNowhere(spans, env.DB_SECRET);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=mysql2 removes exactly the database spans', async () => {
    await expectDisabledRemovesOnly(rx, { fixture, name: 'mysql2', env, enabledService: service });
  });
});
