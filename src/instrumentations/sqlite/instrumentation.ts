/**
 * Node's built-in SQLite (`node:sqlite`), which no established agent traces.
 *
 * One CLIENT span per call that runs SQL: `DatabaseSync#exec(sql)` and the
 * execution methods of a prepared statement (`run`, `get`, `all`, `iterate`).
 * `prepare()` itself only compiles; it gets a span only when it fails, since
 * that failure is the query failing. The calls are synchronous, so each span
 * starts and ends around the call; errors are recorded and rethrown as the
 * same object. `iterate()`'s span lasts until the iterator is exhausted or
 * closed.
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
 * `node:sqlite` exists only with the `node:` prefix: require-in-the-middle
 * and import-in-the-middle both report it as `node:sqlite`, which is the name
 * hooked here. Built-ins have no package version, so the supported range is
 * checked against Node's own version.
 */
import type * as sqlite from 'node:sqlite';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, isWrapped } from '@opentelemetry/instrumentation';
import { describeSqliteCall, sqliteNamespace, type SqlCall } from '../db/sql';
import { wrapExec, wrapPrepare, wrapStatement, type AnyFn, type SqliteConfig, type SqliteTarget } from '../db/sqlite-wrappers';
import { DbDuration } from '../db/metrics';
import { AGENT_VERSION } from '../../version';

type SqliteModule = typeof sqlite;
type Db = sqlite.DatabaseSync;
type Stmt = sqlite.StatementSync;

/** import-in-the-middle hands over the ESM namespace; the classes are the same as require()'s. */
function moduleExports(m: SqliteModule): SqliteModule {
  const ns = m as unknown as { [Symbol.toStringTag]?: string; default?: SqliteModule };
  return ns[Symbol.toStringTag] === 'Module' && ns.default ? ns.default : m;
}

function prototypes(mod: SqliteModule, names: string[]): Record<string, AnyFn>[] {
  const out = new Set<Record<string, AnyFn>>();
  for (const n of names) {
    const C = (mod as unknown as Record<string, unknown>)[n] as { prototype?: Record<string, AnyFn> } | undefined;
    if (C && typeof C.prototype === 'object') out.add(C.prototype);
  }
  return [...out];
}

/** The API traced here is the one of Node 22.5 to 25 (node:sqlite is still a release candidate). */
function nodeSupported(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return (major === 22 && minor >= 5) || major === 23 || major === 24 || major === 25;
}

export class SqliteInstrumentation extends InstrumentationBase<SqliteConfig> {
  private duration: DbDuration | undefined;
  private readonly namespaces = new WeakMap<Db, string | undefined>();
  private readonly statements = new WeakMap<Stmt, SqlCall>();

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
    },
  }))(this);

  constructor(config: SqliteConfig = {}) {
    super('@x/otel-agent/sqlite', AGENT_VERSION, config);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    this.duration = this.getConfig().metrics ? new DbDuration(this.meter) : undefined;
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'node:sqlite',
        ['*'],
        (m: SqliteModule) => this.patch(m),
        (m: SqliteModule) => this.unpatch(m),
      ),
    ];
  }

  private patch(m: SqliteModule): SqliteModule {
    const mod = moduleExports(m);
    if (!nodeSupported()) {
      this._diag.warn(`node:sqlite on Node ${process.versions.node} is not traced (supported: 22.5 to 25)`);
      return m;
    }
    // CJS and ESM loads hand over the same prototypes, and newer Node names the classes
    // Database / Statement with the *Sync names as aliases: each prototype is wrapped once.
    for (const dbProto of prototypes(mod, ['DatabaseSync', 'Database'])) {
      if (typeof dbProto.exec === 'function' && !isWrapped(dbProto.exec)) this._wrap(dbProto, 'exec', ((o: AnyFn) => wrapExec(this.target, o)) as never);
      if (typeof dbProto.prepare === 'function' && !isWrapped(dbProto.prepare))
        this._wrap(dbProto, 'prepare', ((o: AnyFn) => wrapPrepare(this.target, o)) as never);
    }
    for (const stProto of prototypes(mod, ['StatementSync', 'Statement'])) {
      for (const method of ['run', 'get', 'all', 'iterate'] as const) {
        if (typeof stProto[method] === 'function' && !isWrapped(stProto[method])) {
          this._wrap(stProto, method, ((o: AnyFn) => wrapStatement(this.target, o, method === 'iterate')) as never);
        }
      }
    }
    return m;
  }

  private unpatch(m: SqliteModule): void {
    const mod = moduleExports(m);
    for (const p of prototypes(mod, ['DatabaseSync', 'Database'])) for (const k of ['exec', 'prepare']) if (isWrapped(p[k])) this._unwrap(p, k);
    for (const p of prototypes(mod, ['StatementSync', 'Statement'])) for (const k of ['run', 'get', 'all', 'iterate']) if (isWrapped(p[k])) this._unwrap(p, k);
  }

  private namespaceOf(db: Db): string | undefined {
    if (this.namespaces.has(db)) return this.namespaces.get(db);
    let ns: string | undefined;
    try {
      // location() (Node >= 22.16 / 23.11) is the file path, or null for an in-memory database.
      const loc = (db as unknown as { location?: () => string | null }).location;
      ns = typeof loc === 'function' ? sqliteNamespace(loc.call(db)) : undefined;
    } catch {
      // A closed database: the call itself will fail and say so.
      return undefined;
    }
    this.namespaces.set(db, ns);
    return ns;
  }

  private callOf(stmt: Stmt): SqlCall | undefined {
    let call = this.statements.get(stmt);
    if (!call) {
      // Prepared before the patch: the SQL is known, the database is not.
      let sql: unknown;
      try {
        sql = (stmt as unknown as { sourceSQL?: unknown }).sourceSQL;
      } catch {
        sql = undefined;
      }
      if (typeof sql !== 'string') return undefined;
      call = describeSqliteCall(sql, undefined);
      this.statements.set(stmt, call);
    }
    return call;
  }
}
