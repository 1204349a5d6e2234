/**
 * node:http2: SERVER spans for every stream a server receives (the stream API,
 * `'stream'`, and the compatibility API, `'request'` with
 * Http2ServerRequest/Response, which Node builds from the same stream), and
 * CLIENT spans for `session.request()` of sessions made by `http2.connect()`.
 * What the spans say is spans.ts.
 *
 * Patches, all made once:
 * - `createServer` / `createSecureServer`: the server instance gets its own
 *   `emit`, which starts the SERVER span on `'stream'` and runs the app's
 *   listeners in its context. An `allowHTTP1` server's HTTP/1.1 requests
 *   arrive as `'request'` with node:http's IncomingMessage: they are handed to
 *   the http instrumentation's patched `https.Server.prototype.emit` (or
 *   `http.Server`'s), so they are traced exactly like any HTTP/1.1 request
 *   (an Http2SecureServer is a tls.Server, not an https.Server, which is why
 *   they were not before);
 * - `connect`: the session instance gets its own `request`, which starts the
 *   CLIENT span and injects the context into (a copy of) the request headers;
 * - the `emit` of the Http2Stream prototype (found on the first stream), which
 *   reads the context and exchange stored on a stream under a symbol: the
 *   stream's events run in the request's context, and `'response'`, `'error'`
 *   and `'close'` end the spans. No listener or closure per stream.
 *
 * With metrics on, every stream (sampled or not) gets an exchange, whose end
 * is one record in http.{server,client}.request.duration (metrics.ts).
 *
 * gRPC runs over HTTP/2: a stream whose content-type is `application/grpc*`
 * is never traced or measured here (the grpc instrumentation makes the one
 * span and the one rpc.*.call.duration record of the call; the agent's own
 * gRPC exporter is never traced at all).
 */
import type * as h2T from 'node:http2';
import { syncBuiltinESMExports } from 'node:module';
import { context, propagation, trace, createContextKey, ROOT_CONTEXT, SpanKind, type Context, type Span } from '@opentelemetry/api';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, isWrapped, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import { methodForName } from '../http-naming';
import { AGENT_VERSION } from '../../version';
import { contextStore } from '../http/context-store';
import { GuessedNames } from '../http/guessed-names';
import { H2Duration } from './metrics';
import {
  clientResponse,
  clientRuleAttributes,
  describeClient,
  describeServer,
  endClient,
  endServer,
  originOf,
  serverRuleAttributes,
  type Capture,
  type H2Exchange,
  type Origin,
} from './spans';
import { LIGHT_ROOT } from '../../light-context';

export interface Http2Config extends InstrumentationConfig {
  /** Same lists as the http instrumentation's (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*, lower case, and the file's routes). */
  captureHeaders?: Capture;
  /** Sampling rules may read a SERVER span's attributes: it starts with `url.path`, `http.request.method`, `server.address`. */
  startAttributes?: boolean;
  /** Sampling rules may read a CLIENT span's attributes: it starts with `url.full`, `server.address`, `server.port`, `http.request.method`. */
  clientStartAttributes?: boolean;
  /** Record the duration histograms (only worth their cost when a metrics exporter is set). */
  metrics?: boolean;
}

type H2Module = typeof h2T;
type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

const CTX = Symbol('@x/otel-agent/http2 context');
const STATE = Symbol('@x/otel-agent/http2 exchange');
const ORIGIN = Symbol('@x/otel-agent/http2 origin');
const PATCHED = Symbol('@x/otel-agent/http2 patched');

const SERVER = { kind: SpanKind.SERVER };
const CLIENT = { kind: SpanKind.CLIENT };

/** Same key as @opentelemetry/core's suppressTracing() (createContextKey is Symbol.for). */
const SUPPRESS = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

interface Carrier {
  [CTX]?: Context;
  [STATE]?: H2Exchange;
  [ORIGIN]?: Origin;
  [PATCHED]?: true;
}

/** gRPC's requests (the app's, traced by the grpc instrumentation, and the agent's exporter's) are not HTTP spans. */
function isGrpc(headers: unknown): boolean {
  const ct = headers !== null && typeof headers === 'object' && !Array.isArray(headers) ? (headers as Record<string, unknown>)['content-type'] : undefined;
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

/** Runs `fn` with `ctx` entered on the context manager's storage (one frame, see http/context-store.ts). */
function runIn<T>(ctx: Context, fn: (this: unknown, ...a: unknown[]) => T, self: unknown, args: ArrayLike<unknown>): T {
  const store = contextStore();
  if (store === undefined) return context.with(ctx, () => fn.apply(self, args as unknown[]));
  const prior = store.getStore();
  store.enterWith(ctx);
  try {
    return fn.apply(self, args as unknown[]);
  } finally {
    store.enterWith(prior);
  }
}

export class Http2Instrumentation extends InstrumentationBase<Http2Config> {
  /** Its wrappers catch their own failures (fail()); the per-call containment wrapper is not put around them. */
  readonly selfContained = true;
  private failed = false;
  private readonly guessed = new GuessedNames();
  private readonly streamProtos = new WeakSet<object>();
  /** http.Server's and https.Server's patched emit, once found. */
  private readonly h1: [Emit | undefined, Emit | undefined] = [undefined, undefined];
  private duration: H2Duration | undefined;

  constructor(config: Http2Config = {}) {
    super('@x/otel-agent/http2', AGENT_VERSION, config);
    // The base constructor already called this, before this class's fields were initialised.
    this._updateMetricInstruments();
  }

  protected override _updateMetricInstruments(): void {
    if (this.getConfig().metrics) this.duration = new H2Duration(this.meter);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'http2',
        ['*'],
        (m: H2Module) => this.patch(m),
        (m: H2Module) => this.unpatch(m),
      ),
    ];
  }

  private fail(where: string, e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const why = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 300);
    this._diag.warn(
      `instrumentation "http2" threw inside ${where} (${why}); the call went on without it, and "http2" is switched off for the rest of this process`,
    );
    try {
      this.disable();
    } catch {
      /* its wrappers check isEnabled() and pass calls straight through */
    }
  }

  private patch(m: H2Module): H2Module {
    const ns = m as unknown as { [Symbol.toStringTag]?: string; default?: H2Module };
    const esm = ns[Symbol.toStringTag] === 'Module';
    const mod = esm && ns.default ? ns.default : m;
    const keys = ['connect', 'createServer', 'createSecureServer'] as const;
    if (!isWrapped(mod.connect)) {
      const inst = this;
      this._wrap(
        mod,
        'connect',
        (original) =>
          function connect(this: unknown) {
            const session = (original as unknown as AnyFn).apply(this, arguments as unknown as unknown[]);
            if (inst.isEnabled()) {
              try {
                inst.patchSession(session as h2T.ClientHttp2Session & Carrier, arguments[0]);
              } catch (e) {
                inst.fail('http2.connect', e);
              }
            }
            return session;
          } as unknown as typeof mod.connect,
      );
      for (const k of ['createServer', 'createSecureServer'] as const) {
        this._wrap(
          mod,
          k,
          (original) =>
            function createServer(this: unknown) {
              const server = (original as unknown as AnyFn).apply(this, arguments as unknown as unknown[]);
              try {
                inst.patchServer(server as h2T.Http2Server & Carrier, k === 'createSecureServer');
              } catch (e) {
                inst.fail(`http2.${k}`, e);
              }
              return server;
            } as unknown as (typeof mod)[typeof k],
        );
      }
      syncBuiltinESMExports();
    }
    if (esm) {
      for (const k of keys) {
        if (m[k] !== mod[k]) Object.defineProperty(m, k, { value: mod[k], configurable: true, enumerable: true, writable: true });
      }
    }
    return m;
  }

  private unpatch(m: H2Module): void {
    const ns = m as unknown as { [Symbol.toStringTag]?: string; default?: H2Module };
    const mod = ns[Symbol.toStringTag] === 'Module' && ns.default ? ns.default : m;
    for (const k of ['connect', 'createServer', 'createSecureServer'] as const) if (isWrapped(mod[k])) this._unwrap(mod, k);
    syncBuiltinESMExports();
    // Instances already patched check isEnabled() and pass everything through.
  }

  /** The Http2Stream prototype's emit: the stream's events in its context, and the ends of its span. */
  private patchStreamProto(stream: object): void {
    let proto = Object.getPrototypeOf(stream) as ({ emit: Emit; constructor?: { name?: string } } & object) | null;
    // ServerHttp2Stream and ClientHttp2Stream share Http2Stream's prototype: patch that one.
    const parent = proto && (Object.getPrototypeOf(proto) as typeof proto);
    if (parent?.constructor?.name === 'Http2Stream') proto = parent;
    if (!proto || this.streamProtos.has(proto)) return;
    this.streamProtos.add(proto);
    if (isWrapped(proto.emit)) return;
    const inst = this;
    this._wrap(
      proto,
      'emit',
      (original: Emit) =>
        function emit(this: unknown, event: string | symbol) {
          const self = this as Carrier;
          const ex = self[STATE];
          if (ex !== undefined && !ex.done) {
            try {
              inst.onStreamEvent(ex, event, arguments[1]);
            } catch (e) {
              inst.fail(`Http2Stream.emit('${String(event)}')`, e);
            }
          }
          const ctx = self[CTX];
          if (ctx === undefined || context.active() === ctx) return original.apply(this, arguments as unknown as Parameters<Emit>);
          return runIn(ctx, original as (this: unknown, ...a: unknown[]) => boolean, this, arguments);
        },
    );
  }

  private onStreamEvent(ex: H2Exchange, event: string | symbol, arg: unknown): void {
    const capture = this.getConfig().captureHeaders;
    if (event !== 'close' && event !== 'error') {
      if (event === 'response' && !ex.server) clientResponse(ex, arg as h2T.IncomingHttpHeaders, capture);
      return;
    }
    const err = event === 'error' ? arg : undefined;
    if (ex.server) {
      const o = endServer(ex, err, this.guessed, capture);
      if (o) this.duration?.recordServer(ex, o, (ex.stream as Carrier)[CTX]);
    } else this.finishClient(ex, err);
  }

  /** Ends the CLIENT span and records the duration; the exemplar is the span when recorded, else the caller's context. */
  private finishClient(ex: H2Exchange, err: unknown): void {
    const o = endClient(ex, err);
    if (o) this.duration?.recordClient(ex, o, ex.span ? trace.setSpan(ROOT_CONTEXT, ex.span) : (ex.stream as Carrier | undefined)?.[CTX]);
  }

  // -------------------------------------------------------------------------------------------
  // SERVER
  // -------------------------------------------------------------------------------------------

  private patchServer(server: h2T.Http2Server & Carrier, secure: boolean): void {
    if (server[PATCHED]) return;
    server[PATCHED] = true;
    const inst = this;
    const original = server.emit as unknown as Emit;
    server.emit = function emit(this: unknown, event: string | symbol) {
      if (!inst.isEnabled()) return original.apply(this, arguments as unknown as Parameters<Emit>);
      if (event === 'stream') return inst.onStream(original, this, arguments);
      if (event === 'request') return inst.onRequest(original, this, arguments, secure);
      return original.apply(this, arguments as unknown as Parameters<Emit>);
    } as typeof server.emit;
  }

  private onStream(original: Emit, self: unknown, args: IArguments): boolean {
    const stream = args[1] as h2T.ServerHttp2Stream & Carrier;
    const headers = args[2] as h2T.IncomingHttpHeaders;
    let ctx: Context;
    try {
      if (isGrpc(headers)) return original.apply(self, args as unknown as Parameters<Emit>);
      this.patchStreamProto(stream);
      ctx = this.startServer(stream, headers);
    } catch (e) {
      this.fail("Http2Server.emit('stream')", e);
      return original.apply(self, args as unknown as Parameters<Emit>);
    }
    // The app's listeners (and Node's compatibility layer, which emits 'request' from one) run here.
    return runIn(ctx, original as (this: unknown, ...a: unknown[]) => boolean, self, args);
  }

  private startServer(stream: h2T.ServerHttp2Stream & Carrier, headers: h2T.IncomingHttpHeaders): Context {
    const t0 = this.duration ? performance.now() : 0;
    // From the caller's context only, never from whatever was active when the session was accepted.
    const parent = propagation.extract(LIGHT_ROOT, headers);
    const method = typeof headers[':method'] === 'string' ? headers[':method'] : undefined;
    const options = this.getConfig().startAttributes ? { kind: SpanKind.SERVER, attributes: serverRuleAttributes(headers, method) } : SERVER;
    const span = this.tracer.startSpan(methodForName(method), options, parent);
    const ctx = trace.setSpan(parent, span);
    stream[CTX] = ctx;
    const recording = span.isRecording();
    if (!recording && !this.duration) return ctx;
    const scheme = typeof headers[':scheme'] === 'string' ? headers[':scheme'] : undefined;
    const ex: H2Exchange = { server: true, span: recording ? span : undefined, done: false, t0, method, stream, scheme };
    stream[STATE] = ex;
    if (recording) describeServer(span, ex, headers, this.getConfig().captureHeaders);
    return ctx;
  }

  private onRequest(original: Emit, self: unknown, args: IArguments, secure: boolean): boolean {
    const req = args[1] as { stream?: Carrier; httpVersion?: string } | undefined;
    const stream = req?.stream;
    if (stream !== undefined && stream !== null && typeof stream === 'object' && req?.httpVersion?.startsWith('2')) {
      // Compatibility API: already in the stream's context (emitted from a 'stream' listener).
      const ex = stream[STATE];
      if (ex !== undefined) ex.compat = req;
      return original.apply(self, args as unknown as Parameters<Emit>);
    }
    // HTTP/1.1 on an allowHTTP1 server: the http instrumentation's patched Server emit traces it.
    return (this.http1Emit(secure) ?? original).apply(self, args as unknown as Parameters<Emit>);
  }

  /**
   * https.Server's (http.Server's) emit once the http instrumentation has patched it, else undefined.
   * Requiring node:https here is what makes the http instrumentation (activated with it by the first
   * load of node:http2) patch it, when the app itself never loads it.
   */
  private http1Emit(secure: boolean): Emit | undefined {
    const k = secure ? 1 : 0;
    const known = this.h1[k];
    if (known !== undefined) return known;
    try {
      const mod = require(secure ? 'node:https' : 'node:http') as { Server: { prototype: { emit: Emit } } };
      const e = mod.Server.prototype.emit;
      if (isWrapped(e)) return (this.h1[k] = e);
    } catch {
      /* untraced, as before */
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // CLIENT
  // -------------------------------------------------------------------------------------------

  private patchSession(session: h2T.ClientHttp2Session & Carrier, authority: unknown): void {
    if (session === null || typeof session !== 'object' || session[PATCHED]) return;
    session[PATCHED] = true;
    session[ORIGIN] = originOf(authority);
    const inst = this;
    const original = session.request as unknown as AnyFn;
    session.request = function request(this: h2T.ClientHttp2Session & Carrier) {
      const parent = context.active();
      const headers = arguments[0] as h2T.OutgoingHttpHeaders | undefined;
      if (!inst.isEnabled() || parent.getValue(SUPPRESS) === true || isGrpc(headers) || Array.isArray(headers)) {
        return original.apply(this, arguments as unknown as unknown[]);
      }
      let span: Span | undefined;
      let sent: h2T.OutgoingHttpHeaders | undefined;
      let args: ArrayLike<unknown> = arguments;
      const t0 = inst.duration ? performance.now() : 0;
      try {
        const options = inst.getConfig().clientStartAttributes ? { kind: SpanKind.CLIENT, attributes: clientRuleAttributes(this[ORIGIN], headers) } : CLIENT;
        span = inst.tracer.startSpan('HTTP', options, parent);
        // A copy: the caller's object may be reused for its next request.
        sent = { ...(headers ?? {}) };
        propagation.inject(trace.setSpan(parent, span), sent);
        const copy = Array.prototype.slice.call(arguments) as unknown[];
        copy[0] = sent;
        args = copy;
      } catch (e) {
        inst.fail('ClientHttp2Session.request', e);
      }
      let stream: h2T.ClientHttp2Stream & Carrier;
      try {
        stream = original.apply(this, args as unknown[]) as h2T.ClientHttp2Stream & Carrier;
      } catch (e) {
        // A closed session or invalid headers: Node throws before any stream exists.
        if (span && (span.isRecording() || inst.duration)) {
          const method = typeof sent?.[':method'] === 'string' ? sent[':method'] : 'GET';
          const recorded = span.isRecording() ? span : undefined;
          inst.finishClient({ server: false, span: recorded, done: false, t0, method, stream: undefined as never, sent, origin: this[ORIGIN] }, e);
        }
        throw e;
      }
      if (span && sent) {
        try {
          inst.startClient(stream, span, parent, sent, this[ORIGIN], t0);
        } catch (e) {
          inst.fail('ClientHttp2Session.request', e);
        }
      }
      return stream;
    } as typeof session.request;
  }

  private startClient(
    stream: h2T.ClientHttp2Stream & Carrier,
    span: Span,
    parent: Context,
    sent: h2T.OutgoingHttpHeaders,
    origin: Origin | undefined,
    t0: number,
  ): void {
    this.patchStreamProto(stream);
    // The caller's listeners ('response', 'data', 'end') run in the caller's context.
    stream[CTX] = parent;
    const recording = span.isRecording();
    if (!recording && !this.duration) return;
    const method = typeof sent[':method'] === 'string' ? sent[':method'] : 'GET';
    const ex: H2Exchange = { server: false, span: recording ? span : undefined, done: false, t0, method, stream, sent, origin };
    stream[STATE] = ex;
    if (recording) describeClient(span, ex, origin, sent);
  }
}
