/**
 * Express 4 and 5, the `router` package (which Express 5 runs on, and apps use
 * alone), `connect` 3, and `finalhandler` (the last handler of all three).
 *
 * Nothing here makes a span by default: the HTTP SERVER span is named after
 * the route (`GET /users/:id`, http.route, also on the duration metric) and
 * records the error a handler failed with, through server-route.ts. How the
 * template is found without wrapping handlers is in routes.ts; handler and
 * middleware spans (OTEL_AGENT_WEB_SPANS) in web-spans.ts.
 *
 * - Express 4: its router is `express.Router` (the prototype of every router
 *   function): use() and route() are wrapped to tag the layers they add.
 * - router 2 (Express 5): Router.prototype.use / route, the same way.
 * - Express 4 and 5: `express.application.use`, for sub-apps (app.use('/admin', admin)).
 * - finalhandler 1 and 2: the error that reaches it (no error handler of the app took it).
 * - connect 3: its error-handling middleware sees the error first (finalhandler sees the rest);
 *   connect has mount prefixes, not routes, so it names nothing.
 */
import { InstrumentationBase, InstrumentationNodeModuleDefinition, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../../version';
import { setServerError } from '../http/server-route';
import { EXPRESS4, Layers, ROUTER2, type LayerState } from './layers';
import type { TaggedLayer } from './routes';
import { WebSpans } from './web-spans';

export interface ExpressConfig extends InstrumentationConfig {
  /** OTEL_AGENT_WEB_SPANS. */
  webSpans?: 'none' | 'handlers' | 'all';
}

/** Closed ranges: a new major is traced once it has been tried (docs/web-frameworks.md). */
export const SUPPORTED = {
  express: ['>=4.0.0 <6'],
  router: ['>=2.0.0 <3'],
  finalhandler: ['>=1.0.0 <3'],
  connect: ['>=3.0.0 <4'],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => unknown;
type Patchable = Record<string, AnyFn>;

/** A CommonJS module, or import-in-the-middle's namespace of it. */
function exportsOf<T>(m: T): T {
  const ns = m as { [Symbol.toStringTag]?: string; default?: T };
  return ns[Symbol.toStringTag] === 'Module' && ns.default !== undefined ? ns.default : m;
}

/**
 * The module's function replaced by `wrapped`: RITM takes the returned value as the exports; an
 * import-in-the-middle namespace has its bindings set instead (`module.exports` is what a CommonJS
 * module loaded through the ESM loader hands to require()).
 */
function replaceExports(m: unknown, wrapped: unknown): unknown {
  const ns = m as { [Symbol.toStringTag]?: string } & Record<string, unknown>;
  if (ns[Symbol.toStringTag] !== 'Module') return wrapped;
  ns.default = wrapped;
  if ('module.exports' in ns) ns['module.exports'] = wrapped;
  return m;
}

/** On our replacement functions: a module seen by both require-in-the-middle and import-in-the-middle is wrapped once. */
const OURS = Symbol('@x/otel-agent/express wrapper');

const isApp = (fn: unknown): fn is object =>
  typeof fn === 'function' && typeof (fn as { handle?: unknown }).handle === 'function' && typeof (fn as { set?: unknown }).set === 'function';

export class ExpressInstrumentation extends InstrumentationBase<ExpressConfig> {
  private failed = false;
  private readonly state: LayerState;
  private readonly express4: Layers;
  private readonly router2: Layers;

  constructor(config: ExpressConfig = {}) {
    super('@x/otel-agent/express', AGENT_VERSION, config);
    const mode = config.webSpans ?? 'none';
    const enabled = (): boolean => !this.failed && this.isEnabled();
    this.state = {
      enabled,
      fail: (where, e) => this.fail(where, e),
      spans: mode === 'none' ? undefined : new WebSpans(() => this.tracer, mode === 'all', enabled),
    };
    this.express4 = new Layers(EXPRESS4, this.state);
    this.router2 = new Layers(ROUTER2, this.state);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'express',
        SUPPORTED.express,
        (m: unknown, v?: string) => this.patchExpress(m, v),
        (m: unknown) => this.unpatchExpress(m),
      ),
      new InstrumentationNodeModuleDefinition(
        'router',
        SUPPORTED.router,
        (m: unknown) => this.patchRouter(exportsOf(m) as { prototype?: Patchable }, this.router2, m),
        (m: unknown) => this.unpatchRouter((exportsOf(m) as { prototype?: Patchable }).prototype),
      ),
      new InstrumentationNodeModuleDefinition('finalhandler', SUPPORTED.finalhandler, (m: unknown) => this.patchFinalhandler(m)),
      new InstrumentationNodeModuleDefinition('connect', SUPPORTED.connect, (m: unknown) => this.patchConnect(m)),
    ];
  }

  /** Our own code threw inside an app call: the call goes on, one warning, and the instrumentation steps aside. */
  private fail(where: string, e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const why = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 300);
    this._diag.warn(
      `instrumentation "express" threw inside ${where} (${why}); the call went on without it, and "express" is switched off for the rest of this process`,
    );
  }

  private patchExpress(m: unknown, version: string | undefined): unknown {
    const express = exportsOf(m) as { Router?: Patchable & { prototype?: Patchable }; application?: Patchable };
    // Express 5's Router is the `router` package, patched by its own definition (and its own range).
    if (version?.startsWith('4.') && express.Router) this.patchRouterMethods(express.Router, this.express4);
    if (express.application && typeof express.application.use === 'function') this.patchAppUse(express.application);
    return m;
  }

  private unpatchExpress(m: unknown): void {
    const express = exportsOf(m) as { Router?: Patchable; application?: Patchable };
    if (express.Router && typeof express.Router.use === 'function') {
      this._unwrap(express.Router, 'use');
      this._unwrap(express.Router, 'route');
    }
    if (express.application) this._unwrap(express.application, 'use');
  }

  private patchRouter(Router: { prototype?: Patchable }, layers: Layers, m: unknown): unknown {
    const proto = typeof (Router as unknown) === 'function' ? Router.prototype : undefined;
    if (proto && typeof proto.use === 'function') this.patchRouterMethods(proto, layers);
    else this._diag.debug('router: Router.prototype.use not found; not patched');
    return m;
  }

  private unpatchRouter(proto: Patchable | undefined): void {
    if (!proto) return;
    this._unwrap(proto, 'use');
    this._unwrap(proto, 'route');
  }

  private patchRouterMethods(target: Patchable, layers: Layers): void {
    const inst = this;
    if (typeof target.use === 'function') {
      this._wrap(
        target,
        'use',
        (original: AnyFn) =>
          function use(this: { stack?: unknown[] }) {
            const from = Array.isArray(this?.stack) ? this.stack.length : 0;
            const r = original.apply(this, arguments as unknown as unknown[]);
            if (!inst.failed) {
              try {
                layers.afterUse(this, arguments, from);
              } catch (e) {
                inst.fail('router.use()', e);
              }
            }
            return r;
          },
      );
    }
    if (typeof target.route === 'function') {
      this._wrap(
        target,
        'route',
        (original: AnyFn) =>
          function route(this: object) {
            const r = original.apply(this, arguments as unknown as unknown[]);
            if (!inst.failed) {
              try {
                layers.afterRoute(this, r);
              } catch (e) {
                inst.fail('router.route()', e);
              }
            }
            return r;
          },
      );
    }
  }

  /** app.use(path, subApp): Express adds a `mounted_app` layer for each app; they are mounts of those apps. */
  private patchAppUse(application: Patchable): void {
    const inst = this;
    this._wrap(
      application,
      'use',
      (original: AnyFn) =>
        function use(this: { _router?: { stack?: TaggedLayer[] }; router?: { stack?: TaggedLayer[] } }) {
          const r = original.apply(this, arguments as unknown as unknown[]);
          if (inst.failed) return r;
          try {
            const apps = (Array.prototype.slice.call(arguments) as unknown[]).flat(Infinity).filter(isApp);
            if (apps.length === 0) return r;
            const router = this._router ?? this.router;
            const stack = router?.stack ?? [];
            const mounts = stack.filter((l) => (l.handle as { name?: string } | undefined)?.name === 'mounted_app').slice(-apps.length);
            // Express 4's layers have handle_request, router 2's (Express 5) handleRequest.
            for (let i = 0; i < mounts.length; i++) {
              const l = mounts[i]!;
              (typeof (l as unknown as Patchable).handle_request === 'function' ? inst.express4 : inst.router2).mountApp(l, apps[i]!);
            }
          } catch (e) {
            inst.fail('app.use()', e);
          }
          return r;
        },
    );
  }

  /**
   * finalhandler(req, res, options) returns the request's last handler; an error it is called with is the
   * one the app answers with (a 500 unless the error carries a status).
   */
  private patchFinalhandler(m: unknown): unknown {
    const original = exportsOf(m);
    if (typeof original !== 'function' || (original as { [OURS]?: true })[OURS]) return m;
    const inst = this;
    const fn = original as AnyFn;
    const wrapped = function finalhandler(this: unknown, req: unknown) {
      const done = fn.apply(this, arguments as unknown as unknown[]) as AnyFn;
      if (typeof done !== 'function' || req === null || typeof req !== 'object') return done;
      return function (this: unknown, err: unknown) {
        if (err !== undefined && err !== null && !inst.failed && inst.isEnabled()) setServerError(req, err);
        return done.apply(this, arguments as unknown as unknown[]);
      };
    };
    Object.assign(wrapped, fn, { [OURS]: true });
    return replaceExports(m, wrapped);
  }

  /** connect() apps get their methods copied at creation: each app's use() is wrapped once. */
  private patchConnect(m: unknown): unknown {
    const original = exportsOf(m);
    if (typeof original !== 'function' || (original as { [OURS]?: true })[OURS]) return m;
    const inst = this;
    const create = original as AnyFn;
    const wrapped = function createServer(this: unknown) {
      const app = create.apply(this, arguments as unknown as unknown[]) as Patchable;
      try {
        if (typeof app?.use === 'function') inst.wrapConnectUse(app);
      } catch (e) {
        inst.fail('connect()', e);
      }
      return app;
    };
    Object.assign(wrapped, create, { [OURS]: true });
    return replaceExports(m, wrapped);
  }

  private wrapConnectUse(app: Patchable): void {
    const inst = this;
    const use = app.use!;
    app.use = function (this: unknown) {
      const r = use.apply(this, arguments as unknown as unknown[]);
      try {
        const stack = (app as unknown as { stack?: { handle?: AnyFn }[] }).stack;
        const layer = Array.isArray(stack) ? stack[stack.length - 1] : undefined;
        const h = layer?.handle;
        // Error-handling middleware (arity 4) is the first to see an error the app answers itself.
        if (layer && typeof h === 'function' && h.length === 4) {
          layer.handle = function (this: unknown, err: unknown, req: unknown, _res: unknown, _next: unknown) {
            if (err !== undefined && err !== null && req !== null && typeof req === 'object' && inst.isEnabled()) setServerError(req, err);
            return h.apply(this, arguments as unknown as unknown[]);
          } as AnyFn;
        }
      } catch (e) {
        inst.fail('connect use()', e);
      }
      return r;
    };
  }
}
