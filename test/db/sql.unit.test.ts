import { describe, expect, it } from 'vitest';
import { redactDbMessage, sanitizeSql, summarizeSql } from '../../src/instrumentations/db/sql';

describe('sanitizeSql: literals become ?', () => {
  it.each([
    ["SELECT * FROM users WHERE email = 'alice@example.com' AND id = 42", 'postgresql', 'SELECT * FROM users WHERE email = ? AND id = ?'],
    ["SELECT 'it''s' AS x, 3.14e-2, .5, 0xFF", 'postgresql', 'SELECT ? AS x, ?, ?, ?'],
    ['SELECT * FROM order_items2 t1 WHERE t1.col3 = $1 LIMIT 10', 'postgresql', 'SELECT * FROM order_items2 t1 WHERE t1.col3 = $1 LIMIT ?'],
    ["SELECT $$secret body$$, $tag$ it's $tag$, E'esc\\'aped'", 'postgresql', 'SELECT ?, ?, ?'],
    ['SELECT "CamelTable"."Col" FROM "CamelTable"', 'postgresql', 'SELECT "CamelTable"."Col" FROM "CamelTable"'],
    ["SELECT x::text, '1'::int FROM t", 'postgresql', 'SELECT x::text, ?::int FROM t'],
    ["SELECT \"double is a string\" FROM `tbl` WHERE a = ? AND b = 'x\\'y'", 'mysql', 'SELECT ? FROM `tbl` WHERE a = ? AND b = ?'],
    ["INSERT INTO t (a, b) VALUES (X'DEADBEEF', -5) -- it's a comment", 'sqlite', "INSERT INTO t (a, b) VALUES (?, -?) -- it's a comment"],
    ['SELECT * FROM [my table] WHERE id = :id OR id = ?1 OR n = @n', 'sqlite', 'SELECT * FROM [my table] WHERE id = :id OR id = ?1 OR n = @n'],
    ["SELECT /* 'not a literal' */ 1", 'postgresql', "SELECT /* 'not a literal' */ ?"],
    ["SELECT 'unterminated secret", 'postgresql', 'SELECT ?'],
  ] as const)('%s (%s)', (sql, dialect, expected) => {
    expect(sanitizeSql(sql, dialect)).toBe(expected);
  });
});

describe('summarizeSql: operation and target for span names', () => {
  it.each([
    ['SELECT * FROM orders WHERE id = $1', 'SELECT orders', 'SELECT', 'orders'],
    ['select o.id from public.orders o join customers c on c.id = o.cid', 'SELECT public.orders customers', 'SELECT', 'public.orders'],
    ['SELECT * FROM songs, artists WHERE songs.aid = artists.id', 'SELECT songs artists', 'SELECT', 'songs'],
    ['INSERT INTO shipping_details (id) SELECT id FROM orders', 'INSERT shipping_details SELECT orders', 'INSERT', 'shipping_details'],
    ['INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)', 'INSERT kv', 'INSERT', 'kv'],
    ['UPDATE "Orders" SET qty = qty + 1 WHERE id = 3', 'UPDATE Orders', 'UPDATE', 'Orders'],
    ['DELETE FROM `sessions` WHERE expires < NOW()', 'DELETE sessions', 'DELETE', 'sessions'],
    ['CREATE TABLE IF NOT EXISTS orders (id INT PRIMARY KEY)', 'CREATE TABLE orders', 'CREATE TABLE', 'orders'],
    ['CREATE UNIQUE INDEX IF NOT EXISTS idx_o ON orders (id)', 'CREATE INDEX orders', 'CREATE INDEX', 'orders'],
    ['DROP TABLE IF EXISTS orders', 'DROP TABLE orders', 'DROP TABLE', 'orders'],
    ['TRUNCATE TABLE orders', 'TRUNCATE orders', 'TRUNCATE', 'orders'],
    ['SELECT 1', 'SELECT', 'SELECT', undefined],
    ['SELECT * FROM (SELECT * FROM orders) sub', 'SELECT SELECT orders', 'SELECT', 'orders'],
    ['SELECT * FROM generate_series(1, 3)', 'SELECT', 'SELECT', undefined],
    ['  /* hint */ BEGIN', 'BEGIN', 'BEGIN', undefined],
    ['BEGIN; INSERT INTO t VALUES (1); COMMIT;', 'BEGIN INSERT t COMMIT', undefined, undefined],
    ['WITH recent AS (SELECT * FROM orders) SELECT * FROM recent', 'WITH SELECT orders SELECT recent', 'WITH', 'orders'],
    ['INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2', 'INSERT t', 'INSERT', 't'],
    ['SELECT * FROM orders FOR UPDATE', 'SELECT orders', 'SELECT', 'orders'],
    ['PRAGMA journal_mode = WAL', 'PRAGMA', 'PRAGMA', undefined],
    ['frobnicate the database', undefined, undefined, undefined],
  ] as const)('%s', (sql, summary, operation, collection) => {
    const dialect = sql.includes('`') ? 'mysql' : 'postgresql';
    expect(summarizeSql(sql, dialect)).toEqual({ summary, operation, collection });
  });

  it('caps very long summaries at 255 characters', () => {
    const sql = 'SELECT * FROM ' + Array.from({ length: 100 }, (_, i) => `table_number_${i}`).join(', ');
    const s = summarizeSql(sql, 'postgresql').summary!;
    expect(s.length).toBeLessThanOrEqual(255);
    expect(s.startsWith('SELECT table_number_0 table_number_1')).toBe(true);
  });
});

describe('redactDbMessage: values echoed by database errors', () => {
  it.each([
    ["Duplicate entry 'alice@example.com' for key 'users.email'", 'Duplicate entry ? for key ?'],
    ['invalid input syntax for type integer: "hunter2"', 'invalid input syntax for type integer: "?"'],
    ['value "99999999999" is out of range for type integer', 'value "?" is out of range for type integer'],
    ['relation "nope_table" does not exist', 'relation "nope_table" does not exist'],
    ['unrecognized token: "\'unterminated secret"', 'unrecognized token: "?"'],
    ['near "12345": syntax error', 'near "?": syntax error'],
    [
      'E11000 duplicate key error collection: shop.items index: name_1 dup key: { name: "x" }',
      'E11000 duplicate key error collection: shop.items index: name_1 dup key: { ? }',
    ],
    ['UNIQUE constraint failed: t.id', 'UNIQUE constraint failed: t.id'],
    ["Table 'test.nope' doesn't exist", "Table ? doesn't exist"],
    [
      "You have an error in your SQL syntax; check the manual near ''s3cret' LIMIT 1' at line 1",
      'You have an error in your SQL syntax; check the manual near ? at line 1',
    ],
  ])('%s', (msg, expected) => {
    expect(redactDbMessage(msg)).toBe(expected);
  });
});
