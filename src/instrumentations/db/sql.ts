/**
 * SQL helpers shared by the database instrumentations: literal masking for
 * `db.query.text`, a low-cardinality summary (`SELECT orders`) for span
 * names, masking of values that database error messages echo back, and the
 * client spans around synchronous SQLite calls.
 *
 * A small tokenizer rather than regexes over the whole text, so that a quote
 * inside a comment, a digit inside an identifier (`order_items2`) or a
 * PostgreSQL dollar-quoted body cannot shift what is treated as a literal.
 * Bundled only into the instrumentation files that need it, never into the
 * agent's startup path.
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_SUMMARY,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
} from '@opentelemetry/semantic-conventions';

export type SqlDialect = 'postgresql' | 'mysql' | 'sqlite';

type TokKind = 'word' | 'quoted' | 'string' | 'number' | 'punct' | 'param' | 'space' | 'comment';
interface Tok {
  kind: TokKind;
  text: string;
}

const isWordStart = (c: string): boolean => /[A-Za-z_\u0080-\uffff]/.test(c);
const isWordChar = (c: string): boolean => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
const isDigit = (c: string): boolean => c >= '0' && c <= '9';

/** End index (exclusive) of a quoted run starting at i, honouring doubled quotes and (MySQL) backslashes. */
function quotedEnd(s: string, i: number, q: string, backslash: boolean): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s[j];
    if (backslash && c === '\\') {
      j += 2;
      continue;
    }
    if (c === q) {
      if (s[j + 1] === q) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return s.length;
}

function tokenize(s: string, dialect: SqlDialect): Tok[] {
  const out: Tok[] = [];
  const mysql = dialect === 'mysql';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    const n = s[i + 1];
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < s.length && /\s/.test(s[j]!)) j++;
      out.push({ kind: 'space', text: s.slice(i, j) });
      i = j;
    } else if ((c === '-' && n === '-') || (c === '#' && mysql)) {
      let j = s.indexOf('\n', i);
      if (j < 0) j = s.length;
      out.push({ kind: 'comment', text: s.slice(i, j) });
      i = j;
    } else if (c === '/' && n === '*') {
      let j = s.indexOf('*/', i + 2);
      j = j < 0 ? s.length : j + 2;
      out.push({ kind: 'comment', text: s.slice(i, j) });
      i = j;
    } else if (c === "'") {
      const j = quotedEnd(s, i, "'", mysql);
      out.push({ kind: 'string', text: s.slice(i, j) });
      i = j;
    } else if ((c === 'E' || c === 'e' || c === 'X' || c === 'x' || c === 'B' || c === 'b' || c === 'N' || c === 'n') && n === "'") {
      // E'..' (escape string), X'..' (blob/hex), B'..' (bits), N'..' (national): one literal with its prefix.
      const j = quotedEnd(s, i + 1, "'", mysql || c === 'E' || c === 'e');
      out.push({ kind: 'string', text: s.slice(i, j) });
      i = j;
    } else if (c === '"') {
      const j = quotedEnd(s, i, '"', mysql);
      // In MySQL (default sql_mode) "..." is a string literal; elsewhere it is an identifier.
      out.push({ kind: mysql ? 'string' : 'quoted', text: s.slice(i, j) });
      i = j;
    } else if (c === '`') {
      const j = quotedEnd(s, i, '`', false);
      out.push({ kind: 'quoted', text: s.slice(i, j) });
      i = j;
    } else if (c === '[' && dialect === 'sqlite') {
      let j = s.indexOf(']', i + 1);
      j = j < 0 ? s.length : j + 1;
      out.push({ kind: 'quoted', text: s.slice(i, j) });
      i = j;
    } else if (c === '$' && dialect === 'postgresql' && n !== undefined && isDigit(n)) {
      let j = i + 1;
      while (j < s.length && isDigit(s[j]!)) j++;
      out.push({ kind: 'param', text: s.slice(i, j) });
      i = j;
    } else if (c === '$' && dialect === 'postgresql' && n !== undefined && (n === '$' || isWordStart(n))) {
      // Dollar-quoted string: $$...$$ or $tag$...$tag$
      let j = i + 1;
      while (j < s.length && s[j] !== '$' && isWordChar(s[j]!)) j++;
      if (s[j] === '$') {
        const tag = s.slice(i, j + 1);
        const end = s.indexOf(tag, j + 1);
        const stop = end < 0 ? s.length : end + tag.length;
        out.push({ kind: 'string', text: s.slice(i, stop) });
        i = stop;
      } else {
        out.push({ kind: 'punct', text: c });
        i++;
      }
    } else if (isDigit(c) || (c === '.' && n !== undefined && isDigit(n))) {
      let j = i;
      if (c === '0' && (n === 'x' || n === 'X')) {
        j += 2;
        while (j < s.length && /[0-9a-fA-F]/.test(s[j]!)) j++;
      } else {
        while (j < s.length && (isDigit(s[j]!) || s[j] === '.')) j++;
        if ((s[j] === 'e' || s[j] === 'E') && (isDigit(s[j + 1] ?? '') || ((s[j + 1] === '+' || s[j + 1] === '-') && isDigit(s[j + 2] ?? '')))) {
          j += 2;
          while (j < s.length && isDigit(s[j]!)) j++;
        }
      }
      out.push({ kind: 'number', text: s.slice(i, j) });
      i = j;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < s.length && isWordChar(s[j]!)) j++;
      out.push({ kind: 'word', text: s.slice(i, j) });
      i = j;
    } else if ((c === '?' || c === ':' || c === '@') && dialect !== 'postgresql' && n !== undefined && (isWordStart(n) || isDigit(n))) {
      // Named/numbered parameters: ?1, :name, @name ($name is covered by words).
      let j = i + 1;
      while (j < s.length && isWordChar(s[j]!)) j++;
      out.push({ kind: 'param', text: s.slice(i, j) });
      i = j;
    } else if (c === ':' && n === ':') {
      out.push({ kind: 'punct', text: '::' });
      i += 2;
    } else {
      out.push({ kind: c === '?' ? 'param' : 'punct', text: c });
      i++;
    }
  }
  return out;
}

/**
 * The query text with every literal (strings, numbers, blobs, dollar-quoted
 * bodies; in MySQL also "double-quoted" strings) replaced by `?`. Identifiers,
 * keywords, placeholders and comments are kept, so the result still reads as
 * the statement the application wrote.
 */
export function sanitizeSql(sql: string, dialect: SqlDialect): string {
  let out = '';
  // Digits inside an identifier (order_items2) belong to its word token, so every number token is a literal.
  for (const t of tokenize(sql, dialect)) out += t.kind === 'string' || t.kind === 'number' ? '?' : t.text;
  return out;
}

export interface SqlSummary {
  /** e.g. `SELECT orders`, `INSERT shipping_details SELECT orders`; undefined when nothing was recognised. */
  summary?: string;
  /** First operation, e.g. SELECT or CREATE TABLE; undefined when the text holds several statements. */
  operation?: string;
  /** First table the statement names, as written (schema-qualified, quotes removed); undefined for several statements. */
  collection?: string;
}

/** Statement-leading keywords we report as operations. */
const OPERATIONS = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'REPLACE',
  'UPSERT',
  'CREATE',
  'DROP',
  'ALTER',
  'TRUNCATE',
  'BEGIN',
  'START',
  'COMMIT',
  'END',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'PRAGMA',
  'VACUUM',
  'ANALYZE',
  'EXPLAIN',
  'SHOW',
  'SET',
  'RESET',
  'CALL',
  'EXEC',
  'EXECUTE',
  'PREPARE',
  'DEALLOCATE',
  'COPY',
  'GRANT',
  'REVOKE',
  'LOCK',
  'DO',
  'VALUES',
  'WITH',
  'LISTEN',
  'UNLISTEN',
  'NOTIFY',
  'ATTACH',
  'DETACH',
  'REINDEX',
  'USE',
  'DESCRIBE',
  'DESC',
  'TABLE',
  'DISCARD',
  'CHECKPOINT',
  'CLUSTER',
  'COMMENT',
  'REFRESH',
  'LOAD',
  'HANDLER',
  'OPTIMIZE',
  'FLUSH',
  'KILL',
]);
/** The kind of object after CREATE/DROP/ALTER becomes part of the operation (`CREATE TABLE`). */
const OBJECT_KINDS = new Set([
  'TABLE',
  'INDEX',
  'VIEW',
  'SEQUENCE',
  'SCHEMA',
  'DATABASE',
  'TRIGGER',
  'FUNCTION',
  'PROCEDURE',
  'TYPE',
  'EXTENSION',
  'ROLE',
  'USER',
]);
const MODIFIERS = new Set([
  'TEMP',
  'TEMPORARY',
  'UNIQUE',
  'OR',
  'REPLACE',
  'VIRTUAL',
  'UNLOGGED',
  'GLOBAL',
  'LOCAL',
  'IF',
  'NOT',
  'EXISTS',
  'CONCURRENTLY',
  'ONLY',
  'MATERIALIZED',
  'RECURSIVE',
  'IGNORE',
  'LOW_PRIORITY',
  'DELAYED',
  'HIGH_PRIORITY',
  'QUICK',
  'ROLLBACK',
  'ABORT',
  'FAIL',
  'LATERAL',
]);
/** Words that end a table reference (so they are not read as an alias). */
const CLAUSE_WORDS = new Set([
  'WHERE',
  'ON',
  'USING',
  'JOIN',
  'INNER',
  'LEFT',
  'RIGHT',
  'FULL',
  'OUTER',
  'CROSS',
  'NATURAL',
  'STRAIGHT_JOIN',
  'GROUP',
  'ORDER',
  'LIMIT',
  'OFFSET',
  'HAVING',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'MINUS',
  'SET',
  'VALUES',
  'SELECT',
  'RETURNING',
  'WINDOW',
  'FOR',
  'DEFAULT',
  'AS',
  'FROM',
  'INTO',
  'WHEN',
  'THEN',
  'FETCH',
  'TABLESAMPLE',
  'PARTITION',
  'LOCK',
  'WITH',
  'DO',
  'CONFLICT',
  'DUPLICATE',
  'INDEXED',
  'NOT',
  'USE',
  'FORCE',
  'IGNORE',
  'QUALIFY',
]);

const unquote = (t: string): string =>
  t[0] === '"' ? t.slice(1, -1).replace(/""/g, '"') : t[0] === '`' ? t.slice(1, -1).replace(/``/g, '`') : t[0] === '[' ? t.slice(1, -1) : t;

/** A possibly schema-qualified table name at toks[i]; after FROM/JOIN a following `(` means a table function, not a table. */
function readName(toks: Tok[], i: number, parenEnds = false): { name: string; next: number } | undefined {
  const first = toks[i];
  if (!first || (first.kind !== 'word' && first.kind !== 'quoted')) return undefined;
  if (first.kind === 'word' && CLAUSE_WORDS.has(first.text.toUpperCase())) return undefined;
  const segs = [unquote(first.text)];
  let j = i + 1;
  while (toks[j]?.text === '.' && (toks[j + 1]?.kind === 'word' || toks[j + 1]?.kind === 'quoted')) {
    segs.push(unquote(toks[j + 1]!.text));
    j += 2;
  }
  if (toks[j]?.text === '(' && !parenEnds) return undefined;
  return { name: segs.join('.'), next: j };
}

/** Index after an optional `[AS] alias` at toks[j]. */
function skipAlias(toks: Tok[], j: number): number {
  if (toks[j]?.kind === 'word' && toks[j]!.text.toUpperCase() === 'AS') j++;
  const t = toks[j];
  if (t && (t.kind === 'quoted' || (t.kind === 'word' && !CLAUSE_WORDS.has(t.text.toUpperCase())))) j++;
  return j;
}

function skipModifiers(toks: Tok[], j: number): number {
  while (toks[j]?.kind === 'word' && MODIFIERS.has(toks[j]!.text.toUpperCase())) j++;
  return j;
}

/**
 * Operations and the tables they name, in the order they appear, which is how
 * the stable database conventions build `db.query.summary`. A best effort:
 * what it does not recognise it leaves out rather than guesses.
 */
export function summarizeSql(sql: string, dialect: SqlDialect): SqlSummary {
  const toks = tokenize(sql, dialect).filter((t) => t.kind !== 'space' && t.kind !== 'comment');
  const parts: string[] = [];
  let operation: string | undefined;
  let collection: string | undefined;
  let statements = 0;
  let atStart = true;
  const target = (name: string): void => {
    parts.push(name);
    if (statements === 1 && collection === undefined) collection = name;
  };
  /** Reads one table (or, after FROM, a comma list); returns the index to continue at. */
  const tables = (j: number, list: boolean, parenEnds = false): number => {
    for (;;) {
      const n = readName(toks, j, parenEnds);
      if (!n) return j;
      target(n.name);
      j = skipAlias(toks, n.next);
      if (!list || toks[j]?.text !== ',') return j;
      j++;
    }
  };
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind === 'punct') {
      if (t.text === ';') atStart = true;
      continue;
    }
    if (t.kind !== 'word') {
      atStart = false;
      continue;
    }
    const w = t.text.toUpperCase();
    if (atStart) {
      atStart = false;
      statements++;
      if (!OPERATIONS.has(w)) continue;
      let op = w;
      let j = i + 1;
      if (w === 'CREATE' || w === 'DROP' || w === 'ALTER') {
        j = skipModifiers(toks, j);
        const kind = toks[j]?.kind === 'word' ? toks[j]!.text.toUpperCase() : '';
        if (OBJECT_KINDS.has(kind)) {
          op = `${w} ${kind}`;
          j = skipModifiers(toks, j + 1);
          if (kind === 'INDEX') {
            // CREATE INDEX [name] ON table: the table is the target
            if (toks[j]?.kind !== 'word' || toks[j]!.text.toUpperCase() !== 'ON') j = readName(toks, j)?.next ?? j;
            if (toks[j]?.kind === 'word' && toks[j]!.text.toUpperCase() === 'ON') j = skipModifiers(toks, j + 1);
            else j = toks.length;
          }
        } else j = toks.length;
      }
      parts.push(op);
      if (statements === 1) operation = op;
      if (op.includes(' ') || w === 'UPDATE' || w === 'TRUNCATE') {
        if (w === 'TRUNCATE' && toks[j]?.kind === 'word' && toks[j]!.text.toUpperCase() === 'TABLE') j++;
        i = tables(skipModifiers(toks, j), w === 'TRUNCATE', true) - 1;
      }
      continue;
    }
    if (w === 'SELECT') parts.push('SELECT');
    else if (w === 'FROM' || w === 'JOIN' || w === 'INTO') i = tables(skipModifiers(toks, i + 1), w === 'FROM', w === 'INTO') - 1;
  }
  if (statements > 1) {
    operation = undefined;
    collection = undefined;
  }
  let summary = parts.join(' ');
  if (summary.length > 255) summary = summary.slice(0, 255).replace(/\s\S*$/, '');
  return { summary: summary || undefined, operation, collection };
}

export interface SqlAnalysis extends SqlSummary {
  /** The query text with literals masked (see sanitizeSql). */
  text: string;
}

/** One map per dialect, keyed by the text itself (a composite key would be a new string to hash per call). */
const analyses: Record<SqlDialect, Map<string, SqlAnalysis>> = { postgresql: new Map(), mysql: new Map(), sqlite: new Map() };
const ANALYSES_MAX = 1000;
const ANALYSIS_KEY_MAX = 4096;

/**
 * sanitizeSql + summarizeSql, remembered for recently seen texts: an app runs
 * the same few statements over and over. Bounded in entries and key length;
 * texts that differ by their literals each take an entry until the map is
 * full, when it starts over.
 */
export function analyzeSql(sql: string, dialect: SqlDialect): SqlAnalysis {
  const cache = analyses[dialect];
  const cacheable = sql.length <= ANALYSIS_KEY_MAX;
  const hit = cacheable ? cache.get(sql) : undefined;
  if (hit) return hit;
  const text = sanitizeSql(sql, dialect);
  const a: SqlAnalysis = { text, ...summarizeSql(text, dialect) };
  if (cacheable) {
    if (cache.size >= ANALYSES_MAX) cache.clear();
    cache.set(sql, a);
  }
  return a;
}

/**
 * Masks values that database error messages quote back at the caller
 * (`Duplicate entry 'alice@example.com'`, `invalid input syntax for type
 * integer: "hunter2"`, `dup key: { email: "..." }`), keeping identifiers
 * such as `relation "orders" does not exist` readable.
 */
export function redactDbMessage(msg: string): string {
  return (
    msg
      // a double-quoted token that begins with a string literal (SQLite: unrecognized token: "'abc")
      .replace(/"'[^"]*"/g, '"?"')
      // MySQL quotes the SQL after a syntax error without escaping its quotes
      .replace(/near '.*' at line (\d+)/g, 'near ? at line $1')
      // 'single-quoted' runs are values in MySQL/SQLite messages and SQL fragments near a syntax
      // error; an apostrophe inside a word (doesn't) does not start one
      .replace(/(^|[^A-Za-z0-9_])'(?:[^']|'')*(?:'|$)/g, '$1?')
      // MongoDB duplicate-key details
      .replace(/dup key: \{.*\}/g, 'dup key: { ? }')
      // PostgreSQL echoes a rejected value after ": " or as `value "..."`
      .replace(/(: |value )"(?:[^"]|"")*"/g, '$1"?"')
      // a double-quoted token that is a number
      .replace(/"[-+]?\d[\d.eE+-]*"/g, '"?"')
  );
}

// ---------------------------------------------------------------------------------------------
// Client spans around synchronous SQLite calls (node:sqlite and better-sqlite3)
// ---------------------------------------------------------------------------------------------

/** What a statement's spans carry, computed once per statement (or per exec text). */
export interface SqlCall {
  name: string;
  attributes: Attributes;
}

export function describeSqliteCall(sql: string, namespace: string | undefined): SqlCall {
  const s = analyzeSql(sql, 'sqlite');
  const attributes: Attributes = { [ATTR_DB_SYSTEM_NAME]: 'sqlite', [ATTR_DB_QUERY_TEXT]: s.text };
  if (namespace) attributes[ATTR_DB_NAMESPACE] = namespace;
  if (s.summary) attributes[ATTR_DB_QUERY_SUMMARY] = s.summary;
  if (s.operation) attributes[ATTR_DB_OPERATION_NAME] = s.operation;
  if (s.collection) attributes[ATTR_DB_COLLECTION_NAME] = s.collection;
  return { name: s.summary ?? s.operation ?? 'sqlite', attributes };
}

/** `app.db` for /var/lib/app/app.db; `:memory:` for in-memory databases. */
export function sqliteNamespace(location: string | null | undefined, memory = false): string | undefined {
  if (memory || location === null || location === ':memory:') return ':memory:';
  if (!location) return undefined;
  const m = /[^/\\]+$/.exec(location);
  return m ? m[0] : location;
}

/** SQLite primary result codes (the low byte of an extended code). */
const SQLITE_CODES = [
  'SQLITE_OK',
  'SQLITE_ERROR',
  'SQLITE_INTERNAL',
  'SQLITE_PERM',
  'SQLITE_ABORT',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_NOMEM',
  'SQLITE_READONLY',
  'SQLITE_INTERRUPT',
  'SQLITE_IOERR',
  'SQLITE_CORRUPT',
  'SQLITE_NOTFOUND',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
  'SQLITE_PROTOCOL',
  'SQLITE_EMPTY',
  'SQLITE_SCHEMA',
  'SQLITE_TOOBIG',
  'SQLITE_CONSTRAINT',
  'SQLITE_MISMATCH',
  'SQLITE_MISUSE',
  'SQLITE_NOLFS',
  'SQLITE_AUTH',
  'SQLITE_FORMAT',
  'SQLITE_RANGE',
  'SQLITE_NOTADB',
  'SQLITE_NOTICE',
  'SQLITE_WARNING',
];

/**
 * error.type and db.response.status_code for an error thrown by an SQLite
 * binding: better-sqlite3 gives the extended code name (SQLITE_CONSTRAINT_PRIMARYKEY),
 * node:sqlite the extended code number (1555, reported with its primary name
 * SQLITE_CONSTRAINT); anything else (a bad bind argument) its code or class.
 */
export function sqliteErrorType(err: unknown): { type: string; status?: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; errcode?: unknown; name?: unknown };
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) return { type: e.code, status: e.code };
  if (typeof e.errcode === 'number') return { type: SQLITE_CODES[e.errcode & 0xff] ?? 'SQLITE_ERROR', status: String(e.errcode) };
  if (typeof e.code === 'string' && e.code !== '') return { type: e.code };
  return { type: typeof e.name === 'string' && e.name !== '' ? e.name : '_OTHER' };
}

/** Marks the span failed without letting values the database quoted back into the message reach the exporter. */
export function recordDbError(span: Span, err: unknown, type: { type: string; status?: string }): void {
  const e = err instanceof Error ? err : new Error(String(err));
  const safe = redactDbMessage(e.message);
  span.recordException({ name: e.name, message: safe, stack: e.stack?.split(e.message).join(safe) });
  span.setAttribute(ATTR_ERROR_TYPE, type.type);
  if (type.status) span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, type.status);
  span.setStatus({ code: SpanStatusCode.ERROR, message: safe });
}

/**
 * Runs a synchronous database call inside a CLIENT span that starts and ends
 * around it; a thrown error is recorded and rethrown as the same object.
 */
export function traceSync<T>(tracer: Tracer, call: SqlCall, fn: () => T, errorType: (e: unknown) => { type: string; status?: string }): T {
  const parent = context.active();
  const span = tracer.startSpan(call.name, { kind: SpanKind.CLIENT, attributes: call.attributes }, parent);
  let result: T;
  try {
    result = context.with(trace.setSpan(parent, span), fn);
  } catch (e) {
    recordDbError(span, e, errorType(e));
    span.end();
    throw e;
  }
  span.end();
  return result;
}

/**
 * A span for a failed call that was not traced up front (a prepare that
 * threw): started at `startTime`, ended now.
 */
export function traceFailure(
  tracer: Tracer,
  call: SqlCall,
  startTime: number,
  err: unknown,
  errorType: (e: unknown) => { type: string; status?: string },
): void {
  const span = tracer.startSpan(call.name, { kind: SpanKind.CLIENT, attributes: call.attributes, startTime });
  recordDbError(span, err, errorType(err));
  span.end();
}

type Iter = Iterator<unknown> & { return?: (v?: unknown) => IteratorResult<unknown> };

/**
 * iterate(): the span covers the rows being read, from the call until the
 * iterator is exhausted, closed (`break` out of for...of calls return()) or
 * throws. The iterator object itself is returned, so its prototype (and the
 * iterator helpers on it) stay as they are.
 */
export function traceIterator(
  tracer: Tracer,
  call: SqlCall,
  fn: () => unknown,
  errorType: (e: unknown) => { type: string; status?: string },
  /** Called once when the span ends (the duration metric): `failed` with the error. */
  done?: (failed: boolean, err: unknown) => void,
): unknown {
  const parent = context.active();
  const span = tracer.startSpan(call.name, { kind: SpanKind.CLIENT, attributes: call.attributes }, parent);
  const active = trace.setSpan(parent, span);
  let it: Iter;
  try {
    it = context.with(active, fn) as Iter;
  } catch (e) {
    recordDbError(span, e, errorType(e));
    span.end();
    done?.(true, e);
    throw e;
  }
  if (!it || typeof it.next !== 'function' || !Object.isExtensible(it)) {
    span.end();
    done?.(false, undefined);
    return it;
  }
  let open = true;
  const finish = (err?: unknown): void => {
    if (!open) return;
    open = false;
    if (err !== undefined) recordDbError(span, err, errorType(err));
    span.end();
    done?.(err !== undefined, err);
  };
  const next = it.next;
  const ret = it.return;
  Object.defineProperty(it, 'next', {
    configurable: true,
    writable: true,
    value: function (this: Iter, ...args: []): IteratorResult<unknown> {
      let r: IteratorResult<unknown>;
      try {
        r = context.with(active, () => next.apply(this, args));
      } catch (e) {
        finish(e);
        throw e;
      }
      if (r.done) finish();
      return r;
    },
  });
  if (typeof ret === 'function') {
    Object.defineProperty(it, 'return', {
      configurable: true,
      writable: true,
      value: function (this: Iter, ...args: [unknown?]): IteratorResult<unknown> {
        try {
          return ret.apply(this, args);
        } finally {
          finish();
        }
      },
    });
  }
  return it;
}
