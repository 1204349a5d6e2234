/**
 * Koa 2 and 3, with `@koa/router` or the legacy `koa-router`: the matched
 * route names the HTTP SERVER span, and the error Koa answered with is
 * recorded on it (server-route.ts).
 *
 * Both routers leave the matched layer's full path (router prefix and the
 * prefix of every router it is nested in: `/orgs/:org/repos/:repo`) on
 * the request's context (`ctx.matched`, `ctx._matchedRoute`), and Koa has one place every request passes through:
 * `Application.prototype.handleRequest(ctx, fnMiddleware)`. That is the one
 * patch; it runs the app's middleware as before and, when it settles, copies
 * the matched route layer's path into the request's route slot (one property read and
 * write; a request no route matched has none and stays `{method}`). An error
 * the middleware rejects with is noted for the SERVER span, and so is an error
 * passed to `app.emit('error', err, ctx)`, which is how Koa's own `ctx.onerror`
 * and the usual error-handling middleware report what they answered with.
 *
 * The routers themselves are only patched for OTEL_AGENT_WEB_SPANS: each
 * route handler registered then is wrapped in an INTERNAL
 * `request handler - <route>` span (and, with `all`, every other router and
 * app middleware in `middleware - <name>`). Without it the router module definitions only carry
 * their supported ranges for the doctor.
 */
import { InstrumentationBase, InstrumentationNodeModuleDefinition, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import type { Tracer } from '@opentelemetry/api';
import { AGENT_VERSION } from '../../version';
import { setServerError, setServerRoute } from '../http/server-route';
import { handlerSpanName, recordingParent, runInSpan, startWebSpan, type WebSpansConfig } from '../web/spans';

export const KOA_SUPPORTED = ['>=2.0.0 <4'];
export const KOA_ROUTER_SUPPORTED = ['>=12.0.0 <16'];
export const LEGACY_ROUTER_SUPPORTED = ['>=12.0.0 <15'];

export type KoaConfig = InstrumentationConfig & WebSpansConfig;

interface KoaContext {
  req: object;
  method?: string;
  matched?: unknown;
  _matchedRoute?: unknown;
  [MIDDLEWARE]?: (ctx: KoaContext) => Promise<unknown>;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => any;
type Proto = Record<string, AnyFn> & { [PATCHED]?: boolean };

const MIDDLEWARE = Symbol('otel-agent.koa.middleware');
const PATCHED = Symbol.for('@x/otel-agent/koa.patched');

/** The class a CommonJS export or an ES module namespace carries. */
function classOf(exports: unknown, ...names: string[]): { prototype: Proto } | undefined {
  if (typeof exports === 'function') return exports as { prototype: Proto };
  const ns = exports as Record<string, unknown> | undefined;
  for (const n of names) if (typeof ns?.[n] === 'function') return ns[n] as { prototype: Proto };
  return undefined;
}

/**
 * The route layer the router chose: the last of the layers whose path matched (`ctx.matched`, which
 * both routers fill before running any) that serves the method, as the routers pick it for
 * `ctx._matchedRoute`. Not `ctx._matchedRoute` itself: each layer run overwrites it, so a router
 * middleware that answers before the route (an auth check's 401) leaves its own pattern there.
 */
function matchedRoute(ctx: KoaContext): string | undefined {
  const layers = ctx.matched;
  if (!Array.isArray(layers)) return typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : undefined;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i] as { path?: unknown; methods?: unknown } | undefined;
    if (!l || !Array.isArray(l.methods) || l.methods.length === 0 || !l.methods.includes(ctx.method)) continue;
    // A RegExp route is named by its literal, as Express does.
    if (typeof l.path === 'string') return l.path;
    if (l.path instanceof RegExp) return String(l.path);
    return undefined;
  }
  return undefined;
}

function noteRoute(ctx: KoaContext): void {
  const r = matchedRoute(ctx);
  if (r !== undefined && r.length > 0) setServerRoute(ctx.req, r);
}

/** Runs the app's composed middleware (kept on ctx: no closure per request), then tells the route. */
async function runMiddleware(ctx: KoaContext): Promise<unknown> {
  const fn = ctx[MIDDLEWARE]!;
  ctx[MIDDLEWARE] = undefined;
  try {
    return await fn(ctx);
  } catch (e) {
    setServerError(ctx.req, e);
    throw e;
  } finally {
    noteRoute(ctx);
  }
}

export class KoaInstrumentation extends InstrumentationBase<KoaConfig> {
  constructor(config: KoaConfig = {}) {
    super('@x/otel-agent/koa', AGENT_VERSION, config);
  }

  private get webSpans(): NonNullable<KoaConfig['webSpans']> {
    return this.getConfig().webSpans ?? 'none';
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        'koa',
        KOA_SUPPORTED,
        (exports: unknown) => {
          this.patchKoa(classOf(exports, 'default')?.prototype);
          return exports;
        },
        (exports: unknown) => this.unpatch(classOf(exports, 'default')?.prototype, ['handleRequest', 'emit', 'use']),
      ),
      ...[
        ['@koa/router', KOA_ROUTER_SUPPORTED],
        ['koa-router', LEGACY_ROUTER_SUPPORTED],
      ].map(
        ([name, range]) =>
          new InstrumentationNodeModuleDefinition(
            name as string,
            range as string[],
            (exports: unknown) => {
              this.patchRouter(classOf(exports, 'default', 'Router')?.prototype);
              return exports;
            },
            (exports: unknown) => this.unpatch(classOf(exports, 'default', 'Router')?.prototype, ['register']),
          ),
      ),
    ];
  }

  private patchKoa(proto: Proto | undefined): void {
    // Required and imported (two hooks, one class) patches once.
    if (!proto || proto[PATCHED]) return;
    if (typeof proto.handleRequest !== 'function') {
      this._diag.warn('koa: Application.prototype.handleRequest not found; this koa is not traced');
      return;
    }
    proto[PATCHED] = true;
    this._wrap(
      proto,
      'handleRequest',
      (orig: AnyFn) =>
        function handleRequest(this: unknown, ctx: KoaContext, fnMiddleware: KoaContext[typeof MIDDLEWARE]) {
          if (ctx === null || typeof ctx !== 'object' || typeof fnMiddleware !== 'function') return orig.apply(this, arguments as unknown as unknown[]);
          ctx[MIDDLEWARE] = fnMiddleware;
          return orig.call(this, ctx, runMiddleware);
        },
    );
    if (typeof proto.emit === 'function') {
      this._wrap(
        proto,
        'emit',
        (orig: AnyFn) =>
          function emit(this: unknown, event: unknown, err: unknown, ctx: KoaContext | undefined) {
            if (event === 'error' && ctx !== null && typeof ctx === 'object' && ctx.req) setServerError(ctx.req, err);
            return orig.apply(this, arguments as unknown as unknown[]);
          },
      );
    }
    if (this.webSpans === 'all' && typeof proto.use === 'function') {
      const tracer = this.tracer;
      this._wrap(
        proto,
        'use',
        (orig: AnyFn) =>
          function use(this: unknown, fn: unknown) {
            return orig.call(this, wrapMiddleware(tracer, fn));
          },
      );
    }
  }

  private patchRouter(proto: Proto | undefined): void {
    const spans = this.webSpans;
    if (spans === 'none' || !proto || proto[PATCHED] || typeof proto.register !== 'function') return;
    proto[PATCHED] = true;
    const tracer = this.tracer;
    this._wrap(
      proto,
      'register',
      (orig: AnyFn) =>
        function register(this: unknown, path: unknown, methods: unknown, middleware: unknown, ...rest: unknown[]) {
          const list = Array.isArray(middleware) ? middleware : [middleware];
          const isRoute = Array.isArray(methods) && methods.length > 0;
          let wrapped: unknown[] = list;
          if (isRoute) {
            // The last function answers the route; the ones before it are route middleware (spans with `all`).
            wrapped = list.map((fn, i) => (i === list.length - 1 ? wrapHandler(tracer, fn) : spans === 'all' ? wrapMiddleware(tracer, fn) : fn));
          } else if (spans === 'all') {
            wrapped = list.map((fn) => wrapMiddleware(tracer, fn));
          }
          return orig.call(this, path, methods, Array.isArray(middleware) ? wrapped : wrapped[0], ...rest);
        },
    );
  }

  private unpatch(proto: Proto | undefined, names: string[]): void {
    if (!proto || !proto[PATCHED]) return;
    for (const n of names) this._unwrap(proto, n);
    proto[PATCHED] = false;
  }
}

function wrapHandler(tracer: Tracer, fn: unknown): unknown {
  if (!plain(fn)) return fn;
  const h = fn as AnyFn;
  return function (this: unknown, ctx: KoaContext, next: unknown) {
    if (!recordingParent()) return h.call(this, ctx, next);
    // The route layer set it just before running its handlers.
    const route = typeof ctx?._matchedRoute === 'string' ? ctx._matchedRoute : undefined;
    const attrs: Record<string, string> = { 'koa.type': 'request_handler' };
    if (route) attrs['http.route'] = route;
    const span = startWebSpan(tracer, handlerSpanName(route), attrs);
    if (span === undefined) return h.call(this, ctx, next);
    return runInSpan(span, () => h.call(this, ctx, next));
  };
}

/** A span around a middleware: Koa's onion model, so it lasts until everything after it is done. */
function wrapMiddleware(tracer: Tracer, fn: unknown): unknown {
  // A router's dispatcher is routing, not middleware; generator middleware (Koa 2) must stay recognisable.
  if (!plain(fn) || (fn as { router?: unknown }).router !== undefined) return fn;
  const m = fn as AnyFn;
  const fnName = m.name || '<anonymous>';
  const name = `middleware - ${fnName}`;
  const attrs = { 'koa.type': 'middleware', 'koa.name': fnName };
  return function (this: unknown, ctx: unknown, next: unknown) {
    const span = startWebSpan(tracer, name, attrs);
    if (span === undefined) return m.call(this, ctx, next);
    return runInSpan(span, () => m.call(this, ctx, next));
  };
}

function plain(fn: unknown): boolean {
  return typeof fn === 'function' && fn.constructor?.name !== 'GeneratorFunction' && fn.constructor?.name !== 'AsyncGeneratorFunction';
}
