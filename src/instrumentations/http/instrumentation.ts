/**
 * node:http and node:https, built for what it costs per request.
 *
 * Upstream's instrumentation-http builds every attribute (old and new
 * conventions), parses the URL, binds the request and response emitters to
 * the span's context by patching each instance's on/once/emit, and adds three
 * listeners per request, all before the sampler has decided anything. At a
 * few thousand requests per second that is most of what an agent costs (see
 * bench/NOTES.md). Here:
 *
 * - the context of a request's events comes from one patch of `emit` on the
 *   prototypes of IncomingMessage, ServerResponse and ClientRequest, which
 *   reads the context stored on the instance under a symbol: nothing is
 *   allocated per request for it, and it is also where spans end ('finish' /
 *   'close' of a response, 'end' of a client response, 'error'), so no
 *   listener is added either;
 * - a SERVER span is started with its method as name and no attributes; only
 *   when it is recording (sampled) are the name template and the attributes
 *   computed. An unsampled request costs a context and a sampling decision;
 * - the propagation headers are looked for in `rawHeaders`, so a request
 *   without any does not make Node build its `headers` object;
 * - a CLIENT span injects its context with setHeader() on the request Node
 *   built, instead of copying and re-parsing the caller's options.
 *
 * What the spans say is unchanged from what users of this agent already see:
 * SERVER `GET /orders/:id`, CLIENT `GET http://host:port/path/:id`, stable
 * semantic-convention attributes only, query values redacted at the source,
 * error.type naming the failure, the headers listed in
 * OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* as `http.{request,response}.header.<name>`,
 * and, when metrics are on, http.server.request.duration /
 * http.client.request.duration.
 *
 * The emitter patches are the only change to Node's objects; an instance that
 * carries no context (created while the instrumentation was off, or by code
 * the agent never saw) behaves exactly as before.
 */
import type * as httpT from 'node:http';
import type { Socket } from 'node:net';
import type { EventEmitter } from 'node:events';
import { syncBuiltinESMExports } from 'node:module';
import {
  context,
  propagation,
  trace,
  createContextKey,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Histogram,
  type Span,
  type TextMapSetter,
} from '@opentelemetry/api';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, isWrapped, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { clientSpanName, errorType } from '../http-naming';
import { redactQuery } from '../../redact';
import { AGENT_VERSION } from '../../version';
import type { PropagatorName } from '../../env';
import { readableHeaders } from '../../propagation/readable-headers';
import { contextStore } from './context-store';
import { LIGHT_ROOT } from '../../light-context';
import { noteThrow } from './sync-throw';
import { serverError } from './server-route';
import { matchedRoute, serverName } from './server-name';
import { GuessedNames } from './guessed-names';
import { emitUpgrade, type UpgradeHost } from './upgrade';
import { bareAddress, captureHeaders, forwarded, normalMethod, readHeaders, splitHost } from './header-parts';
import { captureNames, type CaptureLists } from './route-capture';
import { fromArgs, fromRequest, fullUrl } from './client-target';
import { durationHistogram } from '../duration-histogram';

export interface HttpConfig extends InstrumentationConfig {
  /** Lower-case header names recorded as `http.request.header.<name>` / `http.response.header.<name>`. */
  captureHeaders?: CaptureLists;
  /** Record the duration histograms (only worth their cost when a metrics exporter is set). */
  metrics?: boolean;
  /** OTEL_PROPAGATORS: a request carrying any header these can read is extracted. */
  propagators?: readonly PropagatorName[];
  /**
   * Sampling rules read attributes at span start: the SERVER span then starts with `url.path`,
   * `http.request.method` and `server.address` (otherwise it starts bare: nothing is built before
   * the sampler has decided).
   */
  startAttributes?: boolean;
  /**
   * Sampling rules may read a CLIENT span's attributes: it then starts with `url.full`, `server.address`,
   * `server.port` and `http.request.method`, read from the call's arguments (client-target.ts).
   */
  clientStartAttributes?: boolean;
  /** OTEL_AGENT_TEST_FAULTS=http-bookkeeping (internal): ending a SERVER span throws, to test fail(). */
  testFault?: boolean;
}

type HttpModule = typeof httpT;
type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/** The context an emitter's events run in. */
const CTX = Symbol('@x/otel-agent/http context');
/** The traced exchange an emitter belongs to. */
const STATE = Symbol('@x/otel-agent/http exchange');

/** Same key as @opentelemetry/core's suppressTracing() (createContextKey is Symbol.for). */
const SUPPRESS = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

interface Carrier {
  [CTX]?: Context;
  [STATE]?: Exchange;
}

/** One traced request/response pair; `span` is undefined when only metrics are recorded. */
interface Exchange {
  kind: SpanKind.SERVER | SpanKind.CLIENT;
  span: Span | undefined;
  done: boolean;
  /** performance.now() at start, for the duration metric. */
  t0: number;
  method: string;
  scheme: string;
  req: httpT.IncomingMessage | httpT.ClientRequest;
  /** CLIENT: the response once it arrived. */
  res?: httpT.IncomingMessage;
  server?: { address?: string; port?: number };
  /** SERVER, sampled: the request target as it arrived (routers rewrite req.url while they dispatch), for the name guess. */
  target?: string;
}

interface Hist {
  server?: Histogram;
  client?: Histogram;
}

const headerSetter: TextMapSetter<httpT.ClientRequest> = {
  set(req, key, value) {
    req.setHeader(key, value);
  },
};

export class HttpInstrumentation extends InstrumentationBase<HttpConfig> {
  /**
   * Every path of this instrumentation that runs inside the app's calls catches
   * its own failures (see fail()), so the agent's per-call containment wrapper
   * (src/contain.ts), which would run on every event of every HTTP message, is
   * not put around its patches.
   */
  readonly selfContained = true;
  private failed = false;
  private hist: Hist = {};
  private fields: { names: Set<string>; lengths: Set<number>; prefixes: string[]; minPrefix: number } | undefined;
  private protoPatched = false;
  private readonly guessed = new GuessedNames();

  private readonly testFault: boolean;

  constructor(config: HttpConfig = {}) {
    super('@x/otel-agent/http', AGENT_VERSION, config);
    this.testFault = config.testFault === true;
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'http',
        ['*'],
        (m: HttpModule) => this.patch(m, 'http'),
        (m: HttpModule) => this.unpatch(m),
      ),
      new InstrumentationNodeModuleDefinition(
        'https',
        ['*'],
        (m: HttpModule) => this.patch(m, 'https'),
        (m: HttpModule) => this.unpatch(m),
      ),
    ];
  }

  protected override _updateMetricInstruments(): void {
    if (!this.getConfig().metrics) return;
    this.hist = {
      server: durationHistogram(this.meter, 'http.server.request.duration', 'Duration of HTTP server requests.'),
      client: durationHistogram(this.meter, 'http.client.request.duration', 'Duration of HTTP client requests.'),
    };
  }

  /**
   * The instrumentation's own code threw inside an app's call: the call goes on
   * untouched, one warning says so, and the instrumentation steps aside for
   * the rest of the process (the same contract src/contain.ts gives others).
   */
  private fail(where: string, e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const why = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 300);
    this._diag.warn(
      `instrumentation "http" threw inside ${where} (${why}); the call went on without it, and "http" is switched off for the rest of this process`,
    );
    try {
      this.disable();
    } catch {
      /* its wrappers check isEnabled() and pass calls straight through */
    }
  }

  // -------------------------------------------------------------------------------------------
  // Patching
  // -------------------------------------------------------------------------------------------

  private patch(m: HttpModule, scheme: 'http' | 'https'): HttpModule {
    const ns = m as unknown as { [Symbol.toStringTag]?: string; default?: HttpModule };
    const esm = ns[Symbol.toStringTag] === 'Module';
    const mod = esm && ns.default ? ns.default : m;
    this.patchPrototypes(scheme === 'http' ? mod : (require('node:http') as HttpModule));
    if (!isWrapped(mod.request)) {
      const request = this.outgoing(mod.request as unknown as AnyFn, scheme);
      this._wrap(mod, 'request', () => request as unknown as typeof mod.request);
      this._wrap(mod, 'get', () => getVia(request) as unknown as typeof mod.get);
      // Named imports of a built-in (`import { request } from 'node:http'`) are
      // live bindings Node only refreshes when asked.
      syncBuiltinESMExports();
    }
    if (esm) {
      // import-in-the-middle's namespace: its bindings are set through defineProperty.
      for (const k of ['request', 'get'] as const) {
        if (m[k] !== mod[k]) Object.defineProperty(m, k, { value: mod[k], configurable: true, enumerable: true, writable: true });
      }
    }
    const proto = (mod.Server as unknown as { prototype: { emit: Emit } }).prototype;
    if (!isWrapped(proto.emit)) {
      const emit = this.incoming(proto.emit, scheme);
      this._wrap(proto, 'emit', () => emit);
    }
    return m;
  }

  private unpatch(m: HttpModule): void {
    const ns = m as unknown as { [Symbol.toStringTag]?: string; default?: HttpModule };
    const mod = ns[Symbol.toStringTag] === 'Module' && ns.default ? ns.default : m;
    if (isWrapped(mod.request)) {
      this._unwrap(mod, 'request');
      this._unwrap(mod, 'get');
      syncBuiltinESMExports();
    }
    this._unwrap((mod.Server as unknown as { prototype: { emit: Emit } }).prototype, 'emit');
    // The emitter patches stay: without a stored context they only pass events on.
  }

  /** Events of requests and responses run in their exchange's context, and end its span. */
  private patchPrototypes(http: HttpModule): void {
    if (this.protoPatched) return;
    this.protoPatched = true;
    const inst = this;
    const wrapEmit = (
      proto: { emit: Emit },
      onEvent: (self: Carrier, ex: Exchange, event: string | symbol, arg: unknown) => void,
      nodeFinish = false,
    ): void => {
      if (isWrapped(proto.emit)) return;
      const original = proto.emit;
      const emit = function (this: Carrier, event: string | symbol): boolean {
        const ex = this[STATE];
        if (ex !== undefined && !ex.done) {
          try {
            onEvent(this, ex, event, arguments[1]);
          } catch (e) {
            inst.fail(`${(this as object).constructor?.name ?? 'http'}.emit('${String(event)}')`, e);
          }
        }
        const ctx = this[CTX];
        // Most events of a request have no listener, or only Node's own (which read no
        // context: whatever they emit in turn comes back through here); switching
        // contexts costs more than the rest of this function.
        // The listener check first: a property read, where context.active() is three calls deep.
        if (ctx === undefined || !hasAppListener(this as unknown as EventEmitter, event, nodeFinish) || context.active() === ctx) {
          return original.apply(this, arguments as unknown as Parameters<Emit>);
        }
        // The app's listeners run here: one frame of ours, no catch (see incoming()).
        const store = contextStore();
        if (store === undefined) return context.with(ctx, callEmit, undefined, original, this, arguments);
        const prior = store.getStore();
        store.enterWith(ctx);
        try {
          return original.apply(this, arguments as unknown as Parameters<Emit>);
        } finally {
          store.enterWith(prior);
        }
      };
      this._wrap(proto, 'emit', () => emit as Emit);
    };
    // Server side: the response finishing (or the connection closing first) ends the SERVER span.
    wrapEmit(
      http.ServerResponse.prototype as unknown as { emit: Emit },
      (self, ex, event, arg) => {
        if (event === 'finish' || event === 'close') this.endServer(ex, self as unknown as httpT.ServerResponse, undefined);
        else if (event === 'error') this.endServer(ex, self as unknown as httpT.ServerResponse, arg);
      },
      true,
    );
    // Client side: the response arriving, or the request failing before it did.
    wrapEmit(http.ClientRequest.prototype as unknown as { emit: Emit }, (self, ex, event, arg) => {
      if (event === 'response') this.clientResponse(ex, arg as httpT.IncomingMessage, self);
      else if (event === 'upgrade') {
        // An answered Upgrade (WebSocket: 101): no body follows on this exchange, the socket is the app's now.
        this.clientResponse(ex, arg as httpT.IncomingMessage, self);
        this.endClient(ex, undefined);
      } else if (event === 'error') this.endClient(ex, arg);
      else if (event === 'close' && !ex.res) this.endClient(ex, undefined);
    });
    // A client response ends the CLIENT span when it has been read (or fails); a server request only carries context.
    wrapEmit(http.IncomingMessage.prototype as unknown as { emit: Emit }, (_self, ex, event, arg) => {
      if (ex.kind !== SpanKind.CLIENT) return;
      if (event === 'end' || event === 'close') this.endClient(ex, undefined);
      else if (event === 'error' || event === 'aborted') this.endClient(ex, arg ?? Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    });
  }

  // -------------------------------------------------------------------------------------------
  // SERVER
  // -------------------------------------------------------------------------------------------

  private incoming(original: Emit, scheme: 'http' | 'https'): Emit {
    const inst = this;
    const upgrades = this.upgradeHost(scheme);
    return function emit(this: unknown, event) {
      if (event !== 'request' || !inst.isEnabled()) {
        if (event === 'upgrade' && inst.isEnabled()) return emitUpgrade(upgrades, original, this, arguments);
        return original.apply(this, arguments as unknown as Parameters<Emit>);
      }
      const req = arguments[1] as httpT.IncomingMessage & Carrier;
      const res = arguments[2] as httpT.ServerResponse & Carrier;
      let ex: Exchange | undefined;
      let ctx: Context;
      try {
        ex = inst.startServer(req, res, scheme);
        ctx = req[CTX]!;
      } catch (e) {
        inst.fail("Server.emit('request')", e);
        return original.apply(this, arguments as unknown as Parameters<Emit>);
      }
      // The app's handlers run here: no catch-and-rethrow (that would make this file the
      // reported source of the app's crash) and no context.with (four frames more in
      // every stack the app captures). See context-store.ts and sync-throw.ts.
      const store = contextStore();
      if (store === undefined) return context.with(ctx, callEmit, undefined, original, this, arguments);
      const prior = store.getStore();
      store.enterWith(ctx);
      let threw = true;
      try {
        const r = original.apply(this, arguments as unknown as Parameters<Emit>);
        threw = false;
        return r;
      } finally {
        store.enterWith(prior);
        if (threw && ex !== undefined) inst.noteServerThrow(ex, res);
      }
    };
  }

  /** A server's 'upgrade' event (WebSocket handshakes): a SERVER span with no ServerResponse, ended by upgrade.ts. */
  private upgradeHost(scheme: string): UpgradeHost<Exchange> {
    return {
      startUpgrade: (req) => {
        const r = req as httpT.IncomingMessage & Carrier;
        const parent = this.hasPropagationHeaders(r.rawHeaders) ? propagation.extract(LIGHT_ROOT, r.headers) : LIGHT_ROOT;
        const method = normalMethod(r.method);
        const span = this.tracer.startSpan(method === '_OTHER' ? 'HTTP' : method, { kind: SpanKind.SERVER }, parent);
        const ctx = trace.setSpan(parent, span);
        r[CTX] = ctx;
        if (!span.isRecording()) return { ctx };
        const ex: Exchange = { kind: SpanKind.SERVER, span, done: false, t0: performance.now(), method, scheme, req: r };
        this.describeServer(span, r, method, scheme, ex);
        return { ctx, ex };
      },
      endUpgrade: (ex, status) => {
        if (ex.done || !ex.span) return;
        ex.done = true;
        const span = ex.span;
        const route = matchedRoute(ex.req, undefined, status);
        span.updateName(serverName((ex.req as httpT.IncomingMessage).method, route, status, ex.target, this.guessed));
        if (route !== undefined) span.setAttribute(ATTR_HTTP_ROUTE, route);
        if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
        if (status !== undefined && status >= 500) {
          span.setAttribute(ATTR_ERROR_TYPE, String(status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      },
      fail: (where, e) => this.fail(where, e),
    };
  }

  /** A handler threw synchronously: the exchange is ended with the exception once it is known (sync-throw.ts). */
  private noteServerThrow(ex: Exchange, res: httpT.ServerResponse): void {
    try {
      noteThrow({
        open: () => !ex.done,
        span: () => ex.span,
        end: (err) => this.endServer(ex, res, err),
      });
    } catch {
      /* the app's exception is on its way; ours must not replace it */
    }
  }

  /** Stores the request's context on req and res; the exchange when there is something to record (a result object a request cost 0.1 KB). */
  private startServer(req: httpT.IncomingMessage & Carrier, res: httpT.ServerResponse & Carrier, scheme: string): Exchange | undefined {
    // A server's requests start from the caller's context only, never from whatever
    // was active when the connection was accepted. LIGHT_ROOT: every context derived in the
    // request (its span, the app's and the instrumentations' values) is one small object.
    const parent = this.hasPropagationHeaders(req.rawHeaders) ? propagation.extract(LIGHT_ROOT, req.headers) : LIGHT_ROOT;
    const method = normalMethod(req.method);
    const options = this.getConfig().startAttributes ? { kind: SpanKind.SERVER, attributes: ruleAttributes(req, method) } : SERVER_OPTIONS;
    const span = this.tracer.startSpan(method === '_OTHER' ? 'HTTP' : method, options, parent);
    const ctx = trace.setSpan(parent, span);
    req[CTX] = ctx;
    res[CTX] = ctx;
    const recording = span.isRecording();
    if (!recording && !this.hist.server) return undefined;
    const ex: Exchange = {
      kind: SpanKind.SERVER,
      span: recording ? span : undefined,
      done: false,
      t0: performance.now(),
      method,
      scheme,
      req,
    };
    res[STATE] = ex;
    if (recording) this.describeServer(span, req, method, scheme, ex);
    return ex;
  }

  /** Name and request attributes of a sampled SERVER span. */
  private describeServer(span: Span, req: httpT.IncomingMessage, method: string, scheme: string, ex: Exchange): void {
    // Named when it ends (endServer): by then a framework may have told the route, or the status says no
    // route matched; only then is a name guessed from the path. A span ended some other way (the process
    // crashed) keeps the method alone.
    const target = req.url ?? '/';
    ex.target = target;
    const headers = readHeaders(req.rawHeaders);
    const q = target.indexOf('?');
    let path = q >= 0 ? target.slice(0, q) : target;
    if (!path.startsWith('/')) {
      // Absolute-form (a proxy request) or `*`: the path only; credentials never leave the URL.
      try {
        path = new URL(target).pathname;
      } catch {
        /* keep as sent */
      }
    }
    const socket = req.socket as Socket | undefined;
    const a: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_URL_SCHEME]: scheme,
      [ATTR_URL_PATH]: path,
      [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
    };
    if (method === '_OTHER') a[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = req.method;
    if (q >= 0) {
      const hash = target.indexOf('#', q);
      const query = target.slice(q + 1, hash >= 0 ? hash : undefined);
      if (query) a[ATTR_URL_QUERY] = redactQuery(query);
    }
    const fwd = headers.forwarded;
    const host = (fwd && forwarded(fwd, 'host')) || headers['x-forwarded-host'] || headers.host;
    if (host) {
      const h = splitHost(host);
      a[ATTR_SERVER_ADDRESS] = h.address;
      const proto = (fwd && forwarded(fwd, 'proto')) || headers['x-forwarded-proto'] || scheme;
      const port = h.port ?? (proto === 'https' ? 443 : proto === 'http' ? 80 : undefined);
      if (port !== undefined) a[ATTR_SERVER_PORT] = port;
      ex.server = { address: h.address, port };
    }
    const client = (fwd && forwarded(fwd, 'for')) || headers['x-forwarded-for']?.split(',')[0];
    if (client) a[ATTR_CLIENT_ADDRESS] = bareAddress(client);
    else if (socket?.remoteAddress) a[ATTR_CLIENT_ADDRESS] = socket.remoteAddress;
    if (socket?.remoteAddress) {
      a[ATTR_NETWORK_PEER_ADDRESS] = socket.remoteAddress;
      if (socket.remotePort !== undefined) a[ATTR_NETWORK_PEER_PORT] = socket.remotePort;
    }
    const ua = headers['user-agent'];
    if (ua) a[ATTR_USER_AGENT_ORIGINAL] = ua;
    span.setAttributes(a);
    const names = captureNames(this.getConfig().captureHeaders, 'serverRequest', span);
    if (names?.length) captureHeaders(span, 'request', names, (n) => req.headers[n]);
  }

  private endServer(ex: Exchange, res: httpT.ServerResponse, err: unknown): void {
    if (ex.done) return;
    ex.done = true;
    if (this.testFault) throw new Error('test fault in http bookkeeping');
    // A response the client went away from before its headers were sent has no status code.
    const status = res.headersSent ? res.statusCode : undefined;
    // A handler error the framework answered with a 5xx (server-route.ts); a 4xx mapped from an error is the client's.
    if (err === undefined && (status === undefined || status >= 500)) err = serverError(ex.req);
    const failure = err !== undefined ? errorType(err) : status !== undefined && status >= 500 ? String(status) : undefined;
    const span = ex.span;
    const route = matchedRoute(ex.req, span, status);
    if (span) {
      span.updateName(serverName((ex.req as httpT.IncomingMessage).method, route, status, ex.target, this.guessed));
      if (route !== undefined) span.setAttribute(ATTR_HTTP_ROUTE, route);
      if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (failure !== undefined) {
        span.setAttribute(ATTR_ERROR_TYPE, failure);
        if (err !== undefined) {
          if (err instanceof Error) span.recordException(err);
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        } else span.setStatus({ code: SpanStatusCode.ERROR });
      }
      const names = captureNames(this.getConfig().captureHeaders, 'serverResponse', span);
      if (names?.length) captureHeaders(span, 'response', names, (n) => res.getHeader(n));
      span.end();
    }
    const h = this.hist.server;
    if (h) {
      const a: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: ex.method, [ATTR_URL_SCHEME]: ex.scheme };
      if (route !== undefined) a[ATTR_HTTP_ROUTE] = route;
      if (status !== undefined) a[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
      if (failure !== undefined) a[ATTR_ERROR_TYPE] = failure;
      const v = (ex.req as httpT.IncomingMessage).httpVersion;
      if (v) a[ATTR_NETWORK_PROTOCOL_VERSION] = v;
      // The request's context holds its SERVER span (sampled or not): the exemplar's trace and span id.
      h.record((performance.now() - ex.t0) / 1000, a, (ex.req as Carrier)[CTX]);
    }
  }

  /**
   * Whether any header the configured propagators can read is present, without building `req.headers`.
   * What they read (readable-headers.ts), not only what they write (`fields()`): B3 callers send either
   * encoding, Jaeger baggage comes alone under `uberctx-*`. The global propagator's fields are added in
   * case another setup registered its own.
   */
  private hasPropagationHeaders(raw: string[]): boolean {
    let f = this.fields;
    if (!f) {
      const readable = readableHeaders(this.getConfig().propagators ?? []);
      const names = new Set([...readable.names, ...propagation.fields().map((n) => n.toLowerCase())]);
      const minPrefix = Math.min(...readable.prefixes.map((p) => p.length));
      f = this.fields = { names, lengths: new Set([...names].map((n) => n.length)), prefixes: readable.prefixes, minPrefix };
    }
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i]!;
      if (f.lengths.has(k.length) && f.names.has(k.toLowerCase())) return true;
      if (k.length > f.minPrefix) {
        for (const p of f.prefixes) if (k.length > p.length && k.slice(0, p.length).toLowerCase() === p) return true;
      }
    }
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // CLIENT
  // -------------------------------------------------------------------------------------------

  private outgoing(original: AnyFn, scheme: 'http' | 'https'): AnyFn {
    const inst = this;
    return function request(this: unknown) {
      const parent = context.active();
      if (!inst.isEnabled() || parent.getValue(SUPPRESS) === true) return original.apply(this, arguments as unknown as unknown[]);
      let span: Span | undefined;
      let spanCtx: Context | undefined;
      let args: ArrayLike<unknown> = arguments;
      try {
        const start = inst.getConfig().clientStartAttributes ? fromArgs(args, scheme) : undefined;
        span = inst.tracer.startSpan('HTTP', start ? { kind: SpanKind.CLIENT, attributes: start } : CLIENT_OPTIONS, parent);
        spanCtx = trace.setSpan(parent, span);
        args = withEarlyHeaders(args, spanCtx);
      } catch (e) {
        inst.fail(`${scheme}.request`, e);
      }
      let req: httpT.ClientRequest & Carrier;
      try {
        req = original.apply(this, args as unknown[]) as httpT.ClientRequest & Carrier;
      } catch (e) {
        // Invalid arguments: Node throws before any request exists.
        if (span?.isRecording()) {
          span.setAttribute(ATTR_ERROR_TYPE, errorType(e));
          span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
          span.end();
        }
        throw e;
      }
      if (span && spanCtx) {
        try {
          inst.startClient(req, span, spanCtx, parent, scheme, arguments[0], arguments[1]);
        } catch (e) {
          inst.fail(`${scheme}.request`, e);
        }
      }
      return req;
    };
  }

  private startClient(req: httpT.ClientRequest & Carrier, span: Span, spanCtx: Context, parent: Context, scheme: string, a: unknown, b: unknown): void {
    // The caller's listeners (its response callback among them) run in the caller's context.
    req[CTX] = parent;
    // Already in the headers when withEarlyHeaders() put them into the options.
    if (!req.headersSent) propagation.inject(spanCtx, req, headerSetter);
    const recording = span.isRecording();
    if (!recording && !this.hist.client) return;
    const method = normalMethod(req.method);
    const ex: Exchange = { kind: SpanKind.CLIENT, span: recording ? span : undefined, done: false, t0: performance.now(), method, scheme, req };
    req[STATE] = ex;
    const t = fromRequest(req, scheme, a, b);
    ex.server = { address: t.address, port: t.port };
    if (!recording) return;
    span.updateName(clientSpanName(req.method, `${t.protocol}//${t.authority}`, req.path));
    const attrs: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_SERVER_ADDRESS]: t.address,
      [ATTR_SERVER_PORT]: t.port,
      [ATTR_URL_FULL]: fullUrl(t, req.path),
    };
    if (method === '_OTHER') attrs[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = req.method;
    const ua = req.getHeader('user-agent');
    if (typeof ua === 'string') attrs[ATTR_USER_AGENT_ORIGINAL] = ua;
    span.setAttributes(attrs);
  }

  private clientResponse(ex: Exchange, res: httpT.IncomingMessage & Carrier, req: Carrier): void {
    ex.res = res;
    res[CTX] = req[CTX];
    res[STATE] = ex;
    const span = ex.span;
    if (!span) return;
    const a: Attributes = {};
    if (res.statusCode !== undefined) a[ATTR_HTTP_RESPONSE_STATUS_CODE] = res.statusCode;
    const socket = res.socket as Socket | null;
    if (socket?.remoteAddress) {
      a[ATTR_NETWORK_PEER_ADDRESS] = socket.remoteAddress;
      if (socket.remotePort !== undefined) a[ATTR_NETWORK_PEER_PORT] = socket.remotePort;
    }
    if (res.httpVersion) a[ATTR_NETWORK_PROTOCOL_VERSION] = res.httpVersion;
    span.setAttributes(a);
    const cfg = this.getConfig().captureHeaders;
    const r = ex.req as httpT.ClientRequest;
    const request = captureNames(cfg, 'clientRequest', span);
    const response = captureNames(cfg, 'clientResponse', span);
    if (request?.length) captureHeaders(span, 'request', request, (n) => r.getHeader(n));
    if (response?.length) captureHeaders(span, 'response', response, (n) => res.headers[n]);
  }

  private endClient(ex: Exchange, err: unknown): void {
    if (ex.done) return;
    ex.done = true;
    const status = ex.res?.statusCode;
    const failure = err !== undefined ? errorType(err) : status !== undefined && status >= 400 ? String(status) : undefined;
    const span = ex.span;
    if (span) {
      if (failure !== undefined) {
        span.setAttribute(ATTR_ERROR_TYPE, failure);
        if (err !== undefined && err !== null && typeof err === 'object') {
          // Recorded under the precise type (a refused connection is ECONNREFUSED, not "Error").
          const e = err as { name?: unknown; message?: unknown; stack?: unknown };
          span.recordException({
            name: failure,
            code: failure,
            message: typeof e.message === 'string' ? e.message : String(err),
            stack: typeof e.stack === 'string' ? e.stack : undefined,
          });
          span.setStatus({ code: SpanStatusCode.ERROR, message: typeof e.message === 'string' ? e.message : String(err) });
        } else span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }
    const h = this.hist.client;
    if (h) {
      const a: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: ex.method };
      if (ex.server?.address) a[ATTR_SERVER_ADDRESS] = ex.server.address;
      if (ex.server?.port !== undefined) a[ATTR_SERVER_PORT] = ex.server.port;
      if (status !== undefined) a[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
      if (failure !== undefined) a[ATTR_ERROR_TYPE] = failure;
      // The exemplar points at the CLIENT span when it is recorded, else at the caller's context.
      h.record((performance.now() - ex.t0) / 1000, a, ex.span ? trace.setSpan(ROOT_CONTEXT, ex.span) : (ex.req as Carrier)[CTX]);
    }
  }
}

/**
 * Node writes a request's header block in the ClientRequest constructor when
 * the headers are given as an array or include `Expect` (100-continue): no
 * header can be set afterwards. For those calls only, the propagation headers
 * go into a copy of the caller's options instead (the caller's object is not
 * touched); every other request gets them with setHeader() once built.
 */
const SERVER_OPTIONS = { kind: SpanKind.SERVER };
const CLIENT_OPTIONS = { kind: SpanKind.CLIENT };

/** What sampling rules can match a request on (src/sampling/rules.ts): its path without the query, method and host. */
function ruleAttributes(req: httpT.IncomingMessage, method: string): Attributes {
  const target = req.url ?? '/';
  const q = target.search(/[?#]/);
  const a: Attributes = { [ATTR_URL_PATH]: q >= 0 ? target.slice(0, q) : target, [ATTR_HTTP_REQUEST_METHOD]: method };
  const host = req.headers.host;
  if (host) a[ATTR_SERVER_ADDRESS] = splitHost(host).address;
  return a;
}

function withEarlyHeaders(args: ArrayLike<unknown>, ctx: Context): ArrayLike<unknown> {
  const i = args[0] !== null && typeof args[0] === 'object' && !(args[0] instanceof URL) ? 0 : args[1] !== null && typeof args[1] === 'object' ? 1 : -1;
  if (i < 0) return args;
  const o = args[i] as { headers?: unknown };
  const h = o.headers;
  if (h === null || typeof h !== 'object') return args;
  const array = Array.isArray(h);
  if (!array && !Object.keys(h).some((k) => k.length === 6 && k.toLowerCase() === 'expect')) return args;
  const add: Record<string, string> = {};
  propagation.inject(ctx, add);
  const headers = array ? [...(h as unknown[]), ...Object.entries(add).flat()] : { ...(h as Record<string, unknown>), ...add };
  const copy = Array.prototype.slice.call(args) as unknown[];
  copy[i] = { ...o, headers };
  return copy;
}

/**
 * Whether an event has a listener that may be the app's. The three names are
 * listeners Node's http module adds itself, which run no app code: 'finish' of
 * a server response, 'end' of a server request, 'end' of a client response.
 * (If a Node version renames them, they are simply treated as the app's.)
 */
function hasAppListener(emitter: EventEmitter, event: string | symbol, nodeFinish: boolean): boolean {
  // EventEmitter keeps one listener as the function itself; reading it avoids the array listeners() makes.
  const events = (emitter as unknown as { _events?: Record<string | symbol, unknown> })._events;
  if (events === undefined || events === null) return emitter.listenerCount(event) > 0;
  const l = events[event];
  if (l === undefined) return false;
  if (typeof l !== 'function') return true;
  // A server response's only 'finish' listener is Node's bound resOnFinish: Node adds it before
  // the app sees the response, so an app's listener makes the list an array. Reading a bound
  // function's name builds the string "bound ..." on every read (about 100 ns, once a request).
  if (nodeFinish && event === 'finish') return false;
  const n = l.name;
  return n !== 'bound resOnFinish' && n !== 'clearIncoming' && n !== 'responseOnEnd';
}

/** Runs an emitter's original emit with its own `this` inside context.with (no bind per call). */
function callEmit(original: Emit, self: unknown, args: IArguments): boolean {
  return original.apply(self, args as unknown as Parameters<Emit>);
}

/** http.get is request() plus end(); Node's own get() calls the unpatched request internally. */
function getVia(request: AnyFn): AnyFn {
  return function get(this: unknown) {
    const req = request.apply(this, arguments as unknown as unknown[]) as httpT.ClientRequest;
    req.end();
    return req;
  };
}
