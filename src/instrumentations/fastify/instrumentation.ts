/**
 * Fastify 4 and 5: the matched route names the HTTP SERVER span, and the error
 * a handler or hook answered with is recorded on it (server-route.ts).
 *
 * Nothing of Fastify is patched. Every Fastify 4 and 5 instance is announced
 * on the `fastify.initialization` diagnostics channel as it is constructed,
 * before the app adds a plugin or a route, and gets two hooks through
 * Fastify's own API:
 * - `onRequest`, first of the root's hooks (so an auth hook answering 401
 *   still leaves the route known): `request.routeOptions.url`, the template
 *   with every plugin prefix (`/orgs/:org/repos/:repo`); undefined for the
 *   404 handler, which leaves the span named `{method}`;
 * - `onError`: the error Fastify is about to answer with (a handler's throw or
 *   rejection, a hook's error); the HTTP span records it only if the answer
 *   is a 5xx.
 * Both are one call and one property write per request, sampled or not.
 *
 * Handler spans (OTEL_AGENT_WEB_SPANS=handlers|all): Fastify 5 publishes its
 * handler on the `tracing:fastify.request.handler:*` channels, and the span is
 * made there, bound as the handler's active context through the channel's
 * store. Fastify 4 publishes no such channel: the route's handler is wrapped
 * in an `onRoute` hook (its documented way of changing a route's options).
 * Hook spans (`all`): see hooks.ts.
 *
 * The module definition carries the supported range: it arms the channel
 * subscription when a Fastify in range is loaded (out of range: the module
 * watcher's one debug line, nothing armed), and an instance of another
 * version in the same process is left alone.
 */
import * as dc from 'node:diagnostics_channel';
import { context, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { AGENT_VERSION } from '../../version';
import { setServerError, setServerRoute } from '../http/server-route';
import { contextStore } from '../http/context-store';
import { failWebSpan, handlerSpanName, recordingParent, runInSpan, startWebSpan, type WebSpansConfig } from '../web/spans';
import { supported } from '../../doctor/semver';
import { wrapHooks } from './hooks';

export const SUPPORTED = ['>=4.0.0 <6'];

export type FastifyConfig = InstrumentationConfig & WebSpansConfig;

/** What this file touches of a Fastify instance, request and route. */
export interface FastifyLike {
  version?: string;
  addHook(name: string, fn: (...a: never[]) => unknown): unknown;
}
interface RequestLike {
  raw: object;
  routeOptions?: { url?: string };
  routerPath?: string;
}
interface RouteOptionsLike {
  url?: string;
  path?: string;
  handler?: (this: unknown, req: RequestLike, reply: unknown) => unknown;
}
interface HandlerStore {
  request: RequestLike;
  route?: { url?: string };
  async?: boolean;
  error?: unknown;
  [SPAN]?: Span;
}

const SPAN = Symbol('otel-agent.fastify.span');
const HANDLER_CHANNEL = 'fastify.request.handler';

function onRequest(request: RequestLike, _reply: unknown, done: () => void): void {
  // routeOptions came in a 4.x minor; before it, routerPath (deprecated since, so not read when routeOptions is there).
  const o = request.routeOptions;
  const url = o !== undefined ? o.url : request.routerPath;
  if (url !== undefined) setServerRoute(request.raw, url);
  done();
}

function onError(request: RequestLike, _reply: unknown, err: unknown, done: () => void): void {
  setServerError(request.raw, err);
  done();
}

export class FastifyInstrumentation extends InstrumentationBase<FastifyConfig> {
  private armed = false;
  // A subscriber's throw would reach the app (diagnostics_channel rethrows it on the next tick): none may escape.
  private readonly onInit = (msg: unknown): void => {
    try {
      this.instrumentInstance((msg as { fastify?: FastifyLike }).fastify);
    } catch (e) {
      this._diag.warn(`fastify: this instance is not traced (${(e as Error)?.message})`);
    }
  };
  private handlerChannel: dc.TracingChannel<object, HandlerStore> | undefined;
  private readonly handlerSubscribers = {
    start: (m: HandlerStore) => quietly(() => this.handlerStart(m)),
    end: (m: HandlerStore) => {
      if (!m.async) quietly(() => this.handlerEnd(m));
    },
    asyncStart: () => undefined,
    asyncEnd: (m: HandlerStore) => quietly(() => this.handlerEnd(m)),
    error: (m: HandlerStore) => {
      const s = m[SPAN];
      if (s) quietly(() => failWebSpan(s, m.error));
    },
  };

  constructor(config: FastifyConfig = {}) {
    super('@x/otel-agent/fastify', AGENT_VERSION, config);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        'fastify',
        SUPPORTED,
        (exports: unknown) => {
          this.arm();
          return exports;
        },
        () => this.disarm(),
      ),
    ];
  }

  override disable(): void {
    super.disable();
    this.disarm();
  }

  private get webSpans(): FastifyConfig['webSpans'] {
    return this.getConfig().webSpans ?? 'none';
  }

  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    dc.subscribe('fastify.initialization', this.onInit);
  }

  private disarm(): void {
    if (!this.armed) return;
    this.armed = false;
    dc.unsubscribe('fastify.initialization', this.onInit);
    if (this.handlerChannel) {
      this.handlerChannel.unsubscribe(this.handlerSubscribers);
      const store = contextStore();
      if (store) this.handlerChannel.start.unbindStore(store as never);
      this.handlerChannel = undefined;
    }
  }

  private instrumentInstance(app: FastifyLike | undefined): void {
    if (!app || typeof app.addHook !== 'function') return;
    if (!supported(SUPPORTED, app.version)) {
      this._diag.debug(`fastify ${app.version ?? '(unknown version)'} instance not instrumented: supported ${SUPPORTED.join(' ')}`);
      return;
    }
    app.addHook('onRequest', onRequest);
    app.addHook('onError', onError);
    const spans = this.webSpans;
    if (spans === 'none') return;
    // Fastify 5 publishes its handlers; Fastify 4 does not.
    if (major(app.version) >= 5) this.subscribeHandlers();
    else app.addHook('onRoute', (opts: RouteOptionsLike) => quietly(() => this.wrapRouteHandler(opts)));
    if (spans === 'all') wrapHooks(app, this.tracer);
  }

  /** Fastify 5: the span is started in the channel's store transform, so the handler runs with it active. */
  private subscribeHandlers(): void {
    if (this.handlerChannel) return;
    const ch = dc.tracingChannel<object, HandlerStore>(HANDLER_CHANNEL);
    const store = contextStore();
    if (store) {
      ch.start.bindStore(
        store as never,
        ((m: HandlerStore): Context => {
          const prior = context.active();
          // Runs inside Fastify's request path: a failure here must leave the handler its own context.
          try {
            const s = this.startHandlerSpan(m, prior);
            return s ? trace.setSpan(prior, s) : prior;
          } catch {
            return prior;
          }
        }) as never,
      );
    }
    ch.subscribe(this.handlerSubscribers);
    this.handlerChannel = ch;
  }

  private startHandlerSpan(m: HandlerStore, parent: Context): Span | undefined {
    if (!recordingParent(parent)) return undefined;
    const route = m.route?.url ?? m.request.routeOptions?.url;
    const attrs: Attributes = { 'fastify.type': 'request_handler' };
    if (route !== undefined) attrs['http.route'] = route;
    const s = startWebSpan(this.tracer, handlerSpanName(route), attrs, parent);
    if (s) m[SPAN] = s;
    return s;
  }

  private handlerStart(m: HandlerStore): void {
    // Without a context manager we know (no store bound), the span is still made, just not made active.
    if (m[SPAN] === undefined && this.handlerChannel && !contextStore()) this.startHandlerSpan(m, context.active());
  }

  private handlerEnd(m: HandlerStore): void {
    const s = m[SPAN];
    if (s === undefined) return;
    m[SPAN] = undefined;
    s.end();
  }

  /** Fastify 4: the route's handler, wrapped once when the route is added. */
  private wrapRouteHandler(opts: RouteOptionsLike): void {
    const orig = opts.handler;
    if (typeof orig !== 'function') return;
    const url = opts.url ?? opts.path ?? '';
    const tracer = this.tracer;
    const name = handlerSpanName(url);
    const attrs = { 'http.route': url, 'fastify.type': 'request_handler' };
    opts.handler = function (this: unknown, request: RequestLike, reply: unknown) {
      const span = startWebSpan(tracer, name, attrs);
      if (span === undefined) return orig.call(this, request, reply);
      return runInSpan(span, () => orig.call(this, request, reply));
    };
  }
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // Span bookkeeping only; the request goes on as without the agent.
  }
}

function major(v: string | undefined): number {
  return Number.parseInt(v ?? '', 10) || 0;
}
