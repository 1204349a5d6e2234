/**
 * mysql2: query spans named `<operation> <table>` with literal-free
 * db.query.text (upstream would interpolate the parameter values), error.type
 * from the driver's error code, MariaDB told apart from MySQL.
 */
import { InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile, type Instrumentation } from '@opentelemetry/instrumentation';
import { ATTR_DB_SYSTEM_NAME } from '@opentelemetry/semantic-conventions';
import { Layer, exportsOf, quietly, shapeWith, type AnyFn } from '../db/layer';
import { annotateError, errorName, finishSql } from '../db/errors';
import { sanitizeSql } from '../db/sql';

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

export function shape(make: (config: Record<string, unknown>) => Instrumentation[]): Instrumentation[] {
  return shapeWith(
    { end: finishSql('mysql') },
    // Without masking, upstream formats the parameter values into db.query.text.
    { maskStatement: true, maskStatementHook: (sql: string) => sanitizeSql(sql, 'mysql') },
    make,
    [(s) => new Mysql2Errors('mysql2-errors', s)],
    [],
  );
}
