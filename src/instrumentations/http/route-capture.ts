/**
 * Header capture per route, from the configuration file only
 * (`instrumentation/development.js.http.{server,client}.routes`, docs/configuration-file.md):
 * "record `x-cart-id` on /checkout requests" without recording it everywhere. A route adds
 * its header names to the general lists (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*) for
 * the requests it matches; every matching route adds its own.
 *
 * SERVER routes match the request's `url.path` (no query), CLIENT routes its `url.full`
 * (as exported: credentials and listed query values already redacted), with the sampling
 * rules' patterns (`*`, `{a,b}`). The path is read from the span, which has it by the time
 * headers are captured; a span that is not recording captures nothing anyway.
 */
import type { Span } from '@opentelemetry/api';
import { globToRegExp } from '../../sampling/rules';

/** One route as the file gave it: a pattern and lower-case header names. */
export interface RouteCaptureSpec {
  /** `url.path` pattern (server) or `url.full` pattern (client). */
  match: string;
  request: readonly string[];
  response: readonly string[];
}

export type CaptureWhich = 'serverRequest' | 'serverResponse' | 'clientRequest' | 'clientResponse';

export interface CaptureLists {
  serverRequest?: readonly string[];
  serverResponse?: readonly string[];
  clientRequest?: readonly string[];
  clientResponse?: readonly string[];
  serverRoutes?: readonly RouteCaptureSpec[];
  clientRoutes?: readonly RouteCaptureSpec[];
}

interface Compiled {
  re: RegExp;
  request: readonly string[];
  response: readonly string[];
}

const compiled = new WeakMap<readonly RouteCaptureSpec[], Compiled[]>();

function compile(routes: readonly RouteCaptureSpec[]): Compiled[] {
  let c = compiled.get(routes);
  if (!c) {
    c = routes.map((r) => ({ re: globToRegExp(r.match), request: r.request, response: r.response }));
    compiled.set(routes, c);
  }
  return c;
}

/** The header names to capture on this span: the general list, plus those of every route that matches it. */
export function captureNames(cfg: CaptureLists | undefined, which: CaptureWhich, span: Span): readonly string[] | undefined {
  const general = cfg?.[which];
  const server = which === 'serverRequest' || which === 'serverResponse';
  const routes = server ? cfg?.serverRoutes : cfg?.clientRoutes;
  // Without routes, exactly what it was before: the general list.
  if (!routes?.length) return general;
  const key = (span as unknown as { attributes?: Record<string, unknown> }).attributes?.[server ? 'url.path' : 'url.full'];
  if (typeof key !== 'string') return general;
  let out: string[] | undefined;
  const request = which === 'serverRequest' || which === 'clientRequest';
  for (const r of compile(routes)) {
    if (!r.re.test(key)) continue;
    const names = request ? r.request : r.response;
    if (!names.length) continue;
    out ??= [...(general ?? [])];
    for (const n of names) if (!out.includes(n)) out.push(n);
  }
  return out ?? general;
}
