/**
 * What the HTTP SERVER span learns from code that knows more about a request
 * than its path: a web framework's matched route template, and the error a
 * handler threw that the framework turned into its error response.
 *
 * The framework instrumentations are bundled apart from the HTTP one
 * (dist/instr/<name>.cjs), each with its own copy of this module, so the
 * slots are registered symbols: every copy reads and writes the same ones.
 * Writing a slot is one property store on the request, sampled or not; the
 * HTTP instrumentation reads them once, when the response ends.
 */

const ROUTE = Symbol.for('@x/otel-agent/http.route');
const ERROR = Symbol.for('@x/otel-agent/http.error');

interface Slots {
  [ROUTE]?: string;
  [ERROR]?: unknown;
}

/**
 * The route template the framework matched for `req` (the node:http
 * IncomingMessage), exactly as the framework spells it: `/users/:id`,
 * `/users/{id}`, `/api/users/[id]`. The last call wins, so a nested router
 * may set the full template once it knows it.
 */
export function setServerRoute(req: object, route: string): void {
  if (typeof route === 'string' && route.length > 0) (req as Slots)[ROUTE] = route;
}

export function serverRoute(req: object): string | undefined {
  return (req as Slots)[ROUTE];
}

/**
 * A handler of `req` threw or rejected and the framework answered with its
 * error response. When that response is a 5xx, the SERVER span records the
 * exception (one event) and its error.type; a 4xx mapped from an error (a
 * validation failure, Hapi's Boom.notFound) is the client's failure and is
 * not recorded. The first error wins: a framework's own rethrow of the same
 * error is not a second one.
 */
export function setServerError(req: object, err: unknown): void {
  const s = req as Slots;
  if (s[ERROR] === undefined && err !== undefined) s[ERROR] = err;
}

export function serverError(req: object): unknown {
  return (req as Slots)[ERROR];
}
