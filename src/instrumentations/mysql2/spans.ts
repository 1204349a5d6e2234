/**
 * What mysql2's spans and duration points say, given the driver's objects
 * (patching is in instrumentation.ts): `SELECT orders`, literal-free
 * db.query.text (upstream formatted the parameter values into it unless told
 * to mask), MariaDB told apart from MySQL by the server's handshake,
 * error.type from the server's error number.
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
import { errorName } from '../db/errors';
import { analyzeSql, redactDbMessage, type SqlAnalysis } from '../db/sql';

/** The parts of a mysql2 connection read here. */
export interface Mysql2ConnLike {
  config?: { host?: unknown; port?: unknown; database?: unknown; connectionConfig?: { host?: unknown; port?: unknown; database?: unknown } };
  _handshakePacket?: { serverVersion?: unknown };
}

/** The SQL of `query(sql)`, `query({ sql })` or a ready Query command (pool.query()); undefined: nothing to name. */
export function queryText(sql: unknown): string | undefined {
  if (typeof sql === 'string') return sql;
  if (typeof sql === 'object' && sql !== null) {
    const t = (sql as { sql?: unknown }).sql;
    if (typeof t === 'string') return t;
  }
  return undefined;
}

export const analyze = (text: string): SqlAnalysis => analyzeSql(text, 'mysql');

/** `mariadb` or `mysql` once the handshake is in; undefined before it. */
export function systemOf(conn: Mysql2ConnLike): 'mariadb' | 'mysql' | undefined {
  const v = conn._handshakePacket?.serverVersion;
  if (v === undefined) return undefined;
  return /mariadb/i.test(String(v)) ? 'mariadb' : 'mysql';
}

function server(conn: Mysql2ConnLike): { host: unknown; port: number | undefined; database: unknown } {
  const c = conn.config?.connectionConfig ?? conn.config ?? {};
  const port = parseInt(String(c.port), 10);
  return { host: c.host, port: Number.isNaN(port) ? undefined : port, database: c.database };
}

export function queryAttributes(conn: Mysql2ConnLike, a: SqlAnalysis, system: string): Attributes {
  const s = server(conn);
  const attrs: Attributes = {
    [ATTR_DB_SYSTEM_NAME]: system,
    [ATTR_DB_NAMESPACE]: s.database as string,
    [ATTR_SERVER_ADDRESS]: s.host as string,
    [ATTR_DB_QUERY_TEXT]: a.text,
  };
  if (s.port !== undefined) attrs[ATTR_SERVER_PORT] = s.port;
  if (a.summary) attrs[ATTR_DB_QUERY_SUMMARY] = a.summary;
  if (a.operation) attrs[ATTR_DB_OPERATION_NAME] = a.operation;
  if (a.collection) attrs[ATTR_DB_COLLECTION_NAME] = a.collection;
  return attrs;
}

/** error.type (and db.response.status_code): the server's error number, else the error's code or class, else `_OTHER`. */
export function mysqlErrorType(err: unknown): { type: string; status?: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { errno?: unknown };
  if (typeof e.errno === 'number') return { type: String(e.errno), status: String(e.errno) };
  return { type: errorName(err) ?? '_OTHER' };
}

/** Marks a span failed: no exception event (upstream recorded none), the message with quoted values masked. */
export function failSpan(span: Span, err: unknown, type: { type: string; status?: string }): void {
  const msg = typeof err === 'object' && err !== null && 'message' in err ? String((err as { message: unknown }).message) : undefined;
  span.setStatus({ code: SpanStatusCode.ERROR, message: msg === undefined ? undefined : redactDbMessage(msg) });
  if (type.status) span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, type.status);
  span.setAttribute(ATTR_ERROR_TYPE, type.type);
}

export function durationAttributes(conn: Mysql2ConnLike, a: SqlAnalysis, system: string, errorType: string | undefined): Attributes {
  const s = server(conn);
  const attrs: Attributes = { [ATTR_DB_SYSTEM_NAME]: system, [ATTR_DB_NAMESPACE]: s.database as string, [ATTR_SERVER_ADDRESS]: s.host as string };
  if (s.port !== undefined) attrs[ATTR_SERVER_PORT] = s.port;
  if (a.operation) attrs[ATTR_DB_OPERATION_NAME] = a.operation;
  // A table name is bounded (the schema's), and the semconv asks for it on the metric when one is named.
  if (a.collection) attrs[ATTR_DB_COLLECTION_NAME] = a.collection;
  if (errorType) attrs[ATTR_ERROR_TYPE] = errorType;
  return attrs;
}
