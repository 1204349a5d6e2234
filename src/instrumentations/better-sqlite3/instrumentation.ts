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
 * With metrics on, db.client.operation.duration: one point per call that has a
 * span, sampled or not (db/sqlite-wrappers.ts).
 *
 * The Statement class lives in the native addon and is not exported, so its
 * prototype is patched when the first statement is prepared.
 */
import { InstrumentationBase, InstrumentationNodeModuleDefinition, isWrapped } from '@opentelemetry/instrumentation';
import { describeSqliteCall, sqliteNamespace, type SqlCall } from '../db/sql';
import { wrapExec, wrapPrepare, wrapStatement, type AnyFn, type SqliteConfig, type SqliteTarget } from '../db/sqlite-wrappers';
import { DbDuration } from '../db/metrics';
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
type Proto = Record<string, AnyFn>;

const STATEMENT_METHODS = ['run', 'get', 'all', 'iterate'] as const;

function exportsOf(m: unknown): DatabaseClass {
  const mod = m as { [Symbol.toStringTag]?: string; default?: DatabaseClass };
  return mod[Symbol.toStringTag] === 'Module' && mod.default ? mod.default : (m as DatabaseClass);
}

export class BetterSqlite3Instrumentation extends InstrumentationBase<SqliteConfig> {
  private duration: DbDuration | undefined;
  private readonly statements = new WeakMap<Stmt, SqlCall>();
  private readonly statementProtos = new Set<Proto>();

  /** What the shared wrappers (db/sqlite-wrappers.ts) ask of this instrumentation. */
  private readonly target: SqliteTarget = ((inst) => ({
    get tracer() {
      return inst.tracer;
    },
    get duration() {
      return inst.duration;
    },
    namespaceOf: (db: unknown) => inst.namespaceOf(db as Db),
    callOf: (stmt: unknown) => inst.callOf(stmt as Stmt),
    prepared: (stmt: object, call: SqlCall) => {
      inst.statements.set(stmt as Stmt, call);
      inst.patchStatementClass(Object.getPrototypeOf(stmt) as Proto | null);
    },
  }))(this);

  constructor(config: SqliteConfig = {}) {
    super('@x/otel-agent/better-sqlite3', AGENT_VERSION, config);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    this.duration = this.getConfig().metrics ? new DbDuration(this.meter) : undefined;
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'better-sqlite3',
        ['>=9.0.0 <13'],
        (m: unknown) => {
          const proto = exportsOf(m)?.prototype as unknown as Proto | undefined;
          if (!proto) return m;
          if (!isWrapped(proto.exec)) this._wrap(proto, 'exec', ((o: AnyFn) => wrapExec(this.target, o)) as never);
          if (!isWrapped(proto.prepare)) this._wrap(proto, 'prepare', ((o: AnyFn) => wrapPrepare(this.target, o)) as never);
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

  private patchStatementClass(proto: Proto | null): void {
    if (!proto || this.statementProtos.has(proto)) return;
    this.statementProtos.add(proto);
    for (const k of STATEMENT_METHODS) {
      if (typeof proto[k] === 'function' && !isWrapped(proto[k])) this._wrap(proto, k, ((o: AnyFn) => wrapStatement(this.target, o, k === 'iterate')) as never);
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
}
