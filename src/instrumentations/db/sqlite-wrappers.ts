/**
 * The wrappers node:sqlite and better-sqlite3 share: both have a synchronous
 * `exec(sql)`, a `prepare(sql)` that only compiles, and prepared statements
 * whose `run`/`get`/`all`/`iterate` run the SQL. What differs (how to find a
 * database's name, a statement's SQL) is asked of the instrumentation.
 *
 * With metrics on, each call that runs SQL (and a prepare that fails, since it
 * has a span too) is one db.client.operation.duration point: a clock read
 * before the call, one record after it, on the same stack.
 */
import { context, type Attributes, type Tracer } from '@opentelemetry/api';
import { ATTR_DB_COLLECTION_NAME, ATTR_DB_NAMESPACE, ATTR_DB_OPERATION_NAME, ATTR_DB_SYSTEM_NAME, ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import { DbDuration } from './metrics';
import { describeSqliteCall, sqliteErrorType, traceFailure, traceIterator, traceSync, type SqlCall } from './sql';

export type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

export interface SqliteConfig extends InstrumentationConfig {
  /** Record db.client.operation.duration (a metrics exporter is set). */
  metrics?: boolean;
}

export interface SqliteTarget {
  readonly tracer: Tracer;
  /** Set when metrics are on. */
  readonly duration: DbDuration | undefined;
  /** db.namespace of the database `db` (the receiver of exec/prepare). */
  namespaceOf(db: unknown): string | undefined;
  /** The call a prepared statement runs; undefined: not traced. */
  callOf(stmt: unknown): SqlCall | undefined;
  /** A statement was prepared from `sql` (remember it for callOf). */
  prepared(stmt: object, call: SqlCall): void;
}

/** The span's low-cardinality attributes, worked out once per prepared statement. */
const METRIC_KEYS = [ATTR_DB_SYSTEM_NAME, ATTR_DB_NAMESPACE, ATTR_DB_OPERATION_NAME, ATTR_DB_COLLECTION_NAME];
const metricAttributes = new WeakMap<SqlCall, Attributes>();

function durationAttributes(call: SqlCall, failed: boolean, err: unknown): Attributes {
  let a = metricAttributes.get(call);
  if (a === undefined) {
    a = {};
    for (const k of METRIC_KEYS) if (call.attributes[k] !== undefined) a[k] = call.attributes[k];
    metricAttributes.set(call, a);
  }
  return failed ? { ...a, [ATTR_ERROR_TYPE]: sqliteErrorType(err).type } : a;
}

function record(d: DbDuration, t0: number, call: SqlCall, failed: boolean, err: unknown): void {
  try {
    d.record(t0, durationAttributes(call, failed, err), context.active());
  } catch {
    /* our bookkeeping never reaches the app's call */
  }
}

/** run(), timed when metrics are on; what it returns or throws is passed on as is. */
function timed(d: DbDuration | undefined, call: SqlCall, run: () => unknown): () => unknown {
  if (d === undefined) return run;
  return () => {
    const t0 = DbDuration.start();
    let r: unknown;
    try {
      r = run();
    } catch (e) {
      record(d, t0, call, true, e);
      throw e;
    }
    record(d, t0, call, false, undefined);
    return r;
  };
}

export function wrapExec(t: SqliteTarget, original: AnyFn): AnyFn {
  return function exec(this: unknown, ...args: unknown[]) {
    const sql = args[0];
    if (typeof sql !== 'string') return original.apply(this, args);
    const call = describeSqliteCall(sql, t.namespaceOf(this));
    return traceSync(
      t.tracer,
      call,
      timed(t.duration, call, () => original.apply(this, args)),
      sqliteErrorType,
    );
  };
}

/** prepare() gets a span (and a duration point) only when it fails, since that failure is the query failing. */
export function wrapPrepare(t: SqliteTarget, original: AnyFn): AnyFn {
  return function prepare(this: unknown, ...args: unknown[]) {
    const sql = args[0];
    if (typeof sql !== 'string') return original.apply(this, args);
    const d = t.duration;
    const t0 = d === undefined ? 0 : DbDuration.start();
    const started = Date.now();
    let stmt: unknown;
    try {
      stmt = original.apply(this, args);
    } catch (e) {
      const call = describeSqliteCall(sql, t.namespaceOf(this));
      traceFailure(t.tracer, call, started, e, sqliteErrorType);
      if (d !== undefined) record(d, t0, call, true, e);
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
    const d = t.duration;
    if (!iterate) return traceSync(t.tracer, call, timed(d, call, run), sqliteErrorType);
    if (d === undefined) return traceIterator(t.tracer, call, run, sqliteErrorType);
    const t0 = DbDuration.start();
    return traceIterator(t.tracer, call, run, sqliteErrorType, (failed, err) => record(d, t0, call, failed, err));
  };
}
