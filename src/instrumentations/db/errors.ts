/**
 * End-of-span fixes every database driver shares: error.type and
 * db.response.status_code from the driver's error, server-echoed values
 * masked in messages, and for SQL drivers the literal-free query text and
 * summary span name.
 */
import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_SUMMARY,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
} from '@opentelemetry/semantic-conventions';
import type { Hooks, SpanState } from './shaper';
import { analyzeSql, redactDbMessage, type SqlDialect } from './sql';

export function exceptionEvent(st: SpanState): Attributes | undefined {
  return st.events.find((e) => e.name === 'exception')?.attributes;
}

/**
 * error.type from the database's own code when there is one (semantic
 * conventions: it should match db.response.status_code), else the exception
 * type, else `_OTHER`; server-echoed values masked in messages.
 */
export function finishError(span: Span, st: SpanState, serverCode?: string, fallbackType?: string): void {
  if (st.status.code !== SpanStatusCode.ERROR) return;
  const a = st.attributes;
  if (serverCode && a[ATTR_DB_RESPONSE_STATUS_CODE] === undefined) span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, serverCode);
  if (a[ATTR_ERROR_TYPE] === undefined) {
    const code = a[ATTR_DB_RESPONSE_STATUS_CODE] ?? serverCode;
    const exType = exceptionEvent(st)?.['exception.type'];
    span.setAttribute(ATTR_ERROR_TYPE, typeof code === 'string' ? code : (fallbackType ?? (typeof exType === 'string' && exType !== '' ? exType : '_OTHER')));
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
export function annotateError(span: Span, code: string | undefined, fallbackType: string | undefined): void {
  if (code) {
    span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, code);
    span.setAttribute(ATTR_ERROR_TYPE, code);
  } else if (fallbackType) span.setAttribute(ATTR_ERROR_TYPE, fallbackType);
}

export function errorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; name?: unknown; constructor?: { name?: string } };
  if (typeof e.code === 'string' && e.code !== '') return e.code;
  const ctor = e.constructor?.name;
  return ctor && ctor !== 'Object' ? ctor : typeof e.name === 'string' ? e.name : undefined;
}

export function finishSql(dialect: SqlDialect, onlyNames?: RegExp): Hooks['end'] {
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
