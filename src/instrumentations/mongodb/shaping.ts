/**
 * mongodb: spans named `<command> <collection>`, statements with every value
 * replaced by `?`, error codes and write errors the server reports in an ok
 * reply, no span for the driver's session housekeeping, and (metrics on)
 * db.client.operation.duration for every command.
 */
import { context, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile, type Instrumentation } from '@opentelemetry/instrumentation';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import { Layer, quietly, shapeWith } from '../db/layer';
import { annotateError, errorName, finishError } from '../db/errors';
import { DbDuration } from '../db/metrics';
import type { Hooks, Shaper } from '../db/shaper';

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

/**
 * MongoDB, inside the upstream wrapper: upstream marks a span failed only when
 * the command throws; the error's code, and write errors the server reports in
 * an ok reply (duplicate keys on insert), are added here. With metrics on, this
 * is also where db.client.operation.duration is recorded, for every command the
 * spans cover, sampled or not: upstream records only db.client.connection.count
 * (old-style, from its pool patches), and the driver's command monitoring events
 * are off unless the app turns them on (monitorCommands), which the agent must not
 * do for it (the app's own listeners would start receiving them).
 */
class MongoCommands extends Layer {
  private duration: DbDuration | undefined;
  private metricsOn = false;

  constructor(shaper: Shaper, metrics: boolean) {
    super('mongodb', shaper);
    this.metricsOn = metrics;
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    this.duration = this.metricsOn === true ? new DbDuration(this.meter) : undefined;
  }

  protected init() {
    const layer = this;
    const patch = (m: unknown): unknown => {
      const proto = (m as { Connection?: { prototype?: object } }).Connection?.prototype;
      const shaper = this.shaper;
      this.wrapMethod(
        proto,
        'command',
        (original) =>
          function command(this: unknown, ...args: unknown[]) {
            const conn = this as MongoConnection;
            const span = shaper.claim();
            const d = layer.duration;
            const cmd = args[1] as Record<string, unknown> | undefined;
            const op = d === undefined ? undefined : countedOperation(cmd);
            const t0 = op === undefined ? 0 : DbDuration.start();
            const ctx = op === undefined ? undefined : context.active();
            const p = original.apply(this, args);
            if ((span || op !== undefined) && p && typeof (p as Promise<unknown>).then === 'function') {
              const record = (errorType: string | undefined): void => {
                if (d !== undefined && op !== undefined) d.record(t0, mongoDurationAttributes(conn, args[0], cmd!, op, errorType), ctx!);
              };
              // A handler that threw would be an unhandled rejection in the app: both are guarded.
              (p as Promise<unknown>).then(
                (reply) =>
                  quietly(() => {
                    // Only a write can carry write errors: other replies are not parsed for them when no span asks.
                    const we = span || (op !== undefined && mayCarryWriteErrors(cmd!, op)) ? writeError(reply) : undefined;
                    const code = typeof we?.code === 'number' ? String(we.code) : undefined;
                    if (we && span) {
                      annotateError(span, code, 'MongoWriteError');
                      span.setStatus({ code: SpanStatusCode.ERROR, message: typeof we.errmsg === 'string' ? we.errmsg : 'write error' });
                    }
                    record(we ? (code ?? 'MongoWriteError') : undefined);
                  }),
                (err: unknown) =>
                  quietly(() => {
                    const e = err as { code?: unknown };
                    const code = typeof e?.code === 'number' ? String(e.code) : undefined;
                    if (span) annotateError(span, code, errorName(err));
                    record(code ?? errorName(err) ?? '_OTHER');
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

interface MongoConnection {
  /** `host:port` of the server. */
  address?: unknown;
}

/** Handshake and monitoring (no span from upstream) and the session cleanup (none from mongoHooks). */
const UNCOUNTED = new Set(['hello', 'ismaster', 'isMaster', ...MONGO_SKIP]);
const WRITES = new Set(['insert', 'update', 'delete']);

/** The command's name (its first key), or undefined when it makes no duration point. */
function countedOperation(cmd: Record<string, unknown> | undefined): string | undefined {
  if (typeof cmd !== 'object' || cmd === null) return undefined;
  for (const k in cmd) return UNCOUNTED.has(k) ? undefined : k;
  return undefined;
}

const mayCarryWriteErrors = (cmd: Record<string, unknown>, op: string): boolean => WRITES.has(op) || cmd.writeConcern !== undefined;

/** The span's low-cardinality attributes: the collection as mongoHooks names it (`$cmd` resolved), the server from the connection. */
function mongoDurationAttributes(conn: MongoConnection, ns: unknown, cmd: Record<string, unknown>, op: string, errorType: string | undefined): Attributes {
  const a: Attributes = { [ATTR_DB_SYSTEM_NAME]: 'mongodb', [ATTR_DB_OPERATION_NAME]: op };
  const n = (typeof ns === 'object' && ns !== null ? ns : {}) as { db?: unknown; collection?: unknown };
  if (typeof n.db === 'string') a[ATTR_DB_NAMESPACE] = n.db;
  let collection = n.collection;
  if (collection === '$cmd' || collection === undefined) collection = cmd[op];
  if (typeof collection === 'string' && collection !== '' && collection !== '$cmd') a[ATTR_DB_COLLECTION_NAME] = collection;
  if (typeof conn.address === 'string') {
    const i = conn.address.lastIndexOf(':');
    const port = i > 0 ? parseInt(conn.address.slice(i + 1), 10) : NaN;
    if (!Number.isNaN(port)) {
      a[ATTR_SERVER_ADDRESS] = conn.address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
      a[ATTR_SERVER_PORT] = port;
    }
  }
  if (errorType !== undefined) a[ATTR_ERROR_TYPE] = errorType;
  return a;
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

export function shape(make: (config: Record<string, unknown>) => Instrumentation[], opts: { metrics?: boolean } = {}): Instrumentation[] {
  return shapeWith(
    mongoHooks,
    // Traced with or without an active span; upstream's default restriction was there for the
    // driver's housekeeping, which is filtered by name here instead (MONGO_SKIP).
    { enhancedDatabaseReporting: false, requireParentSpan: false, dbStatementSerializer: mongoStatement },
    make,
    [(s) => new MongoCommands(s, opts.metrics === true)],
    [],
  );
}
