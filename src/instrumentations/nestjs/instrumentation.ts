/**
 * NestJS (10, 11, 12; Express and Fastify platforms): the HTTP SERVER span
 * gets Nest's full route, global prefix + version + controller path + method
 * path (`/api/orgs/:org/users/:id`), and the error a handler threw when Nest's
 * exception filter answered it with a 5xx. Nest knows that route itself, so
 * this works whether or not the Express or Fastify instrumentation is on.
 *
 * Nest 12 is ES modules only and its router classes are not exported, so
 * nothing is patched by file. The one public export used is NestApplication:
 * its init() is where routes are registered, and just before that the
 * application's router objects exist. Their prototypes are patched once:
 *
 * - RouterMethodFactory.get(router, method) hands the route registrar
 *   `router.get` / `router.post` / ...; every route (controllers, request
 *   scoped ones, specificity-sorted ones) goes through it with its full path,
 *   so the handler it registers is wrapped to tell that path to the request.
 * - RouterProxy.createProxy(handler, exceptionsHandler) is how Nest catches a
 *   handler's error; the exceptions handler's class gets its next() wrapped
 *   to hand the error to the request before the filter answers.
 *
 * With OTEL_AGENT_WEB_SPANS=handlers (or all), each controller method also
 * gets an INTERNAL span `{Controller}.{method}` (guards, pipes, interceptors
 * and the handler, until the response is handed back).
 */
import { context, trace, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../../version';
import { setServerError, setServerRoute } from '../http/server-route';

export interface NestConfig extends InstrumentationConfig {
  handlerSpans?: boolean;
}

export const SUPPORTED = ['>=10.0.0 <13'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (this: any, ...args: any[]) => any;
type Proto = Record<string | symbol, unknown>;
const DONE = Symbol.for('@x/otel-agent/nestjs patched');

interface AppLike {
  routesResolver?: {
    routerProxy?: object;
    routerExplorer?: { routerMethodFactory?: object };
  };
}
interface HostLike {
  getArgByIndex?: (i: number) => unknown;
}

/** The node:http request under a platform's own request object (Fastify's `request.raw`). */
function rawRequest(req: unknown): object | undefined {
  if (req === null || typeof req !== 'object') return undefined;
  const raw = (req as { raw?: unknown }).raw;
  return raw !== null && typeof raw === 'object' ? raw : req;
}

/** The status Nest's filter will answer an exception with: an HttpException's, else 500. */
function statusOf(e: unknown): number {
  const get = (e as { getStatus?: unknown } | null)?.getStatus;
  if (typeof get === 'function') {
    try {
      const s = Number((get as () => unknown).call(e));
      if (Number.isInteger(s)) return s;
    } catch {
      /* not Nest's */
    }
  }
  return 500;
}

export class NestInstrumentation extends InstrumentationBase<NestConfig> {
  constructor(config: NestConfig = {}) {
    super('@x/otel-agent/nestjs', AGENT_VERSION, config);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        '@nestjs/core',
        SUPPORTED,
        (m: { NestApplication?: { prototype?: Proto } }) => {
          this.patchCore(m);
          return m;
        },
        (m: { NestApplication?: { prototype?: Proto } }) => {
          const p = m.NestApplication?.prototype;
          if (p) this._unwrap(p as Record<string, AnyFn>, 'init');
        },
      ),
    ];
  }

  private patchCore(m: { NestApplication?: { prototype?: Proto } }): void {
    const p = m.NestApplication?.prototype as Record<string, AnyFn> | undefined;
    if (!p || typeof p.init !== 'function') {
      this._diag.warn('@nestjs/core: NestApplication.prototype.init not found; this Nest is not traced');
      return;
    }
    // The CommonJS and ES module views of one Nest share the class: patch it once.
    if ((p as Proto)[DONE]) return;
    (p as Proto)[DONE] = true;
    const inst = this;
    this._wrap(
      p,
      'init',
      (orig: AnyFn) =>
        function init(this: AppLike, ...args: unknown[]) {
          try {
            inst.patchRouter(this);
          } catch (e) {
            inst._diag.warn(`@nestjs/core: its router was not as expected (${(e as Error).message}); routes of this app are not named`);
          }
          return orig.apply(this, args);
        },
    );
  }

  /** Patches the prototypes of this app's router objects (once per class, not per app). */
  private patchRouter(app: AppLike): void {
    const resolver = app.routesResolver;
    const factory = resolver?.routerExplorer?.routerMethodFactory;
    const proxy = resolver?.routerProxy;
    if (!factory || !proxy) {
      this._diag.debug('@nestjs/core: no routesResolver.routerExplorer.routerMethodFactory / routerProxy; routes are not named');
      return;
    }
    const fp = Object.getPrototypeOf(factory) as Record<string | symbol, AnyFn>;
    if (typeof fp.get === 'function' && !fp[DONE]) {
      fp[DONE] = (() => undefined) as AnyFn;
      this._wrap(fp, 'get', (orig: AnyFn) => this.wrapMethodFactory(orig));
    }
    const pp = Object.getPrototypeOf(proxy) as Record<string | symbol, AnyFn>;
    if (typeof pp.createProxy === 'function' && !pp[DONE]) {
      pp[DONE] = (() => undefined) as AnyFn;
      this._wrap(pp, 'createProxy', (orig: AnyFn) => this.wrapCreateProxy(orig));
    }
  }

  /** `get(router, method)` returns the adapter's registrar; ours registers a handler that tells the route. */
  private wrapMethodFactory(orig: AnyFn): AnyFn {
    const inst = this;
    return function get(this: unknown, ...args: unknown[]) {
      const register = orig.apply(this, args) as unknown;
      if (typeof register !== 'function') return register;
      return function (this: unknown, path: unknown, handler: unknown, ...rest: unknown[]) {
        if (typeof path === 'string' && typeof handler === 'function') handler = inst.routed(path, handler as AnyFn);
        return (register as AnyFn).call(this, path, handler, ...rest);
      };
    };
  }

  /** The handler Nest registers for `route`, telling the request its route first; same name, arity and properties. */
  private routed(route: string, handler: AnyFn): AnyFn {
    const inst = this;
    const spans = this.getConfig().handlerSpans === true;
    const name = handler.name;
    const wrapped = function (this: unknown, req: unknown) {
      const raw = rawRequest(req);
      if (raw !== undefined && inst.isEnabled()) setServerRoute(raw, route);
      if (!spans || !inst.isEnabled()) return handler.apply(this, arguments as unknown as unknown[]);
      return inst.handlerSpan(name, route, () => handler.apply(this, arguments as unknown as unknown[]));
    };
    // Adapters read route options (version, Fastify config) from the handler's properties and metadata.
    Object.assign(wrapped, handler);
    const reflect = Reflect as unknown as {
      getMetadataKeys?: (t: object) => unknown[];
      getMetadata?: (k: unknown, t: object) => unknown;
      defineMetadata?: (k: unknown, v: unknown, t: object) => void;
    };
    if (typeof reflect.getMetadataKeys === 'function' && reflect.getMetadata && reflect.defineMetadata) {
      for (const k of reflect.getMetadataKeys(handler)) reflect.defineMetadata(k, reflect.getMetadata(k, handler), wrapped);
    }
    Object.defineProperty(wrapped, 'name', { configurable: true, value: name });
    // Express tells error handlers by their four parameters.
    Object.defineProperty(wrapped, 'length', { configurable: true, value: handler.length });
    return wrapped;
  }

  private handlerSpan(name: string, route: string, run: () => unknown): unknown {
    const parent = context.active();
    const span = this.tracer.startSpan(name || 'nest handler', { kind: SpanKind.INTERNAL }, parent);
    if (!span.isRecording()) return run();
    const dot = name.indexOf('.');
    span.setAttributes({ 'http.route': route, ...(dot > 0 ? { 'nestjs.controller': name.slice(0, dot), 'nestjs.callback': name.slice(dot + 1) } : {}) });
    const end = () => span.end();
    let r: unknown;
    try {
      r = context.with(trace.setSpan(parent, span), run);
    } catch (e) {
      span.end();
      throw e;
    }
    if (typeof (r as { then?: unknown } | null)?.then === 'function') (r as PromiseLike<unknown>).then(end, end);
    else span.end();
    return r;
  }

  /** The exceptions handler a route's errors go to: its class's next() is wrapped, once. */
  private wrapCreateProxy(orig: AnyFn): AnyFn {
    const inst = this;
    return function createProxy(this: unknown, target: unknown, handler: unknown, ...rest: unknown[]) {
      const hp = handler !== null && typeof handler === 'object' ? (Object.getPrototypeOf(handler) as Record<string | symbol, AnyFn> | null) : null;
      if (hp && typeof hp.next === 'function' && !Object.prototype.hasOwnProperty.call(hp, DONE)) {
        hp[DONE] = (() => undefined) as AnyFn;
        inst._wrap(hp, 'next', (next: AnyFn) => inst.wrapNext(next));
      }
      return orig.call(this, target, handler, ...rest);
    };
  }

  private wrapNext(next: AnyFn): AnyFn {
    const inst = this;
    return function (this: unknown, exception: unknown, host: unknown) {
      if (inst.isEnabled()) {
        const h = host as HostLike | null;
        const raw = typeof h?.getArgByIndex === 'function' ? rawRequest(h.getArgByIndex(0)) : undefined;
        // The HTTP span records it only if the answer is a 5xx (an HttpException 404 is the client's).
        if (raw !== undefined) setServerError(raw, exception);
        if (statusOf(exception) >= 500) markHandlerSpan(trace.getSpan(context.active()), exception);
      }
      return next.apply(this, arguments as unknown as unknown[]);
    };
  }
}

/** With handler spans on, the active span here is the handler's: it failed. */
function markHandlerSpan(span: Span | undefined, e: unknown): void {
  if (!span?.isRecording() || (span as unknown as { instrumentationScope?: { name?: string } }).instrumentationScope?.name !== '@x/otel-agent/nestjs') return;
  if (e instanceof Error) span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
}
