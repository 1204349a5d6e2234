/**
 * PostgreSQL (`pg` 8.x, its native client, `pg-pool` 2.x and 3.x): the
 * agent's own instrumentation, built for what an unsampled query costs.
 *
 * Upstream instrumentation-pg, under the agent's shaping layer, built a
 * config copy, an attribute object, a duration closure, a span (or a
 * non-recording stand-in), a wrapped callback and a context-bound copy of it,
 * plus a second promise chain, for every query whether it was sampled or not;
 * and a span, two closures and a promise chain for every pool checkout. Here:
 *
 * - a query under an unsampled parent (and no metrics) is passed straight
 *   through: one context read. Its callback, if it has one, is bound to the
 *   caller's context (pg calls it from the socket's, i.e. whichever request
 *   opened the connection), unless the two are the same;
 * - a checkout that hands out an idle client (the common case) is passed
 *   through; one that opens a connection or waits gets a span when sampled,
 *   and its callback is bound either way (a waiting checkout is handed its
 *   client from another request's release);
 * - promise results are observed, never replaced: the app gets pg's own promise;
 * - with metrics on, `db.client.operation.duration` is recorded for every
 *   query: a clock read at start, one histogram record at the end; the pool
 *   connection counts are read from the pools when the exporter collects.
 *
 * What the spans say is in spans.ts and docs/databases.md. The patches guard
 * themselves (db/base.ts): a failure of ours in a call switches the
 * instrumentation off with one warning, as the agent's containment would.
 */
import { context, trace, type Context, type Span } from '@opentelemetry/api';
import { InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile } from '@opentelemetry/instrumentation';
import { DbInstrumentation, exportsOf, type DbConfig, type Proto } from '../db/base';
import { boundTo, callIn, observe, type AnyFn } from '../db/calls';
import { DbDuration, DbPoolGauges } from '../db/metrics';
import type { SqlAnalysis } from '../db/sql';
import {
  analyze,
  connectAttributes,
  durationAttributes,
  failSpan,
  immediateCheckout,
  pgErrorType,
  poolAttributes,
  poolState,
  queryAttributes,
  queryText,
  spanName,
  type PgClientLike,
  type PgPoolLike,
} from './spans';

export type PgConfig = DbConfig;

/** The context the client's socket was opened in: pg's callbacks run in it. */
const CONN_CTX = Symbol('@x/otel-agent/pg connection context');

type Client = PgClientLike & { [CONN_CTX]?: Context };
interface Submittable {
  submit: AnyFn;
  callback?: unknown;
  handleReadyForQuery?: AnyFn;
  handleError?: AnyFn;
}

const PG = ['>=8.0.3 <9'];
const POOL = ['>=2.0.0 <4'];

export class PgInstrumentation extends DbInstrumentation {
  private pools: DbPoolGauges | undefined;
  /** Inside a promise-style pool.query() (synchronously): its checkout's callback is pg-pool's own. */
  private promiseQueries = 0;
  /** Set while that callback runs: the client.query() it makes is pg-pool's, for a promise. */
  private internalQuery = false;
  /** And the context of the pool.query() it serves: that query's context, without a context switch. */
  private internalCtx: Context | undefined;

  constructor(config: PgConfig = {}) {
    super('pg', config);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    super._updateMetricInstruments();
    if (this.getConfig().metrics) this.pools = new DbPoolGauges(this.meter, (pool) => poolState(pool as PgPoolLike));
  }

  protected init() {
    const client = (m: unknown) => {
      this.patchClient(exportsOf<{ prototype?: Proto }>(m)?.prototype);
      return m;
    };
    const unclient = (m: unknown) => this.unpatchClient(exportsOf<{ prototype?: Proto }>(m)?.prototype);
    return [
      new InstrumentationNodeModuleDefinition(
        'pg',
        PG,
        (m: unknown) => {
          this.patchClient(exportsOf<{ Client?: { prototype?: Proto } }>(m)?.Client?.prototype);
          return m;
        },
        (m: unknown) => this.unpatchClient(exportsOf<{ Client?: { prototype?: Proto } }>(m)?.Client?.prototype),
        // The files, so that the JS client is patched as soon as it is loaded and the native
        // one (pg.native, loaded on first access) at all.
        [
          new InstrumentationNodeModuleFile('pg/lib/client.js', PG, client, unclient),
          new InstrumentationNodeModuleFile('pg/lib/native/client.js', PG, client, unclient),
        ],
      ),
      new InstrumentationNodeModuleDefinition(
        'pg-pool',
        POOL,
        (m: unknown) => {
          const proto = exportsOf<{ prototype?: Proto }>(m)?.prototype;
          this.rewrap(proto, 'connect', (o) => this.wrapPoolConnect(o));
          this.rewrap(proto, 'query', (o) => this.wrapPoolQuery(o));
          return m;
        },
        (m: unknown) => this.unwrapAll(exportsOf<{ prototype?: Proto }>(m)?.prototype, ['connect', 'query']),
      ),
    ];
  }

  private patchClient(proto: Proto | undefined): void {
    this.rewrap(proto, 'query', (o) => this.wrapQuery(o));
    this.rewrap(proto, 'connect', (o) => this.wrapConnect(o));
  }

  private unpatchClient(proto: Proto | undefined): void {
    this.unwrapAll(proto, ['query', 'connect']);
  }

  // -------------------------------------------------------------------------------------------
  // Client#query
  // -------------------------------------------------------------------------------------------

  private wrapQuery(original: AnyFn): AnyFn {
    const inst = this;
    return function query(this: Client, config: unknown) {
      const internal = inst.internalQuery;
      const given = inst.internalCtx;
      inst.internalQuery = false;
      inst.internalCtx = undefined;
      if (inst.failed) return original.apply(this, arguments as unknown as unknown[]);
      const ctx = internal && given !== undefined ? given : context.active();
      if (inst.duration === undefined && inst.unsampled(ctx)) {
        // Nothing will be recorded: the one thing owed is the caller's context for a callback,
        // unless it would run in it anyway, or it is pg-pool's own (it only settles the app's promise).
        if (internal || ctx === this[CONN_CTX]) return original.apply(this, arguments as unknown as unknown[]);
        return inst.passThrough(this, original, arguments, ctx);
      }
      return inst.traced(this, original, arguments, ctx, config, !internal);
    } as AnyFn;
  }

  /** Unrecorded query: its callback (last argument, or the config's) is bound to the caller's context. */
  private passThrough(client: Client, original: AnyFn, argsIn: IArguments, ctx: Context): unknown {
    const n = argsIn.length;
    const last: unknown = n > 1 ? argsIn[n - 1] : undefined;
    if (typeof last === 'function') {
      const args = Array.prototype.slice.call(argsIn) as unknown[];
      args[n - 1] = boundTo(ctx, last as AnyFn);
      return original.apply(client, args);
    }
    const config = argsIn[0] as { callback?: unknown } | null | undefined;
    // pg mutates a config object itself (it sets .callback / .values on it); upstream bound it in place too.
    if (typeof config === 'object' && config !== null && typeof config.callback === 'function') config.callback = boundTo(ctx, config.callback as AnyFn);
    return original.apply(client, argsIn as unknown as unknown[]);
  }

  private traced(client: Client, original: AnyFn, argsIn: IArguments, ctx: Context, config: unknown, bind: boolean): unknown {
    let a: SqlAnalysis | undefined;
    let span: Span | undefined;
    let t0 = 0;
    const duration = this.duration;
    try {
      const text = queryText(config);
      if (text === undefined) return this.passThrough(client, original, argsIn, ctx);
      a = analyze(text);
      const an = a;
      span = this.start(spanName(a), ctx, () => queryAttributes(client, an, config));
      if (!span && !duration) return this.passThrough(client, original, argsIn, ctx);
      if (duration) t0 = DbDuration.start();
    } catch (e) {
      this.fail('Client.query', e);
      return original.apply(client, argsIn as unknown as unknown[]);
    }
    const analysis = a;
    const s = span;
    let ended = false;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      try {
        const type = err ? pgErrorType(err) : undefined;
        if (s) {
          if (type) failSpan(s, err, type);
          s.end();
        }
        if (duration) duration.record(t0, durationAttributes(client, analysis, type?.type), ctx);
      } catch (e) {
        this.fail('Client.query', e);
      }
    };

    const n = argsIn.length;
    let args = argsIn as unknown as unknown[];
    const q = config as Submittable;
    let sub = false;
    if (typeof q === 'object' && q !== null && typeof q.submit === 'function' && Object.isExtensible(q)) {
      // pg.Query, pg-cursor, pg-query-stream: the client calls these two when the query is over
      // (the callback, if any, is called from inside them).
      sub = this.observeSubmittable(q, ctx, end);
    }
    if (!sub) {
      const last: unknown = n > 1 ? argsIn[n - 1] : undefined;
      if (typeof last === 'function') {
        args = Array.prototype.slice.call(argsIn) as unknown[];
        args[n - 1] = endingCallback(bind ? ctx : undefined, last as AnyFn, end);
      } else if (typeof q === 'object' && q !== null && typeof q.callback === 'function') q.callback = endingCallback(ctx, q.callback as AnyFn, end);
    }
    let result: unknown;
    try {
      result = original.apply(client, args);
    } catch (e) {
      end(e);
      throw e;
    }
    if (!sub && result !== q) observe(result, end);
    return result;
  }

  private observeSubmittable(q: Submittable, ctx: Context, end: (err: unknown) => void): boolean {
    const ready = q.handleReadyForQuery;
    const error = q.handleError;
    if (typeof ready !== 'function' || typeof error !== 'function') return false;
    q.handleReadyForQuery = function (this: unknown) {
      end(undefined);
      return callIn(ctx, ready, this, arguments);
    };
    q.handleError = function (this: unknown, err: unknown) {
      end(err);
      return callIn(ctx, error, this, arguments);
    };
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Client#connect: `pg.connect`, one per new connection
  // -------------------------------------------------------------------------------------------

  private wrapConnect(original: AnyFn): AnyFn {
    const inst = this;
    return function connect(this: Client, callback?: unknown) {
      if (inst.failed) return original.apply(this, arguments as unknown as unknown[]);
      const ctx = context.active();
      let span: Span | undefined;
      try {
        span = inst.start('pg.connect', ctx, connectAttributes, this);
      } catch (e) {
        inst.fail('Client.connect', e);
        return original.apply(this, arguments as unknown as unknown[]);
      }
      return inst.around(this, original, callback, ctx, span, 'Client.connect', true);
    } as AnyFn;
  }

  /**
   * Runs a connect (client or pool) with its span active, so that what it does
   * nests under it (a pool's new connection under its checkout); the callback
   * runs in the caller's context, the span ends with it or the promise.
   */
  private around(self: object, original: AnyFn, callback: unknown, ctx: Context, span: Span | undefined, where: string, client: boolean, bind = true): unknown {
    if (!span) {
      // Nothing to end: the callback is only owed the caller's context (pg-pool's own needs
      // none), so at most one closure instead of three: an unsampled request checks a client
      // out each time its pool is busy (bench/NOTES.md, 2026-12-07).
      if (client) (self as Client)[CONN_CTX] = ctx;
      const cb = typeof callback === 'function' ? (bind ? boundTo(ctx, callback as AnyFn) : callback) : undefined;
      return original.call(self, cb);
    }
    const inner = trace.setSpan(ctx, span);
    if (client) (self as Client)[CONN_CTX] = inner;
    let ended = false;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      try {
        if (err) failSpan(span, err, pgErrorType(err));
        span.end();
      } catch (e) {
        this.fail(where, e);
      }
    };
    const cb = typeof callback === 'function' ? endingCallback(bind ? ctx : undefined, callback as AnyFn, end) : undefined;
    let result: unknown;
    try {
      result = context.with(inner, () => original.call(self, cb));
    } catch (e) {
      end(e);
      throw e;
    }
    if (!cb) observe(result, end);
    return result;
  }

  // -------------------------------------------------------------------------------------------
  // Pool#connect: `pg-pool.connect`, only for a checkout that connects or waits
  // -------------------------------------------------------------------------------------------

  private wrapPoolConnect(original: AnyFn): AnyFn {
    const inst = this;
    return function connect(this: PgPoolLike, callback?: unknown) {
      if (inst.failed) return original.apply(this, arguments as unknown as unknown[]);
      inst.pools?.add(this);
      const internal = inst.promiseQueries > 0 && typeof callback === 'function';
      const ctx = context.active();
      if (internal) callback = inst.poolInternal(callback as AnyFn, ctx);
      // An idle client is handed out on the next tick, in this context: nothing else to do.
      if (immediateCheckout(this)) return original.call(this, callback);
      let span: Span | undefined;
      try {
        // No closure: this runs for every checkout that waits, sampled or not.
        span = inst.start('pg-pool.connect', ctx, poolAttributes, this);
      } catch (e) {
        inst.fail('Pool.connect', e);
        return original.apply(this, arguments as unknown as unknown[]);
      }
      // pg-pool's own callback needs no context switch: the query it issues gets the context from poolInternal.
      return inst.around(this, original, callback, ctx, span, 'Pool.connect', false, !internal);
    } as AnyFn;
  }

  /**
   * pool.query() without a callback (the promise form): pg-pool checks a
   * client out and runs client.query() with a callback of its own, which only
   * releases the client and settles the app's promise; the app continues in
   * its own context through the promise. That callback needs no binding: it
   * is marked here, and so is a waiting checkout's callback (it issues the
   * query, which is given the pool.query()'s context, see poolInternal).
   */
  private wrapPoolQuery(original: AnyFn): AnyFn {
    const inst = this;
    return function query(this: unknown, text: unknown, values: unknown, cb: unknown) {
      if (inst.failed || typeof text === 'function' || typeof values === 'function' || typeof cb === 'function') {
        return original.apply(this, arguments as unknown as unknown[]);
      }
      inst.promiseQueries++;
      try {
        return original.apply(this, arguments as unknown as unknown[]);
      } finally {
        inst.promiseQueries--;
      }
    } as AnyFn;
  }

  /**
   * pg-pool's checkout callback in a promise pool.query(): the client.query() it makes
   * synchronously is pg-pool's, and runs for the pool.query() made in `ctx`. A waiting
   * checkout's callback is called when another request releases a client, in that
   * request's context; handing `ctx` to the query directly replaces a context.with()
   * around the callback (about 1.8 µs of a 60 µs Express + pg request under load).
   */
  private poolInternal(cb: AnyFn, ctx: Context): AnyFn {
    const inst = this;
    return function (this: unknown) {
      inst.internalQuery = true;
      inst.internalCtx = ctx;
      try {
        return cb.apply(this, arguments as unknown as unknown[]);
      } finally {
        inst.internalQuery = false;
        inst.internalCtx = undefined;
      }
    };
  }
}

/** The app's callback, called in the caller's context (if given) after the span (if any) ended. */
function endingCallback(ctx: Context | undefined, cb: AnyFn, end: (err: unknown) => void): AnyFn {
  return function (this: unknown, err: unknown) {
    end(err);
    return ctx ? callIn(ctx, cb, this, arguments) : cb.apply(this, arguments as unknown as unknown[]);
  };
}
