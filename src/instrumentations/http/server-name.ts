/**
 * How a SERVER span is named and which http.route it carries when it ends,
 * one rule set for node:http and node:http2 (http/instrumentation.ts,
 * http2/spans.ts): the route a framework told (server-route.ts) or set on
 * the span itself, `{method}` alone for a request no route matched, else the
 * bounded path guess (guessed-names.ts).
 */
import type { Attributes, Span } from '@opentelemetry/api';
import { ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import { methodForName, serverSpanName } from '../http-naming';
import { serverRoute } from './server-route';
import type { GuessedNames } from './guessed-names';

/** A template that ends in a wildcard: `*`, `/*splat`, `/api*path` (Express 5, Nest), `/(.*)` (Koa), `/{any*}` (Hapi). */
const CATCH_ALL = /(?:\*[A-Za-z_$][\w$]*|\*|\(\.\*\)|\{[^}]*\*\})$/;

/**
 * The route a request matched, for its name and http.route: what the framework told for `slots` (the
 * request object it wrote to), else http.route set on the span itself (Next.js does). A catch-all route
 * that answers 404 is how frameworks answer a request no route matched (NestJS registers `{prefix}*path`
 * for its 404s): that is an unmatched request. A catch-all that answers anything else (an SPA's
 * `app.get('*')`) is a route like any other.
 */
export function matchedRoute(slots: object, span: Span | undefined, status: number | undefined): string | undefined {
  const route = serverRoute(slots) ?? (span ? routeSetOn(span) : undefined);
  return route !== undefined && status === 404 && CATCH_ALL.test(route) ? undefined : route;
}

/**
 * `{method} {route}` when a route matched; `{method}` for a request no route matched (404, 405), so
 * probes never mint names; else the bounded path guess from `target`, the request target as it
 * arrived (routers rewrite req.url while they dispatch). The guess is made here, at the end, and
 * only when no route was told: most requests of a framework app never pay for it.
 */
export function serverName(
  method: string | undefined,
  route: string | undefined,
  status: number | undefined,
  target: string | undefined,
  guessed: GuessedNames,
): string {
  if (route !== undefined) return `${methodForName(method)} ${route}`;
  if (status === 404 || status === 405 || target === undefined) return methodForName(method);
  return guessed.name(method, serverSpanName(method, target));
}

function routeSetOn(span: Span): string | undefined {
  const r = (span as { attributes?: Attributes }).attributes?.[ATTR_HTTP_ROUTE];
  return typeof r === 'string' && r.length > 0 ? r : undefined;
}
