/**
 * MySQL and MariaDB (`mysql2` 3.x: callbacks and `mysql2/promise`,
 * connections and pools, `query` and `execute`): the agent's own
 * instrumentation, built for what an unsampled query costs.
 *
 * Upstream instrumentation-mysql2 built the connection attributes, formatted
 * (or, as the agent configured it, masked) the query text, started a span or
 * stand-in and wrapped the callback for every call, sampled or not; the
 * agent's shaping layer then wrapped the same call once more. Here:
 *
 * - a query under an unsampled parent (and no metrics) is passed straight
 *   through after one context read; its callback, if it has one, runs in the
 *   caller's context (mysql2 calls it from the socket's, i.e. whichever
 *   request opened the connection; upstream left it there);
 * - sampled: one span, named and described in spans.ts, ended by the
 *   callback, the Query command's onResult (pool.query() hands the
 *   connection a ready command) or, streaming, its 'end' / 'error' event;
 * - with metrics on, `db.client.operation.duration` for every call.
 *
 * The patches guard themselves (db/base.ts).
 */
import { context, type Context, type Span } from '@opentelemetry/api';
import { InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile } from '@opentelemetry/instrumentation';
import { ATTR_DB_SYSTEM_NAME } from '@opentelemetry/semantic-conventions';
import { DbInstrumentation, exportsOf, type DbConfig, type Proto } from '../db/base';
import { boundTo, callIn, type AnyFn } from '../db/calls';
import { DbDuration } from '../db/metrics';
import type { SqlAnalysis } from '../db/sql';
import { analyze, durationAttributes, failSpan, mysqlErrorType, queryAttributes, queryText, systemOf, type Mysql2ConnLike } from './spans';

export type Mysql2Config = DbConfig;

const VERSIONS = ['>=3.0.0 <4'];
const METHODS = ['query', 'execute'] as const;

interface Command {
  onResult?: unknown;
  prependListener?: (ev: string, fn: (e?: unknown) => void) => unknown;
}

/** The prototype holding query/execute: the base class in mysql2 >= 3.11 (upstream's choice too). */
function connectionPrototype(m: unknown): Proto | undefined {
  const proto = exportsOf<{ prototype?: Proto } | undefined>(m)?.prototype;
  if (!proto) return undefined;
  const base = Object.getPrototypeOf(proto) as Proto | null;
  return base && typeof base.query === 'function' && typeof base.execute === 'function' ? base : proto;
}

export class Mysql2Instrumentation extends DbInstrumentation {
  /** Inside a mysql2/promise query()/execute() (synchronously). */
  private promiseDepth = 0;
  /** Set while a mysql2/promise pool checkout's callback runs: the query it makes is theirs. */
  private internalCall = false;
  constructor(config: Mysql2Config = {}) {
    super('mysql2', config);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition('mysql2', VERSIONS, undefined, undefined, [
        new InstrumentationNodeModuleFile(
          'mysql2/lib/connection.js',
          VERSIONS,
          (m: unknown) => {
            const proto = connectionPrototype(m);
            for (const method of METHODS) this.rewrap(proto, method, (o) => this.wrap(o, method));
            return m;
          },
          (m: unknown) => this.unwrapAll(connectionPrototype(m), METHODS),
        ),
        new InstrumentationNodeModuleFile(
          'mysql2/lib/pool.js',
          VERSIONS,
          (m: unknown) => {
            this.rewrap(poolPrototype(m), 'getConnection', (o) => this.wrapGetConnection(o));
            return m;
          },
          (m: unknown) => this.unwrapAll(poolPrototype(m), ['getConnection']),
        ),
        // mysql2/promise: its query()/execute() call the callback API with a callback of their own.
        ...['mysql2/lib/promise/connection.js', 'mysql2/lib/promise/pool.js'].map(
          (file) =>
            new InstrumentationNodeModuleFile(
              file,
              VERSIONS,
              (m: unknown) => {
                const proto = exportsOf<{ prototype?: Proto } | undefined>(m)?.prototype;
                for (const method of METHODS) this.rewrap(proto, method, (o) => this.wrapPromise(o));
                return m;
              },
              (m: unknown) => this.unwrapAll(exportsOf<{ prototype?: Proto } | undefined>(m)?.prototype, METHODS),
            ),
        ),
      ]),
    ];
  }

  private wrap(original: AnyFn, method: (typeof METHODS)[number]): AnyFn {
    const inst = this;
    const where = `Connection.${method}`;
    return function query(this: Mysql2ConnLike, sql: unknown) {
      // mysql2/promise's own callback (it only settles the app's promise, whose continuation has
      // the app's context already): no binding for it.
      const internal = inst.internalCall || inst.promiseDepth > 0;
      inst.internalCall = false;
      if (inst.failed) return original.apply(this, arguments as unknown as unknown[]);
      const ctx = context.active();
      if (inst.duration === undefined && inst.unsampled(ctx)) {
        return internal ? original.apply(this, arguments as unknown as unknown[]) : inst.passThrough(this, original, arguments, ctx);
      }
      return inst.traced(this, original, arguments, ctx, sql, where, !internal);
    } as AnyFn;
  }

  /** PromiseConnection / PromisePool query() and execute(): the callback they pass on synchronously is theirs. */
  private wrapPromise(original: AnyFn): AnyFn {
    const inst = this;
    return function (this: unknown) {
      inst.promiseDepth++;
      try {
        return original.apply(this, arguments as unknown as unknown[]);
      } finally {
        inst.promiseDepth--;
      }
    } as AnyFn;
  }

  /**
   * A checkout that has to wait is handed its connection from another
   * request's release(), in that request's context: its callback (which, for
   * pool.query(), runs the query) is bound to the caller's. Free or new
   * connections are handed over in the caller's context already.
   */
  private wrapGetConnection(original: AnyFn): AnyFn {
    const inst = this;
    return function getConnection(this: PoolLike, cb: unknown) {
      if (inst.failed || typeof cb !== 'function') return original.apply(this, arguments as unknown as unknown[]);
      // Inside mysql2/promise's pool.query()/execute(): the call this callback makes is theirs.
      let f = cb as AnyFn;
      if (inst.promiseDepth > 0) f = inst.promiseInternal(f);
      if (waits(this)) f = boundTo(context.active(), f);
      return f === cb ? original.apply(this, arguments as unknown as unknown[]) : original.call(this, f);
    } as AnyFn;
  }

  private promiseInternal(cb: AnyFn): AnyFn {
    const inst = this;
    return function (this: unknown) {
      inst.internalCall = true;
      try {
        return cb.apply(this, arguments as unknown as unknown[]);
      } finally {
        inst.internalCall = false;
      }
    };
  }

  /** Unrecorded call: its callback (argument or a ready command's onResult) runs in the caller's context. */
  private passThrough(conn: Mysql2ConnLike, original: AnyFn, argsIn: IArguments, ctx: Context): unknown {
    const i = callbackIndex(argsIn);
    if (i >= 0) {
      const args = Array.prototype.slice.call(argsIn) as unknown[];
      args[i] = boundTo(ctx, args[i] as AnyFn);
      return original.apply(conn, args);
    }
    const cmd = argsIn.length === 1 ? (argsIn[0] as Command | null) : null;
    if (cmd && typeof cmd === 'object' && typeof cmd.onResult === 'function') cmd.onResult = boundTo(ctx, cmd.onResult as AnyFn);
    return original.apply(conn, argsIn as unknown as unknown[]);
  }

  private traced(conn: Mysql2ConnLike, original: AnyFn, argsIn: IArguments, ctx: Context, sql: unknown, where: string, bind: boolean): unknown {
    let a: SqlAnalysis;
    let span: Span | undefined;
    let t0 = 0;
    let known: 'mariadb' | 'mysql' | undefined;
    const duration = this.duration;
    try {
      const text = queryText(sql);
      if (text === undefined) return this.passThrough(conn, original, argsIn, ctx);
      a = analyze(text);
      known = systemOf(conn);
      const an = a;
      const system = known ?? 'mysql';
      span = this.start(an.summary ?? system, ctx, () => queryAttributes(conn, an, system));
      if (!span && !duration) return this.passThrough(conn, original, argsIn, ctx);
      if (duration) t0 = DbDuration.start();
    } catch (e) {
      this.fail(where, e);
      return original.apply(conn, argsIn as unknown as unknown[]);
    }
    const analysis = a;
    const s = span;
    let ended = false;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      try {
        const type = err ? mysqlErrorType(err) : undefined;
        // Before the handshake the server was unknown: it is known now.
        const system = known ?? systemOf(conn) ?? 'mysql';
        if (s) {
          if (!known && system === 'mariadb') {
            s.setAttribute(ATTR_DB_SYSTEM_NAME, system);
            if (!analysis.summary) s.updateName(system);
          }
          if (type) failSpan(s, err, type);
          s.end();
        }
        if (duration) duration.record(t0, durationAttributes(conn, analysis, system, type?.type), ctx);
      } catch (e) {
        this.fail(where, e);
      }
    };

    let args = argsIn as unknown as unknown[];
    const i = callbackIndex(argsIn);
    const cmd = argsIn.length === 1 ? (argsIn[0] as Command | null) : null;
    let callback = true;
    if (i >= 0) {
      args = Array.prototype.slice.call(argsIn) as unknown[];
      args[i] = endingCallback(bind ? ctx : undefined, args[i] as AnyFn, end);
    } else if (cmd && typeof cmd === 'object' && typeof cmd.onResult === 'function') {
      cmd.onResult = endingCallback(bind ? ctx : undefined, cmd.onResult as AnyFn, end);
    } else callback = false;
    let ret: unknown;
    try {
      ret = original.apply(conn, args);
    } catch (e) {
      end(e);
      throw e;
    }
    // Streaming (no callback): the command's own events. Upstream listened for 'error' too (which
    // makes an error without a listener of the app's no longer throw); kept as it was.
    const r = ret as Command | undefined;
    if (!callback && r && typeof r.prependListener === 'function') {
      r.prependListener('error', (e) => end(e));
      r.prependListener('end', () => end(undefined));
    }
    return ret;
  }
}

interface PoolLike {
  _freeConnections?: { length?: unknown };
  _allConnections?: { length?: unknown };
  config?: { connectionLimit?: unknown };
}

/** The prototype holding getConnection (mysql2's BasePool). */
function poolPrototype(m: unknown): Proto | undefined {
  const proto = exportsOf<{ prototype?: Proto } | undefined>(m)?.prototype;
  if (!proto) return undefined;
  const base = Object.getPrototypeOf(proto) as Proto | null;
  return !Object.prototype.hasOwnProperty.call(proto, 'getConnection') && base && typeof base.getConnection === 'function' ? base : proto;
}

/** Whether getConnection() will queue the caller (no free connection, none to open); unknown shapes count as waiting. */
function waits(pool: PoolLike): boolean {
  const free = pool._freeConnections?.length;
  const all = pool._allConnections?.length;
  const limit = pool.config?.connectionLimit;
  if (typeof free !== 'number' || typeof all !== 'number' || typeof limit !== 'number') return true;
  return free === 0 && limit !== 0 && all >= limit;
}

/** Index of the callback among query(sql, cb) / query(sql, values, cb) / execute(...), or -1. */
function callbackIndex(args: IArguments): number {
  if (typeof args[1] === 'function') return 1;
  if (typeof args[2] === 'function') return 2;
  return -1;
}

/** The app's callback, called in the caller's context (if given) after the span (if any) ended. */
function endingCallback(ctx: Context | undefined, cb: AnyFn, end: (err: unknown) => void): AnyFn {
  return function (this: unknown, err: unknown) {
    end(err);
    return ctx ? callIn(ctx, cb, this, arguments) : cb.apply(this, arguments as unknown as unknown[]);
  };
}
