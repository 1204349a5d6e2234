/**
 * Makes the upstream database instrumentations (pg, mysql2, redis, ioredis,
 * mongodb) emit what the stable database conventions and this agent promise:
 *
 *  - span names `<operation> <target>` (`SELECT orders`, `insert items`, `SET`),
 *    with `db.query.summary`, `db.operation.name` and `db.collection.name`
 *    parsed from the query where the upstream leaves them out;
 *  - `db.query.text` with literals replaced by `?` (upstream pg sends the raw
 *    text; upstream mysql2 would interpolate the parameter values into it);
 *  - Redis commands with the key but never the value;
 *  - on failure `error.type` (and `db.response.status_code` where the server
 *    sent one), and no values echoed by the server in status or exception
 *    messages;
 *  - no span for a pg pool checkout that neither opens a connection nor waits,
 *    none for ioredis' connection handshake (and no duplicate for a command
 *    that waited in its offline queue), none for the MongoDB driver's
 *    session housekeeping;
 *  - one span for a Redis MULTI or pipeline, with `db.operation.batch.size`,
 *    instead of one span per queued command that all end together.
 *
 * How: each upstream instrumentation gets its tracer from a TracerProvider
 * wrapper (public `setTracerProvider`), so its spans can be dropped at start
 * or corrected just before they end. The few things that need the driver's
 * own objects (the error a mysql2 callback receives, MongoDB write errors,
 * pool state, the batch boundaries) come from small patches registered next
 * to the upstream ones: before them when they must run inside the upstream
 * wrapper, after them when they must run outside it (the shared
 * require-in-the-middle hook applies patches in registration order).
 */
import {
  context,
  createContextKey,
  diag,
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  type Instrumentation,
  type InstrumentationConfig,
} from '@opentelemetry/instrumentation';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_BATCH_SIZE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_SUMMARY,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import { analyzeSql, redactDbMessage, sanitizeSql, type SqlDialect } from '../sql';
import { AGENT_VERSION } from '../../version';

export type DbInstrumentationName = 'pg' | 'mysql2' | 'redis' | 'ioredis' | 'mongodb';

// ---------------------------------------------------------------------------------------------
// The tracer wrapper
// ---------------------------------------------------------------------------------------------

/** What an SDK span exposes for reading (sdk-trace's ReadableSpan fields). */
interface SpanState {
  name: string;
  attributes: Attributes;
  status: { code: SpanStatusCode; message?: string };
  events: { name: string; attributes?: Attributes }[];
}

function stateOf(span: Span): SpanState | undefined {
  const s = span as unknown as Partial<SpanState>;
  return typeof s.name === 'string' && s.attributes && s.status && Array.isArray(s.events) ? (s as SpanState) : undefined;
}

interface Hooks {
  /** Return false to create no span (a non-recording stand-in keeps the caller's parent for anything nested). */
  start?(name: string, attributes: Attributes): boolean;
  /** Runs once, just before the span ends, while it still accepts attributes. */
  end?(span: Span, state: SpanState): void;
}

class Shaper {
  private skipDepth = 0;
  private last: Span | undefined;
  private readonly skipKey = createContextKey('@x/otel-agent/db-shaping skip');
  readonly provider: TracerProvider;

  constructor(readonly hooks: Hooks) {
    this.provider = { getTracer: (name, version, options) => new ShapingTracer(trace.getTracerProvider().getTracer(name, version, options), this) };
  }

  skipping(ctx: Context): boolean {
    return this.skipDepth > 0 || ctx.getValue(this.skipKey) === true;
  }

  /** No spans from this instrumentation during fn's synchronous run. */
  withoutSpans<T>(fn: () => T): T {
    this.skipDepth++;
    try {
      return fn();
    } finally {
      this.skipDepth--;
    }
  }

  /** A context in which this instrumentation creates no spans (for work that continues asynchronously). */
  skipContext(ctx: Context): Context {
    return ctx.setValue(this.skipKey, true);
  }

  noted(span: Span | undefined): void {
    this.last = span;
  }

  /**
   * The recording span the upstream patch started just now. Upstream patches
   * start their span and call the original function in the same synchronous
   * step; a patch registered before them (so it is that original function)
   * takes the span here.
   */
  claim(): Span | undefined {
    const s = this.last;
    this.last = undefined;
    return s;
  }
}

class ShapingTracer implements Tracer {
  constructor(
    private readonly inner: Tracer,
    private readonly shaper: Shaper,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const { hooks } = this.shaper;
    if (this.shaper.skipping(ctx) || (hooks.start && !hooks.start(name, (options.attributes ??= {})))) {
      this.shaper.noted(undefined);
      return trace.wrapSpanContext(trace.getSpanContext(ctx) ?? INVALID_SPAN_CONTEXT);
    }
    const span = this.inner.startSpan(name, options, ctx);
    if (!span.isRecording()) {
      this.shaper.noted(undefined);
      return span;
    }
    this.shaper.noted(span);
    const endHook = hooks.end;
    if (endHook) {
      const end = span.end;
      let shaped = false;
      span.end = function shapedEnd(this: Span, ...args: Parameters<Span['end']>): void {
        if (!shaped) {
          shaped = true;
          const st = stateOf(span);
          if (st) {
            try {
              endHook(span, st);
            } catch (e) {
              diag.debug('db-shaping: end hook failed', e);
            }
          }
        }
        end.apply(span, args);
      };
    }
    return span;
  }

  startActiveSpan: Tracer['startActiveSpan'] = ((name: string, ...rest: unknown[]) => {
    const fn = rest[rest.length - 1] as (span: Span) => unknown;
    const options = (rest.length >= 2 ? rest[0] : undefined) as SpanOptions | undefined;
    const ctx = (rest.length >= 3 ? rest[1] : undefined) as Context | undefined;
    const parent = ctx ?? context.active();
    const span = this.startSpan(name, options, parent);
    return context.with(trace.setSpan(parent, span), fn, undefined, span);
  }) as Tracer['startActiveSpan'];
}

// ---------------------------------------------------------------------------------------------
// Shared end-of-span fixes
// ---------------------------------------------------------------------------------------------

function exceptionEvent(st: SpanState): Attributes | undefined {
  return st.events.find((e) => e.name === 'exception')?.attributes;
}

/**
 * error.type from the database's own code when there is one (semantic
 * conventions: it should match db.response.status_code), else the exception
 * type, else `_OTHER`; server-echoed values masked in messages.
 */
function finishError(span: Span, st: SpanState, serverCode?: string, fallbackType?: string): void {
  if (st.status.code !== SpanStatusCode.ERROR) return;
  const a = st.attributes;
  if (serverCode && a[ATTR_DB_RESPONSE_STATUS_CODE] === undefined) span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, serverCode);
  if (a[ATTR_ERROR_TYPE] === undefined) {
    const code = a[ATTR_DB_RESPONSE_STATUS_CODE] ?? serverCode;
    const exType = exceptionEvent(st)?.['exception.type'];
    span.setAttribute(
      ATTR_ERROR_TYPE,
      typeof code === 'string' ? code : fallbackType ?? (typeof exType === 'string' && exType !== '' ? exType : '_OTHER'),
    );
  }
  if (st.status.message) {
    const m = redactDbMessage(st.status.message);
    if (m !== st.status.message) span.setStatus({ code: SpanStatusCode.ERROR, message: m });
  }
  // Exception events are already recorded; their attributes are plain objects until export.
  for (const e of st.events) {
    const ea = e.attributes;
    if (e.name !== 'exception' || !ea) continue;
    const msg = ea['exception.message'];
    // Upstream pg already reduces its exception to type and SQLSTATE.
    if (typeof msg !== 'string' || /^PostgreSQL error of type '[^']*' occurred \(code: [^)]*\)$/.test(msg)) continue;
    const red = redactDbMessage(msg);
    if (red === msg) continue;
    ea['exception.message'] = red;
    if (typeof ea['exception.stacktrace'] === 'string') ea['exception.stacktrace'] = ea['exception.stacktrace'].split(msg).join(red);
  }
}

/** Records a driver error on a span that the upstream patch will end (status ERROR is also set by upstream). */
function annotateError(span: Span, code: string | undefined, fallbackType: string | undefined): void {
  if (code) {
    span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, code);
    span.setAttribute(ATTR_ERROR_TYPE, code);
  } else if (fallbackType) span.setAttribute(ATTR_ERROR_TYPE, fallbackType);
}

function errorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; name?: unknown; constructor?: { name?: string } };
  if (typeof e.code === 'string' && e.code !== '') return e.code;
  const ctor = e.constructor?.name;
  return ctor && ctor !== 'Object' ? ctor : typeof e.name === 'string' ? e.name : undefined;
}

function finishSql(dialect: SqlDialect, onlyNames?: RegExp): Hooks['end'] {
  return (span, st) => {
    const text = st.attributes[ATTR_DB_QUERY_TEXT];
    if (typeof text === 'string' && (!onlyNames || onlyNames.test(st.name))) {
      const s = analyzeSql(text, dialect);
      if (s.text !== text) span.setAttribute(ATTR_DB_QUERY_TEXT, s.text);
      if (s.summary) span.setAttribute(ATTR_DB_QUERY_SUMMARY, s.summary);
      if (s.operation) span.setAttribute(ATTR_DB_OPERATION_NAME, s.operation);
      if (s.collection) span.setAttribute(ATTR_DB_COLLECTION_NAME, s.collection);
      const system = st.attributes[ATTR_DB_SYSTEM_NAME];
      span.updateName(s.summary ?? (typeof system === 'string' ? system : st.name));
    }
    // Upstream pg records only `PostgreSQL error of type '<name>' occurred (code: <code>)`: the
    // code is a SQLSTATE for errors from the server, a Node code (ECONNREFUSED) for the network.
    const m = /of type '([^']*)' occurred \(code: ([^)]*)\)/.exec(String(exceptionEvent(st)?.['exception.message'] ?? ''));
    const code = m?.[2];
    const sqlstate = code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
    const other = code && code !== 'UNKNOWN' && !sqlstate ? code : m?.[1] && m[1] !== 'error' && m[1] !== 'Error' ? m[1] : undefined;
    finishError(span, st, sqlstate, other);
  };
}

// ---------------------------------------------------------------------------------------------
// Redis statements: command and key, never the value
// ---------------------------------------------------------------------------------------------

/** Commands whose arguments are not keys (passwords, scripts, messages, numbers): all masked. */
const REDIS_KEYLESS = new Set([
  'AUTH', 'HELLO', 'PING', 'ECHO', 'SELECT', 'QUIT', 'MIGRATE', 'EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL',
  'FCALL_RO', 'SWAPDB', 'FAILOVER', 'REPLICAOF', 'SLAVEOF', 'SHUTDOWN', 'WAIT', 'WAITAOF', 'INFO', 'DBSIZE', 'FLUSHALL',
  'FLUSHDB', 'TIME', 'LASTSAVE', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'RANDOMKEY', 'MULTI', 'EXEC', 'DISCARD', 'UNWATCH',
  'ROLE', 'READONLY', 'READWRITE', 'RESET', 'MONITOR', 'SCAN', 'LOLWUT', 'SYNC', 'PSYNC',
]);
/** Container commands: the subcommand is shown, its arguments masked (CONFIG SET requirepass ...). */
const REDIS_SUBCOMMAND = new Set(['CONFIG', 'CLIENT', 'ACL', 'CLUSTER', 'COMMAND', 'FUNCTION', 'MEMORY', 'OBJECT', 'SCRIPT', 'XINFO', 'XGROUP', 'PUBSUB', 'MODULE', 'LATENCY', 'SLOWLOG', 'DEBUG']);
/** Every argument is a key (or channel / pattern). */
const REDIS_ALL_KEYS = new Set([
  'DEL', 'UNLINK', 'EXISTS', 'TOUCH', 'MGET', 'WATCH', 'SUNION', 'SINTER', 'SDIFF', 'SUNIONSTORE', 'SINTERSTORE', 'SDIFFSTORE',
  'PFCOUNT', 'PFMERGE', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PSUBSCRIBE', 'PUNSUBSCRIBE', 'SSUBSCRIBE', 'SUNSUBSCRIBE', 'RENAME',
  'RENAMENX', 'KEYS',
]);
/** key value key value ... */
const REDIS_PAIRS = new Set(['MSET', 'MSETNX']);
const REDIS_MAX_ARGS = 10;

function redisArg(a: unknown): string {
  if (typeof a === 'string') return a.length > 128 ? `${a.slice(0, 128)}…` : a;
  if (typeof a === 'number' || typeof a === 'bigint') return String(a);
  if (a instanceof Uint8Array) {
    const s = Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('utf8');
    // eslint-disable-next-line no-control-regex
    return /^[^\u0000-\u001f\ufffd]*$/.test(s) ? redisArg(s) : '?';
  }
  return '?';
}

/** `SET user:1 ?`, `HSET user:1 ? ?`, `MGET a b`, `CONFIG SET ? ?`, `AUTH ?`. */
export function redisStatement(command: string, args: readonly unknown[] = []): string {
  const cmd = String(command).toUpperCase();
  const shown = (i: number): boolean => {
    if (REDIS_KEYLESS.has(cmd)) return false;
    if (REDIS_SUBCOMMAND.has(cmd)) return i === 0 && typeof args[0] === 'string' && /^[A-Za-z-]+$/.test(args[0]);
    if (REDIS_ALL_KEYS.has(cmd)) return true;
    if (REDIS_PAIRS.has(cmd)) return i % 2 === 0;
    return i === 0;
  };
  const parts = [cmd];
  const n = Math.min(args.length, REDIS_MAX_ARGS);
  for (let i = 0; i < n; i++) parts.push(shown(i) ? redisArg(args[i]) : '?');
  if (args.length > n) parts.push(`…(${args.length - n} more)`);
  return parts.join(' ');
}

/** Redis error replies start with an upper-case code: WRONGTYPE, ERR, NOSCRIPT, MOVED, ... */
function redisCode(message: unknown): string | undefined {
  const m = /^([A-Z][A-Z_]+) /.exec(typeof message === 'string' ? message : '');
  return m ? m[1] : undefined;
}

const BATCH_OPERATION = /^(MULTI|PIPELINE)( |$)/;

const finishRedis: Hooks['end'] = (span, st) => {
  const op = st.attributes[ATTR_DB_OPERATION_NAME];
  if (typeof op === 'string' && !BATCH_OPERATION.test(op)) {
    // Upstream names them `redis-SET` (node-redis) or `set` (ioredis); one spelling for both clients.
    const up = op.toUpperCase();
    if (up !== op) span.setAttribute(ATTR_DB_OPERATION_NAME, up);
    span.updateName(up);
  }
  finishError(span, st, redisCode(exceptionEvent(st)?.['exception.message'] ?? st.status.message));
};

// ---------------------------------------------------------------------------------------------
// MongoDB
// ---------------------------------------------------------------------------------------------

/** Set by the statement serializer, which upstream calls just before starting the span. */
let lastMongoCommand: unknown;

/** The command's shape with every value replaced by `?` (what upstream does by default), remembered for the span start. */
export function mongoStatement(command: unknown): string {
  lastMongoCommand = command;
  const seen = new WeakSet<object>();
  return JSON.stringify(command, (_k, v: unknown) => {
    if (typeof v !== 'object' || v === null) return '?';
    if (seen.has(v)) return '[Circular]';
    seen.add(v);
    return v;
  });
}

const MONGO_SKIP = new Set(['endSessions']);

const mongoHooks: Hooks = {
  start(_name, a) {
    const cmd = lastMongoCommand;
    lastMongoCommand = undefined;
    if (MONGO_SKIP.has(String(a[ATTR_DB_OPERATION_NAME]))) return false;
    // Collection-level commands sent to `<db>.$cmd` (aggregate, count, distinct, findAndModify, ...)
    // name their collection as the command's value.
    if (a[ATTR_DB_COLLECTION_NAME] === '$cmd') {
      const op = a[ATTR_DB_OPERATION_NAME];
      const v = typeof op === 'string' && cmd && typeof cmd === 'object' ? (cmd as Record<string, unknown>)[op] : undefined;
      if (typeof v === 'string' && v !== '') a[ATTR_DB_COLLECTION_NAME] = v;
      else delete a[ATTR_DB_COLLECTION_NAME];
    }
    return true;
  },
  end(span, st) {
    const name = [st.attributes[ATTR_DB_OPERATION_NAME], st.attributes[ATTR_DB_COLLECTION_NAME] ?? st.attributes[ATTR_DB_NAMESPACE]]
      .filter((x) => typeof x === 'string' && x !== '')
      .join(' ');
    if (name && name !== st.name) span.updateName(name);
    finishError(span, st);
  },
};

// ---------------------------------------------------------------------------------------------
// Patches registered next to the upstream ones
// ---------------------------------------------------------------------------------------------

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Runs our own bookkeeping so that it can never throw into the app's call or
 * become an unhandled rejection; what failed is only reported to diag.
 */
function quietly<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    diag.debug('db-shaping: internal error', e);
    return undefined;
  }
}

const exportsOf = <T>(m: unknown): T => ((m as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === 'Module' ? (m as { default: T }).default : (m as T));

const OURS = Symbol('@x/otel-agent/db-shaping original');
type Wrapped = AnyFn & { [OURS]?: AnyFn; __original?: AnyFn };

/** Whether one of our wrappers is anywhere in this chain of wrappers (ours or shimmer's). */
function chainHasOurs(fn: unknown): boolean {
  let f = fn as Wrapped | undefined;
  for (let i = 0; f && i < 16; i++) {
    if (f[OURS]) return true;
    f = f.__original;
  }
  return false;
}

/**
 * Patches sit next to upstream's, so they must not use the shared shimmer
 * marker: upstream unwraps anything shimmer-wrapped before wrapping (and would
 * remove a patch applied before it), and so would a shimmer patch applied
 * after it. These carry their own marker instead.
 */
abstract class Layer extends InstrumentationBase<InstrumentationConfig> {
  // init() runs inside super(), before this field is set: read it only when patching or later.
  constructor(
    name: string,
    protected readonly shaper: Shaper,
  ) {
    super(`@x/otel-agent/${name}`, AGENT_VERSION, {});
  }

  protected wrapMethod(target: object | undefined, method: string, make: (original: AnyFn) => AnyFn): void {
    const t = target as Record<string, unknown> | undefined;
    const current = t?.[method];
    if (!t || typeof current !== 'function' || chainHasOurs(current)) return;
    const w = make(current as AnyFn) as Wrapped;
    Object.defineProperty(w, OURS, { value: current });
    const d = Object.getOwnPropertyDescriptor(t, method);
    Object.defineProperty(t, method, { value: w, writable: true, configurable: true, enumerable: d ? d.enumerable : false });
  }

  protected unwrapMethod(target: object | undefined, method: string): void {
    const t = target as Record<string, unknown> | undefined;
    const current = t?.[method] as Wrapped | undefined;
    if (t && typeof current === 'function' && current[OURS]) t[method] = current[OURS];
  }
}

/**
 * pg-pool: `pool.connect()` (and `pool.query()`, which uses it) hands out an
 * idle client without any I/O most of the time; a span for that is noise. A
 * checkout span is kept when it opens a new connection (its `pg.connect`
 * child shows the handshake) or has to wait for a busy pool.
 */
class PgPoolCheckout extends Layer {
  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'pg-pool',
        ['>=2.0.0 <4'],
        (m) => {
          const proto = exportsOf<{ prototype?: object }>(m).prototype;
          const shaper = this.shaper;
          this.wrapMethod(proto, 'connect', (original) =>
            function connect(this: unknown, ...args: unknown[]) {
              const pool = this as { _idle?: unknown[]; _pendingQueue?: unknown[] };
              const immediate = Array.isArray(pool._idle) && Array.isArray(pool._pendingQueue) && pool._idle.length > pool._pendingQueue.length;
              return immediate ? shaper.withoutSpans(() => original.apply(this, args)) : original.apply(this, args);
            },
          );
          return m;
        },
        (m) => this.unwrapMethod(exportsOf<{ prototype?: object }>(m)?.prototype, 'connect'),
      ),
    ];
  }
}

/**
 * mysql2, inside the upstream wrapper: upstream ends the span with only the
 * error's message; this hands the span the error's code first, and tells
 * MariaDB apart from MySQL by the server's handshake.
 */
class Mysql2Errors extends Layer {
  protected init() {
    const patch = (m: unknown): unknown => {
      const proto = connectionPrototype(m);
      for (const method of ['query', 'execute']) this.wrapMethod(proto, method, (original) => this.wrapQuery(original));
      return m;
    };
    const unpatch = (m: unknown): void => {
      const proto = connectionPrototype(m);
      for (const method of ['query', 'execute']) this.unwrapMethod(proto, method);
    };
    return [
      new InstrumentationNodeModuleDefinition('mysql2', ['>=3.0.0 <4'], undefined, undefined, [
        new InstrumentationNodeModuleFile('mysql2/lib/connection.js', ['>=3.0.0 <4'], patch, unpatch),
      ]),
    ];
  }

  private wrapQuery(original: AnyFn): AnyFn {
    const shaper = this.shaper;
    return function query(this: unknown, ...args: unknown[]) {
      const span = shaper.claim();
      if (!span) return original.apply(this, args);
      const conn = this as { _handshakePacket?: { serverVersion?: string } };
      let settled = false;
      const done = (err: unknown): void => {
        if (settled) return;
        settled = true;
        quietly(() => {
          if (/mariadb/i.test(String(conn._handshakePacket?.serverVersion ?? ''))) span.setAttribute(ATTR_DB_SYSTEM_NAME, 'mariadb');
          if (err) {
            const e = err as { errno?: unknown };
            annotateError(span, typeof e.errno === 'number' ? String(e.errno) : undefined, errorName(err));
          }
        });
      };
      const last = args.length - 1;
      const q = args[0] as { onResult?: AnyFn } | undefined;
      if (last >= 1 && typeof args[last] === 'function') {
        const cb = args[last] as AnyFn;
        args[last] = function (this: unknown, ...r: unknown[]) {
          done(r[0]);
          return cb.apply(this, r);
        };
      } else if (args.length === 1 && q && typeof q === 'object' && typeof q.onResult === 'function') {
        // pool.query() passes a ready Query object whose onResult is the callback
        const cb = q.onResult;
        q.onResult = function (this: unknown, ...r: unknown[]) {
          done(r[0]);
          return cb.apply(this, r);
        };
      }
      const ret = original.apply(this, args) as { prependListener?: (ev: string, fn: (e?: unknown) => void) => void } | undefined;
      // Streaming form (no callback): upstream ends the span on the 'error' / 'result' event.
      if (ret && typeof ret.prependListener === 'function') {
        ret.prependListener('error', (e) => done(e));
        ret.prependListener('result', () => done(undefined));
      }
      return ret;
    };
  }
}

function connectionPrototype(m: unknown): object | undefined {
  const C = exportsOf<{ prototype?: { query?: unknown; execute?: unknown } }>(m);
  const proto = C?.prototype;
  if (!proto) return undefined;
  const base = Object.getPrototypeOf(proto) as { query?: unknown; execute?: unknown } | null;
  // Same choice as upstream: the base class holds query/execute in mysql2 >= 3.11.
  return base && typeof base.query === 'function' && typeof base.execute === 'function' ? base : proto;
}

/**
 * MongoDB, inside the upstream wrapper: upstream marks a span failed only when
 * the command throws; the error's code, and write errors the server reports in
 * an ok reply (duplicate keys on insert), are added here.
 */
class MongoErrors extends Layer {
  protected init() {
    const patch = (m: unknown): unknown => {
      const proto = (m as { Connection?: { prototype?: object } }).Connection?.prototype;
      const shaper = this.shaper;
      this.wrapMethod(proto, 'command', (original) =>
        function command(this: unknown, ...args: unknown[]) {
          const span = shaper.claim();
          const p = original.apply(this, args);
          if (span && p && typeof (p as Promise<unknown>).then === 'function') {
            // A handler that threw would be an unhandled rejection in the app: both are guarded.
            (p as Promise<unknown>).then(
              (reply) =>
                quietly(() => {
                  const we = writeError(reply);
                  if (!we) return;
                  const code = typeof we.code === 'number' ? String(we.code) : undefined;
                  annotateError(span, code, 'MongoWriteError');
                  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof we.errmsg === 'string' ? we.errmsg : 'write error' });
                }),
              (err: unknown) =>
                quietly(() => {
                  const e = err as { code?: unknown };
                  annotateError(span, typeof e?.code === 'number' ? String(e.code) : undefined, errorName(err));
                }),
            );
          }
          return p;
        },
      );
      return m;
    };
    const unpatch = (m: unknown): void => this.unwrapMethod((m as { Connection?: { prototype?: object } })?.Connection?.prototype, 'command');
    return [
      new InstrumentationNodeModuleDefinition('mongodb', ['>=6.4.0 <7'], undefined, undefined, [
        new InstrumentationNodeModuleFile('mongodb/lib/cmap/connection.js', ['>=6.4.0 <7'], patch, unpatch),
      ]),
    ];
  }
}

interface WriteError {
  code?: unknown;
  errmsg?: unknown;
}

/** The first write error in a command reply: a plain document, or the driver's lazily parsed BSON response. */
function writeError(reply: unknown): WriteError | undefined {
  if (!reply || typeof reply !== 'object') return undefined;
  let r = reply as { writeErrors?: WriteError[]; writeConcernError?: WriteError; has?: (k: string) => boolean; toObject?: () => unknown };
  if (typeof r.has === 'function' && typeof r.toObject === 'function') {
    // Only parse the whole reply when it carries an error (a find reply can be large).
    if (!r.has('writeErrors') && !r.has('writeConcernError')) return undefined;
    r = r.toObject() as typeof r;
  }
  return (Array.isArray(r.writeErrors) ? r.writeErrors[0] : undefined) ?? r.writeConcernError;
}

const BATCH_TEXT_MAX = 20;

/** A span for a whole MULTI / pipeline: `MULTI SET` when every command is SET, else `MULTI`. */
function startBatchSpan(tracer: Tracer, kind: 'MULTI' | 'PIPELINE', commands: { name: string; text: string }[], server: { host?: unknown; port?: unknown }): Span {
  const names = new Set(commands.map((c) => c.name));
  const op = names.size === 1 ? `${kind} ${[...names][0]}` : kind;
  const texts = commands.map((c) => c.text);
  const unique = new Set(texts);
  const text =
    unique.size === 1
      ? texts[0]!
      : texts.slice(0, BATCH_TEXT_MAX).join('; ') + (texts.length > BATCH_TEXT_MAX ? `; …(${texts.length - BATCH_TEXT_MAX} more)` : '');
  const attributes: Attributes = { [ATTR_DB_SYSTEM_NAME]: 'redis', [ATTR_DB_OPERATION_NAME]: op };
  if (text) attributes[ATTR_DB_QUERY_TEXT] = text;
  // Semantic conventions: a batch of one is reported as a single operation, without a batch size.
  if (commands.length !== 1) attributes[ATTR_DB_OPERATION_BATCH_SIZE] = commands.length;
  if (typeof server.host === 'string') attributes[ATTR_SERVER_ADDRESS] = server.host;
  if (typeof server.port === 'number') attributes[ATTR_SERVER_PORT] = server.port;
  return tracer.startSpan(op, { kind: SpanKind.CLIENT, attributes });
}

function endBatchSpan(span: Span, err: unknown): void {
  quietly(() => {
    if (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
    span.end();
  });
}

const CMDS = Symbol('@x/otel-agent/redis-batch-commands');
const CLIENT_OPTIONS = Symbol('@x/otel-agent/redis-client-options');
const IN_EXEC = Symbol('@x/otel-agent/redis-in-exec');

/**
 * node-redis (v4 `@redis/client` 1.x, v5 and v6 `@redis/client` 5.x / 6.x), outside the
 * upstream wrapper: commands queued on a MULTI make no span of their own; the
 * exec (or execAsPipeline) call makes one.
 */
class RedisBatch extends Layer {
  protected init() {
    const versions = ['>=1.0.0 <2', '>=5.0.0 <7'];
    const layer = this;
    const patchMulti = (m: unknown): unknown => {
      const proto = (m as { default?: { prototype?: object } }).default?.prototype;
      this.wrapMethod(proto, 'addCommand', (original) =>
        function addCommand(this: unknown, ...args: unknown[]) {
          const self = this as { [CMDS]?: unknown[][] };
          if (Array.isArray(args[0])) (self[CMDS] ??= []).push(args[0] as unknown[]);
          return layer.shaper.withoutSpans(() => original.apply(this, args));
        },
      );
      for (const method of ['exec', 'execAsPipeline'] as const) {
        this.wrapMethod(proto, method, (original) =>
          function exec(this: unknown, ...args: unknown[]) {
            const self = this as { [CMDS]?: unknown[][]; [CLIENT_OPTIONS]?: { socket?: { host?: unknown; port?: unknown } }; [IN_EXEC]?: boolean };
            // exec(true) delegates to execAsPipeline: one span for the pair.
            if (self[IN_EXEC]) return original.apply(this, args);
            const parent = context.active();
            const span = quietly(() => {
              const commands = (self[CMDS] ?? []).map((a) => ({ name: String(a[0]).toUpperCase(), text: redisStatement(String(a[0]), a.slice(1)) }));
              self[CMDS] = [];
              const kind = method === 'execAsPipeline' || args[0] === true ? 'PIPELINE' : 'MULTI';
              return startBatchSpan(layer.tracer, kind, commands, self[CLIENT_OPTIONS]?.socket ?? {});
            });
            if (!span) return original.apply(this, args);
            self[IN_EXEC] = true;
            let p: unknown;
            try {
              p = context.with(layer.shaper.skipContext(trace.setSpan(parent, span)), () => original.apply(this, args));
            } catch (e) {
              endBatchSpan(span, e);
              throw e;
            } finally {
              self[IN_EXEC] = false;
            }
            if (p && typeof (p as Promise<unknown>).then === 'function') {
              (p as Promise<unknown>).then(
                () => endBatchSpan(span, undefined),
                (e: unknown) => endBatchSpan(span, e),
              );
            } else endBatchSpan(span, undefined);
            return p;
          },
        );
      }
      return m;
    };
    const unpatchMulti = (m: unknown): void => {
      const proto = (m as { default?: { prototype?: object } } | undefined)?.default?.prototype;
      for (const method of ['addCommand', 'exec', 'execAsPipeline']) this.unwrapMethod(proto, method);
    };
    // The client's multi()/MULTI(): remember the server address for the batch span.
    const patchClient = (m: unknown): unknown => {
      const proto = (m as { default?: { prototype?: object } }).default?.prototype;
      for (const method of ['multi', 'MULTI']) {
        this.wrapMethod(proto, method, (original) =>
          function multi(this: unknown, ...args: unknown[]) {
            const res = original.apply(this, args);
            if (res && typeof res === 'object') (res as Record<symbol, unknown>)[CLIENT_OPTIONS] = (this as { options?: unknown }).options;
            return res;
          },
        );
      }
      return m;
    };
    const unpatchClient = (m: unknown): void => {
      const proto = (m as { default?: { prototype?: object } } | undefined)?.default?.prototype;
      for (const method of ['multi', 'MULTI']) this.unwrapMethod(proto, method);
    };
    return [
      new InstrumentationNodeModuleDefinition('@redis/client', versions, undefined, undefined, [
        new InstrumentationNodeModuleFile('@redis/client/dist/lib/client/multi-command.js', versions, patchMulti, unpatchMulti),
        new InstrumentationNodeModuleFile('@redis/client/dist/lib/client/index.js', versions, patchClient, unpatchClient),
      ]),
    ];
  }
}

const SEEN = Symbol('@x/otel-agent/ioredis-seen');
const BATCH_SPAN = Symbol('@x/otel-agent/ioredis-batch');
/** What ioredis sends by itself while a connection is being set up. */
const IOREDIS_HANDSHAKE = new Set(['auth', 'hello', 'select', 'client', 'info', 'readonly']);

interface IORedisCommand {
  name?: unknown;
  args?: unknown[];
  [SEEN]?: boolean;
}

/**
 * ioredis (5 and 6), outside the upstream wrapper: no spans for the
 * connection handshake (HELLO, AUTH, SELECT, CLIENT SETNAME / SETINFO, the
 * INFO ready check), none for what ioredis sends by itself once ready (the
 * offline-queue and reconnect replays, whose spans started when the app issued
 * them, and the SELECT that restores the app's database after a reconnect),
 * and one span per MULTI / pipeline.
 */
class IORedisBatch extends Layer {
  protected init() {
    const versions = ['>=5.0.0 <7'];
    const layer = this;
    const patchMain = (m: unknown): unknown => {
      const proto = exportsOf<{ prototype?: object }>(m).prototype;
      this.wrapMethod(proto, 'sendCommand', (original) =>
        function sendCommand(this: unknown, ...args: unknown[]) {
          const cmd = args[0] as IORedisCommand | undefined;
          if (!cmd || typeof cmd !== 'object') return original.apply(this, args);
          const again = cmd[SEEN] === true;
          cmd[SEEN] = true;
          const handshake = (this as { status?: string }).status === 'connect' && IOREDIS_HANDSHAKE.has(String(cmd.name).toLowerCase());
          return again || handshake ? layer.shaper.withoutSpans(() => original.apply(this, args)) : original.apply(this, args);
        },
      );
      return m;
    };
    const unpatchMain = (m: unknown): void => this.unwrapMethod(m ? exportsOf<{ prototype?: object }>(m).prototype : undefined, 'sendCommand');
    const patchPipeline = (m: unknown): unknown => {
      const proto = (m as { default?: { prototype?: object } }).default?.prototype;
      this.wrapMethod(proto, 'exec', (original) =>
        function exec(this: unknown, ...args: unknown[]) {
          const self = this as {
            _queue?: IORedisCommand[];
            [BATCH_SPAN]?: Span;
            redis?: { options?: { host?: unknown; port?: unknown } };
          };
          // MULTI calls exec twice (once to queue EXEC, once to send), retries call it again:
          // one span per pipeline, and the commands sent by any of those calls belong to it.
          const open = self[BATCH_SPAN];
          if (open) return context.with(layer.shaper.skipContext(trace.setSpan(context.active(), open)), () => original.apply(this, args));
          // Like single commands (see upstreamConfig), only inside a traced operation.
          if (layer.shaper.skipping(context.active()) || !trace.getSpan(context.active())) return original.apply(this, args);
          const parent = context.active();
          const span = quietly(() => {
            const queue = Array.isArray(self._queue) ? self._queue : [];
            const isMulti = String(queue[0]?.name).toLowerCase() === 'multi';
            const commands = queue
              .filter((c) => !['multi', 'exec'].includes(String(c.name).toLowerCase()))
              .map((c) => ({ name: String(c.name).toUpperCase(), text: redisStatement(String(c.name), c.args ?? []) }));
            return startBatchSpan(layer.tracer, isMulti ? 'MULTI' : 'PIPELINE', commands, self.redis?.options ?? {});
          });
          if (!span) return original.apply(this, args);
          self[BATCH_SPAN] = span;
          // ioredis calls the callback from inside its own promise chain: keep it in the app's context.
          if (typeof args[0] === 'function') args[0] = context.bind(parent, args[0] as AnyFn);
          let p: unknown;
          try {
            p = context.with(layer.shaper.skipContext(trace.setSpan(parent, span)), () => original.apply(this, args));
          } catch (e) {
            endBatchSpan(span, e);
            throw e;
          }
          if (p && typeof (p as Promise<unknown>).then === 'function') {
            (p as Promise<unknown>).then(
              (results) => endBatchSpan(span, firstPipelineError(results)),
              (e: unknown) => endBatchSpan(span, e),
            );
          } else endBatchSpan(span, undefined);
          // ioredis documents that exec must return its own promise (a different one would leak rejections).
          return p;
        },
      );
      return m;
    };
    const unpatchPipeline = (m: unknown): void => this.unwrapMethod((m as { default?: { prototype?: object } } | undefined)?.default?.prototype, 'exec');
    // readyHandler(self) returns the function ioredis runs when a connection becomes ready; everything it sends
    // synchronously (replays, the re-SELECT, MONITOR) is ioredis' own. ioredis calls it through the exports object.
    const patchEvents = (m: unknown): unknown => {
      this.wrapMethod(m as object, 'readyHandler', (original) =>
        function readyHandler(this: unknown, ...args: unknown[]) {
          const handler = original.apply(this, args);
          if (typeof handler !== 'function') return handler;
          return function ready(this: unknown, ...a: unknown[]) {
            return layer.shaper.withoutSpans(() => (handler as AnyFn).apply(this, a));
          };
        },
      );
      return m;
    };
    const unpatchEvents = (m: unknown): void => this.unwrapMethod(m as object | undefined, 'readyHandler');
    return [
      new InstrumentationNodeModuleDefinition('ioredis', versions, patchMain, unpatchMain, [
        new InstrumentationNodeModuleFile('ioredis/built/Pipeline.js', versions, patchPipeline, unpatchPipeline),
        new InstrumentationNodeModuleFile('ioredis/built/redis/event_handler.js', versions, patchEvents, unpatchEvents),
      ]),
    ];
  }
}

/** A pipeline resolves with [err, result] pairs (MULTI: the EXEC entry holds the replies). */
function firstPipelineError(results: unknown): unknown {
  if (!Array.isArray(results)) return undefined;
  for (const r of results) {
    if (!Array.isArray(r)) continue;
    if (r[0]) return r[0];
    if (Array.isArray(r[1])) {
      const inner = (r[1] as unknown[]).find((x) => x instanceof Error);
      if (inner) return inner;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Entry point for the instrumentation table
// ---------------------------------------------------------------------------------------------

/**
 * The configuration each upstream instrumentation is constructed with.
 *
 * Database calls are traced whether or not a span is active (a worker's or a
 * migration script's queries are real work), except with ioredis: it is the
 * client under BullMQ and similar libraries, which poll Redis in the
 * background, and a root span per poll would bury everything else. ioredis
 * commands (and batches) are traced inside a traced operation: a request, a
 * job, a consumed message. Upstream mongodb defaults to the same restriction
 * for the driver's housekeeping, which is filtered by name here instead.
 */
function upstreamConfig(name: DbInstrumentationName): Record<string, unknown> {
  switch (name) {
    case 'pg':
      // Connect spans stay on: PgPoolCheckout drops the ones that did nothing.
      return { enhancedDatabaseReporting: false, requireParentSpan: false, ignoreConnectSpans: false };
    case 'mysql2':
      // Without masking, upstream formats the parameter values into db.query.text.
      return { maskStatement: true, maskStatementHook: (sql: string) => sanitizeSql(sql, 'mysql') };
    case 'redis':
      return { requireParentSpan: false, dbStatementSerializer: redisStatement };
    case 'ioredis':
      return { requireParentSpan: true, dbStatementSerializer: redisStatement };
    case 'mongodb':
      return { enhancedDatabaseReporting: false, requireParentSpan: false, dbStatementSerializer: mongoStatement };
  }
}

const HOOKS: Record<DbInstrumentationName, Hooks> = {
  // Connect spans keep upstream's names (pg.connect, pg-pool.connect); query spans are renamed.
  pg: { end: finishSql('postgresql', /^pg\.query/) },
  mysql2: { end: finishSql('mysql') },
  redis: { end: finishRedis },
  ioredis: {
    // Upstream's `connect` span measures nothing (it ends when connect() returns its promise).
    start: (name, a) => !(name === 'connect' && a[ATTR_DB_QUERY_TEXT] === 'connect'),
    end: finishRedis,
  },
  mongodb: mongoHooks,
};

/**
 * Builds one table entry's instrumentations: patches that must run inside the
 * upstream wrapper first, then the upstream instrumentation (`make`, given its
 * configuration), then the patches that wrap it.
 */
export function shape(name: DbInstrumentationName, make: (config: Record<string, unknown>) => Instrumentation[]): Instrumentation[] {
  const shaper = new Shaper(HOOKS[name]);
  const inner: Instrumentation[] = [];
  if (name === 'mysql2') inner.push(new Mysql2Errors('mysql2-errors', shaper));
  if (name === 'mongodb') inner.push(new MongoErrors('mongodb-errors', shaper));
  let upstream: Instrumentation[];
  try {
    upstream = make(upstreamConfig(name));
  } catch (e) {
    // The loader reports the failure; the patches registered for it must not stay behind.
    for (const i of inner) i.disable();
    throw e;
  }
  const outer: Instrumentation[] = [];
  if (name === 'pg') outer.push(new PgPoolCheckout('pg-pool-checkout', shaper));
  if (name === 'redis') outer.push(new RedisBatch('redis-batch', shaper));
  if (name === 'ioredis') outer.push(new IORedisBatch('ioredis-batch', shaper));
  for (const i of [...inner, ...upstream, ...outer]) i.setTracerProvider(shaper.provider);
  return [...inner, ...upstream, ...outer];
}
