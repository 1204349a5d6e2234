/**
 * mongodb: spans named `<command> <collection>`, statements with every value
 * replaced by `?`, error codes and write errors the server reports in an ok
 * reply, and no span for the driver's session housekeeping.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile, type Instrumentation } from '@opentelemetry/instrumentation';
import { ATTR_DB_COLLECTION_NAME, ATTR_DB_NAMESPACE, ATTR_DB_OPERATION_NAME } from '@opentelemetry/semantic-conventions';
import { Layer, quietly, shapeWith } from '../db/layer';
import { annotateError, errorName, finishError } from '../db/errors';
import type { Hooks } from '../db/shaper';

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
 * an ok reply (duplicate keys on insert), are added here.
 */
class MongoErrors extends Layer {
  protected init() {
    const patch = (m: unknown): unknown => {
      const proto = (m as { Connection?: { prototype?: object } }).Connection?.prototype;
      const shaper = this.shaper;
      this.wrapMethod(
        proto,
        'command',
        (original) =>
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

export function shape(make: (config: Record<string, unknown>) => Instrumentation[]): Instrumentation[] {
  return shapeWith(
    mongoHooks,
    // Traced with or without an active span; upstream's default restriction was there for the
    // driver's housekeeping, which is filtered by name here instead (MONGO_SKIP).
    { enhancedDatabaseReporting: false, requireParentSpan: false, dbStatementSerializer: mongoStatement },
    make,
    [(s) => new MongoErrors('mongodb-errors', s)],
    [],
  );
}
