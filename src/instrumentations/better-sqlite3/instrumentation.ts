/**
 * better-sqlite3 (9 to 12), which no established agent traces.
 *
 * One CLIENT span per call that runs SQL: `Database#exec(sql)` and a prepared
 * statement's `run`, `get`, `all` and `iterate` (which is also what
 * `db.pragma()` and `db.transaction()` run underneath). `prepare()` itself
 * only compiles; it gets a span only when it fails, since that failure is the
 * query failing. The calls are synchronous, so each span starts and ends
 * around the call; errors are recorded and rethrown as the same object.
 * `iterate()`'s span lasts until the iterator is exhausted or closed.
 *
 * Attributes: db.system.name=sqlite, db.namespace (the database file's base
 * name, `:memory:` for in-memory databases), db.query.text with literals
 * replaced by `?` (never the bound values), db.query.summary /
 * db.operation.name / db.collection.name parsed from the SQL; the span is
 * named by the summary, e.g. `SELECT orders`.
 *
 * The Statement class lives in the native addon and is not exported, so its
 * prototype is patched when the first statement is prepared.
 */
import { InstrumentationBase, InstrumentationNodeModuleDefinition, isWrapped, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { describeSqliteCall, sqliteErrorType, sqliteNamespace, traceFailure, traceIterator, traceSync, type SqlCall } from '../db/sql';
import { AGENT_VERSION } from '../../version';

// The package ships no type declarations; these are the parts used here.
interface Db {
  name: string;
  memory: boolean;
}
interface Stmt {
  source: string;
  database: Db;
}
type DatabaseClass = { prototype: object };
type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
type Proto = Record<string, AnyFn>;

const STATEMENT_METHODS = ['run', 'get', 'all', 'iterate'] as const;

function exportsOf(m: unknown): DatabaseClass {
  const mod = m as { [Symbol.toStringTag]?: string; default?: DatabaseClass };
  return mod[Symbol.toStringTag] === 'Module' && mod.default ? mod.default : (m as DatabaseClass);
}

export class BetterSqlite3Instrumentation extends InstrumentationBase<InstrumentationConfig> {
  private readonly statements = new WeakMap<Stmt, SqlCall>();
  private readonly statementProtos = new Set<Proto>();

  constructor(config: InstrumentationConfig = {}) {
    super('@x/otel-agent/better-sqlite3', AGENT_VERSION, config);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'better-sqlite3',
        ['>=9.0.0 <13'],
        (m: unknown) => {
          const proto = exportsOf(m)?.prototype as unknown as Proto | undefined;
          if (!proto) return m;
          if (!isWrapped(proto.exec)) this._wrap(proto, 'exec', ((o: AnyFn) => this.wrapExec(o)) as never);
          if (!isWrapped(proto.prepare)) this._wrap(proto, 'prepare', ((o: AnyFn) => this.wrapPrepare(o)) as never);
          return m;
        },
        (m: unknown) => {
          const proto = exportsOf(m)?.prototype as unknown as Proto | undefined;
          if (proto) for (const k of ['exec', 'prepare']) if (isWrapped(proto[k])) this._unwrap(proto, k);
          for (const sp of this.statementProtos) for (const k of STATEMENT_METHODS) if (isWrapped(sp[k])) this._unwrap(sp, k);
          this.statementProtos.clear();
        },
      ),
    ];
  }

  private namespaceOf(db: Db | undefined): string | undefined {
    if (!db) return undefined;
    return sqliteNamespace(db.name, db.memory);
  }

  private wrapExec(original: AnyFn): AnyFn {
    const inst = this;
    return function exec(this: unknown, ...args: unknown[]) {
      const sql = args[0];
      if (typeof sql !== 'string') return original.apply(this, args);
      return traceSync(inst.tracer, describeSqliteCall(sql, inst.namespaceOf(this as Db)), () => original.apply(this, args), sqliteErrorType);
    };
  }

  private wrapPrepare(original: AnyFn): AnyFn {
    const inst = this;
    return function prepare(this: unknown, ...args: unknown[]) {
      const sql = args[0];
      if (typeof sql !== 'string') return original.apply(this, args);
      const started = Date.now();
      let stmt: unknown;
      try {
        stmt = original.apply(this, args);
      } catch (e) {
        traceFailure(inst.tracer, describeSqliteCall(sql, inst.namespaceOf(this as Db)), started, e, sqliteErrorType);
        throw e;
      }
      if (stmt && typeof stmt === 'object') {
        inst.statements.set(stmt as Stmt, describeSqliteCall(sql, inst.namespaceOf(this as Db)));
        inst.patchStatementClass(Object.getPrototypeOf(stmt) as Proto | null);
      }
      return stmt;
    };
  }

  private patchStatementClass(proto: Proto | null): void {
    if (!proto || this.statementProtos.has(proto)) return;
    this.statementProtos.add(proto);
    for (const k of STATEMENT_METHODS) {
      if (typeof proto[k] === 'function' && !isWrapped(proto[k])) this._wrap(proto, k, ((o: AnyFn) => this.wrapStatement(o, k === 'iterate')) as never);
    }
  }

  private callOf(stmt: Stmt): SqlCall | undefined {
    let call = this.statements.get(stmt);
    if (!call) {
      const s = stmt as unknown as { source?: unknown; database?: Db };
      if (typeof s.source !== 'string') return undefined;
      call = describeSqliteCall(s.source, this.namespaceOf(s.database));
      this.statements.set(stmt, call);
    }
    return call;
  }

  private wrapStatement(original: AnyFn, iterate: boolean): AnyFn {
    const inst = this;
    return function statement(this: unknown, ...args: unknown[]) {
      const call = inst.callOf(this as Stmt);
      if (!call) return original.apply(this, args);
      const run = (): unknown => original.apply(this, args);
      return iterate ? traceIterator(inst.tracer, call, run, sqliteErrorType) : traceSync(inst.tracer, call, run, sqliteErrorType);
    };
  }
}
