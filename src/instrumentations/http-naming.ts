/**
 * How the agent names HTTP spans (semconv's bare "GET" says nothing in a trace
 * view) and the error.type of failed client calls.
 *
 * Names must be low-cardinality (a backend groups by them) and must never carry
 * a query string, credentials or an id that identifies a person or a token.
 */
export const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** Semconv: a method outside the known set is named "HTTP", so a client sending `FOO123` cannot mint span names. */
export function methodForName(method: string | undefined): string {
  const m = (method ?? 'GET').toUpperCase();
  return KNOWN_METHODS.has(m) ? m : 'HTTP';
}

/**
 * Segments that are data, not route: numbers, UUIDs, long hex, long
 * base64-ish tokens, anything with three or more digits, e-mail addresses
 * and percent-encoded text (both usually user data).
 */
const ID = /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|[A-Za-z0-9_-]{20,}|[^/]*\d[^/]*\d[^/]*\d[^/]*|[^/]*[@%][^/]*)$/i;
const SHORT_HAS_DATA = /[\d@%?#]|[a-f]{12}/i;
/** Longer templates are cut at a segment boundary: deep paths are data too (file trees, nested keys). */
const MAX_TEMPLATE = 96;

/**
 * A low-cardinality name for a request path when no router tells us the
 * route: ids become `:id`, the query string and fragment are dropped.
 * `/orders/42?x=1` -> `/orders/:id`.
 */
export function routeTemplate(url: string): string {
  // Short paths without a digit, `@` or `%` cannot hold an id segment (those need
  // digits or 20+ characters): nothing to template. This runs for every sampled request.
  if (url.length < 20 && !SHORT_HAS_DATA.test(url)) return url || '/';
  const q = url.search(/[?#]/);
  const path = q >= 0 ? url.slice(0, q) : url;
  const parts = path.split('/');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p && (p.length > 64 || ID.test(p))) parts[i] = ':id';
  }
  let out = parts.join('/') || '/';
  if (out.length > MAX_TEMPLATE) {
    const cut = out.lastIndexOf('/', MAX_TEMPLATE);
    out = out.slice(0, cut > 0 ? cut : MAX_TEMPLATE) + '/...';
  }
  return out;
}

/** Path of a request target: origin-form as is; absolute-form (proxies) and `*` reduced to their path. */
function targetPath(target: string): string | undefined {
  if (target.startsWith('/')) return target;
  try {
    return new URL(target).pathname;
  } catch {
    return undefined;
  }
}

/** SERVER span: `GET /orders/:id`. A framework that knows the route renames it later (`GET /orders/{id}`). */
export function serverSpanName(method: string | undefined, target: string | undefined): string {
  const path = targetPath(target ?? '/');
  return path === undefined ? methodForName(method) : `${methodForName(method)} ${routeTemplate(path)}`;
}

/**
 * CLIENT span: `GET http://payments:8080/charge/:id`: method, the origin
 * called (scheme, host, port; never credentials) and the templated path.
 * Semconv's bare `GET` says nothing in a trace view; with the origin a
 * reader sees which service was called, and the cardinality stays bounded by
 * (services called x routes).
 */
export function clientSpanName(method: string | undefined, origin: string, path: string | undefined): string {
  const p = targetPath(path || '/');
  return `${methodForName(method)} ${origin}${p === undefined ? '' : routeTemplate(p)}`;
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  stack?: unknown;
}

/**
 * error.type for a failed call: the error's class when it is specific
 * (`AbortError`, `TimeoutError`), else its string code (`ECONNREFUSED`,
 * `ECONNRESET`), else `Error`. Upstream http reports a refused connection as
 * "Error" and upstream undici reports a fetch timeout as the number 23 (the
 * DOMException code); both become what a user would search for.
 */
export function errorType(err: unknown): string {
  const e = (err ?? {}) as ErrorLike;
  if (typeof e.name === 'string' && e.name && e.name !== 'Error') return e.name;
  if (typeof e.code === 'string' && e.code) return e.code;
  return typeof e.name === 'string' && e.name ? e.name : 'Error';
}
