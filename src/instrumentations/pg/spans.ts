/**
 * What pg's spans and duration points say, given the driver's objects: no
 * patching here (instrumentation.ts), only attributes, names and errors.
 *
 * The spans are the ones users of this agent already had from upstream
 * instrumentation-pg plus the agent's corrections (docs/databases.md):
 * `SELECT orders` with literal-free db.query.text, `pg.connect` and
 * `pg-pool.connect` keeping upstream's names, error.type from the SQLSTATE.
 */
import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_SUMMARY,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import { analyzeSql, redactDbMessage, type SqlAnalysis } from '../db/sql';
import type { PoolState } from '../db/metrics';

export const SYSTEM = 'postgresql';

/** The parts of a pg Client (JS or native) read here. */
export interface PgClientLike {
  connectionParameters: { host?: unknown; port?: unknown; database?: unknown };
  database?: unknown;
  host?: unknown;
  port?: unknown;
}

export interface PgPoolLike {
  options?: {
    connectionString?: unknown;
    database?: unknown;
    host?: unknown;
    port?: unknown;
    idleTimeoutMillis?: unknown;
    maxClient?: unknown;
    max?: unknown;
  };
  totalCount?: unknown;
  idleCount?: unknown;
  waitingCount?: unknown;
  ending?: unknown;
  ended?: unknown;
  _idle?: unknown[];
  _pendingQueue?: unknown[];
}

/** A query's text, from `query(text)`, `query({ text })` or a submittable (pg.Query, cursors); undefined: not a query we can name. */
export function queryText(config: unknown): string | undefined {
  if (typeof config === 'string') return config;
  if (typeof config === 'object' && config !== null) {
    const t = (config as { text?: unknown }).text;
    if (typeof t === 'string') return t;
  }
  return undefined;
}

export function analyze(text: string): SqlAnalysis {
  return analyzeSql(text, SYSTEM);
}

export const spanName = (a: SqlAnalysis): string => a.summary ?? SYSTEM;

const intPort = (p: unknown): number | undefined => (typeof p === 'number' && Number.isInteger(p) ? p : undefined);

/**
 * A query span's attributes. Reads connectionParameters without a guard on
 * purpose: a client without them is not the pg this was written for, and the
 * TypeError switches the instrumentation off (instrumentation.ts, fail()).
 */
export function queryAttributes(client: PgClientLike, a: SqlAnalysis, config: unknown): Attributes {
  const p = client.connectionParameters;
  const attrs: Attributes = {
    [ATTR_DB_SYSTEM_NAME]: SYSTEM,
    [ATTR_DB_NAMESPACE]: p.database as string,
    [ATTR_SERVER_PORT]: p.port as number,
    [ATTR_SERVER_ADDRESS]: p.host as string,
    [ATTR_DB_QUERY_TEXT]: a.text,
  };
  if (a.summary) attrs[ATTR_DB_QUERY_SUMMARY] = a.summary;
  if (a.operation) attrs[ATTR_DB_OPERATION_NAME] = a.operation;
  if (a.collection) attrs[ATTR_DB_COLLECTION_NAME] = a.collection;
  const name = typeof config === 'object' && config !== null ? (config as { name?: unknown }).name : undefined;
  // The name of a named prepared statement (upstream's attribute).
  if (typeof name === 'string') attrs['db.postgresql.plan'] = name;
  return attrs;
}

/** `pg.connect`: the client's own connection settings. */
export function connectAttributes(client: PgClientLike): Attributes {
  return {
    [ATTR_DB_SYSTEM_NAME]: SYSTEM,
    [ATTR_DB_NAMESPACE]: client.database as string,
    [ATTR_SERVER_ADDRESS]: client.host as string,
    [ATTR_SERVER_PORT]: intPort(client.port),
  };
}

/** `pg-pool.connect`: the pool's options (its connection string wins, as in pg). */
export function poolAttributes(pool: PgPoolLike): Attributes {
  const o = pool.options ?? {};
  let url: URL | undefined;
  try {
    url = typeof o.connectionString === 'string' ? new URL(o.connectionString) : undefined;
  } catch {
    url = undefined;
  }
  return {
    'db.postgresql.idle.timeout.millis': o.idleTimeoutMillis as number,
    'db.postgresql.max.client': o.maxClient as number,
    [ATTR_DB_SYSTEM_NAME]: SYSTEM,
    [ATTR_DB_NAMESPACE]: url ? url.pathname.slice(1) : (o.database as string),
    [ATTR_SERVER_ADDRESS]: url ? url.hostname : (o.host as string),
    [ATTR_SERVER_PORT]: Number(url?.port) || intPort(o.port),
  };
}

/**
 * A checkout that hands out an idle client does no I/O: no span for it (the
 * agent's rule, docs/databases.md). One that opens a connection or waits for
 * a busy pool gets one.
 */
export function immediateCheckout(pool: PgPoolLike): boolean {
  const idle = pool._idle;
  const pending = pool._pendingQueue;
  return Array.isArray(idle) && Array.isArray(pending) && idle.length > pending.length;
}

/**
 * error.type (and db.response.status_code) for a pg error: the SQLSTATE for
 * errors from the server, the Node code for network errors (ECONNREFUSED),
 * else the error's class when it says more than `Error`, else `_OTHER`.
 */
export function pgErrorType(err: unknown): { type: string; status?: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; name?: unknown };
  const code = e.code === undefined || e.code === null ? undefined : String(e.code);
  if (code && /^[0-9A-Z]{5}$/.test(code)) return { type: code, status: code };
  if (code && code !== 'UNKNOWN') return { type: code };
  const name = typeof e.name === 'string' ? e.name : undefined;
  return { type: name && name !== 'error' && name !== 'Error' ? name : '_OTHER' };
}

/**
 * Marks a span failed. The exception event carries only the error's class and
 * code (what upstream recorded, and all that is safe: PostgreSQL quotes values
 * in its messages); the status message has the quoted values masked.
 */
export function failSpan(span: Span, err: unknown, type: { type: string; status?: string }): void {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown };
    span.recordException(`PostgreSQL error of type '${e.name ?? 'PostgreSQLError'}' occurred (code: ${String(e.code ?? 'UNKNOWN')})`);
  }
  const msg = typeof err === 'object' && err !== null && 'message' in err ? String((err as { message: unknown }).message) : undefined;
  span.setStatus({ code: SpanStatusCode.ERROR, message: msg === undefined ? undefined : redactDbMessage(msg) });
  if (type.status) span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, type.status);
  span.setAttribute(ATTR_ERROR_TYPE, type.type);
}

/** The duration point's attributes (the span's low-cardinality ones). */
export function durationAttributes(client: PgClientLike, a: SqlAnalysis | undefined, errorType: string | undefined): Attributes {
  const p = client.connectionParameters;
  const attrs: Attributes = {
    [ATTR_DB_SYSTEM_NAME]: SYSTEM,
    [ATTR_DB_NAMESPACE]: p.database as string,
    [ATTR_SERVER_ADDRESS]: p.host as string,
    [ATTR_SERVER_PORT]: p.port as number,
  };
  if (a?.operation) attrs[ATTR_DB_OPERATION_NAME] = a.operation;
  // A table name is bounded (the schema's), and the semconv asks for it on the metric when one is named.
  if (a?.collection) attrs[ATTR_DB_COLLECTION_NAME] = a?.collection;
  if (errorType) attrs[ATTR_ERROR_TYPE] = errorType;
  return attrs;
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A pool's connections for the db.client.connection.* metrics; undefined once it has ended. */
export function poolState(pool: PgPoolLike): PoolState | undefined {
  if (pool.ending === true || pool.ended === true) return undefined;
  const o = pool.options ?? {};
  // Upstream's pool name: host:port/database.
  const name = `${typeof o.host === 'string' && o.host ? o.host : 'unknown_host'}:${o.port ? String(o.port) : 'unknown_port'}/${typeof o.database === 'string' && o.database ? o.database : 'unknown_database'}`;
  const total = count(pool.totalCount);
  const idle = count(pool.idleCount);
  return { name, used: total - idle, idle, pending: count(pool.waitingCount), max: typeof o.max === 'number' ? o.max : undefined };
}
