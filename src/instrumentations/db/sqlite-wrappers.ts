/**
 * The wrappers node:sqlite and better-sqlite3 share: both have a synchronous
 * `exec(sql)`, a `prepare(sql)` that only compiles, and prepared statements
 * whose `run`/`get`/`all`/`iterate` run the SQL. What differs (how to find a
 * database's name, a statement's SQL) is asked of the instrumentation.
 */
import type { Tracer } from '@opentelemetry/api';
import { describeSqliteCall, sqliteErrorType, traceFailure, traceIterator, traceSync, type SqlCall } from './sql';

export type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

export interface SqliteTarget {
  readonly tracer: Tracer;
  /** db.namespace of the database `db` (the receiver of exec/prepare). */
  namespaceOf(db: unknown): string | undefined;
  /** The call a prepared statement runs; undefined: not traced. */
  callOf(stmt: unknown): SqlCall | undefined;
  /** A statement was prepared from `sql` (remember it for callOf). */
  prepared(stmt: object, call: SqlCall): void;
}

export function wrapExec(t: SqliteTarget, original: AnyFn): AnyFn {
  return function exec(this: unknown, ...args: unknown[]) {
    const sql = args[0];
    if (typeof sql !== 'string') return original.apply(this, args);
    const call = describeSqliteCall(sql, t.namespaceOf(this));
    return traceSync(t.tracer, call, () => original.apply(this, args), sqliteErrorType);
  };
}

/** prepare() gets a span only when it fails, since that failure is the query failing. */
export function wrapPrepare(t: SqliteTarget, original: AnyFn): AnyFn {
  return function prepare(this: unknown, ...args: unknown[]) {
    const sql = args[0];
    if (typeof sql !== 'string') return original.apply(this, args);
    const started = Date.now();
    let stmt: unknown;
    try {
      stmt = original.apply(this, args);
    } catch (e) {
      traceFailure(t.tracer, describeSqliteCall(sql, t.namespaceOf(this)), started, e, sqliteErrorType);
      throw e;
    }
    if (stmt && typeof stmt === 'object') t.prepared(stmt, describeSqliteCall(sql, t.namespaceOf(this)));
    return stmt;
  };
}

/** run/get/all: one span around the call; iterate: until the iterator is exhausted or closed. */
export function wrapStatement(t: SqliteTarget, original: AnyFn, iterate: boolean): AnyFn {
  return function statement(this: unknown, ...args: unknown[]) {
    const call = t.callOf(this);
    if (!call) return original.apply(this, args);
    const run = (): unknown => original.apply(this, args);
    return iterate ? traceIterator(t.tracer, call, run, sqliteErrorType) : traceSync(t.tracer, call, run, sqliteErrorType);
  };
}
