/**
 * Global fetch and the npm `undici` package, from the diagnostics channels
 * both publish (`undici:request:create`, `undici:client:sendHeaders`,
 * `undici:request:headers`, `undici:request:trailers`, `undici:request:error`).
 *
 * Upstream's instrumentation-undici parses the URL, builds every attribute,
 * reads the request headers into a Map and runs the start hook for every
 * request, before the sampler has decided, and keeps a WeakMap entry per
 * request (about 40 µs of CPU per fetch on the bench machine, see
 * bench/NOTES.md). Here a request that is not recorded costs one sampling
 * decision and the injection of its context (so the called service sees the
 * trace id and the not-sampled decision), plus, when metrics are on, one
 * small record read back by the duration histogram. Only a recording span
 * gets a name template, attributes and header capture.
 *
 * What the spans say is what they said with upstream plus this agent's
 * shaping: CLIENT `GET http://host:port/path/:id`, stable semantic-convention
 * attributes, url.full / url.query redacted at the source, error.type naming
 * the failure (`ECONNREFUSED`, `TimeoutError`; a 4xx/5xx status as its code),
 * an app's own abort not an error, the OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_*
 * headers, and http.client.request.duration when metrics are on.
 */
import * as dc from 'node:diagnostics_channel';
import { context, createContextKey, propagation, trace, SpanKind, SpanStatusCode, type Attributes, type Span, type TextMapSetter } from '@opentelemetry/api';
import { InstrumentationBase, type InstrumentationConfig } from '@opentelemetry/instrumentation';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
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
import { clientSpanName, errorType, KNOWN_METHODS, methodForName } from '../http-naming';
import { normalMethod, parseHost } from '../http/header-parts';
import { redactUrlLike } from '../../redact';
import { AGENT_VERSION } from '../../version';
import { ClientDuration } from './duration';
import { requestHeaderValues, responseHeaderValues } from './headers';
import { captureNames, type CaptureLists } from '../http/route-capture';

export interface UndiciConfig extends InstrumentationConfig {
  /**
   * Lower-case header names recorded as `http.request.header.<name>` / `http.response.header.<name>`:
   * the general client lists, and the client routes of the configuration file (matched on url.full).
   */
  captureHeaders?: Pick<CaptureLists, 'clientRequest' | 'clientResponse' | 'clientRoutes'>;
  /** Record http.client.request.duration (only worth its cost when a metrics exporter is set). */
  metrics?: boolean;
  /** Sampling rules read attributes at span start: the span then starts with its URL attributes. */
  startAttributes?: boolean;
}

/** The undici Request fields read here (undici 6 and 7, and the copies Node 22 and 24 bundle). */
interface UndiciRequest {
  origin?: unknown;
  path?: unknown;
  method?: unknown;
  headers?: unknown;
  addHeader?: (name: string, value: string) => unknown;
  [STATE]?: Call;
}

/** One call that is recorded (span) or measured (metrics), stored on its request. */
interface Call {
  span: Span | undefined;
  t0: number;
  method: string;
  scheme: string;
  address: string;
  port: number | undefined;
  status?: number;
  protocol?: string;
}

const STATE = Symbol('@x/otel-agent/undici call');
/** Same key as @opentelemetry/core's suppressTracing() (createContextKey is Symbol.for). */
const SUPPRESS = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const CLIENT = { kind: SpanKind.CLIENT };

/** Undici's majors these channels and fields are known for (Node 22 bundles 6.x, Node 24 7.x). */
export const SUPPORTED_MAJORS = [6, 7];

const setter: TextMapSetter<UndiciRequest> = {
  set(req, key, value) {
    if (typeof req.addHeader === 'function') req.addHeader(key, value);
    else if (typeof req.headers === 'string') req.headers += `${key}: ${value}\r\n`;
    else if (Array.isArray(req.headers)) req.headers.push(key, value);
  },
};

/** `http://host:port` -> scheme, address, port; one service calls the same few origins, so the last is kept. */
let lastOrigin = '';
let lastParts = { scheme: 'http', address: '', port: undefined as number | undefined };
function originParts(origin: string): typeof lastParts {
  if (origin === lastOrigin) return lastParts;
  const sep = origin.indexOf('://');
  const scheme = sep > 0 ? origin.slice(0, sep).toLowerCase() : 'http';
  const authority = sep > 0 ? origin.slice(sep + 3) : origin;
  const slash = authority.indexOf('/');
  const h = parseHost(slash >= 0 ? authority.slice(0, slash) : authority);
  lastParts = { scheme, address: h.address, port: h.port ?? (scheme === 'https' ? 443 : scheme === 'http' ? 80 : undefined) };
  lastOrigin = origin;
  return lastParts;
}

const isAbort = (e: unknown): boolean =>
  (e as { name?: unknown } | null)?.name === 'AbortError' ||
  (typeof DOMException !== 'undefined' && e instanceof DOMException && e.code === DOMException.ABORT_ERR);

export class UndiciInstrumentation extends InstrumentationBase<UndiciConfig> {
  /** Every channel handler catches its own failures (see fail()): a throwing subscriber would crash the app. */
  readonly selfContained = true;
  private subscribed = false;
  private failed = false;
  private duration: ClientDuration | undefined;

  private readonly onCreate = (m: unknown): void => {
    try {
      this.created((m as { request: UndiciRequest }).request);
    } catch (e) {
      this.fail('undici:request:create', e);
    }
  };
  private readonly onSendHeaders = (m: unknown): void => {
    const msg = m as { request: UndiciRequest; socket?: { remoteAddress?: string; remotePort?: number; alpnProtocol?: unknown } };
    const call = msg.request?.[STATE];
    if (call === undefined) return;
    try {
      this.headersSent(call, msg.request, msg.socket);
    } catch (e) {
      this.fail('undici:client:sendHeaders', e);
    }
  };
  private readonly onResponse = (m: unknown): void => {
    const msg = m as { request: UndiciRequest; response: { statusCode?: number; headers?: unknown[] } };
    const call = msg.request?.[STATE];
    if (call === undefined) return;
    try {
      this.responded(call, msg.response);
    } catch (e) {
      this.fail('undici:request:headers', e);
    }
  };
  private readonly onDone = (m: unknown): void => {
    const req = (m as { request: UndiciRequest }).request;
    const call = req?.[STATE];
    if (call === undefined) return;
    req[STATE] = undefined;
    try {
      this.finish(call, undefined);
    } catch (e) {
      this.fail('undici:request:trailers', e);
    }
  };
  private readonly onError = (m: unknown): void => {
    const msg = m as { request: UndiciRequest; error: unknown };
    const call = msg.request?.[STATE];
    if (call === undefined) return;
    msg.request[STATE] = undefined;
    try {
      this.finish(call, msg.error);
    } catch (e) {
      this.fail('undici:request:error', e);
    }
  };

  constructor(config: UndiciConfig = {}) {
    super('@x/otel-agent/undici', AGENT_VERSION, config);
    // The base constructor ran enable() and _updateMetricInstruments() before the handlers above existed.
    this._updateMetricInstruments();
    if (config.enabled !== false) this.enable();
  }

  protected init() {
    return [];
  }

  protected override _updateMetricInstruments(): void {
    if (this.getConfig().metrics) this.duration = new ClientDuration(this.meter);
  }

  override enable(): void {
    super.enable();
    // Called once by the base constructor before the handlers are set, then again by ours.
    if (this.subscribed || this.onCreate === undefined) return;
    const major = Number(String(process.versions.undici ?? '').split('.')[0]);
    if (process.versions.undici !== undefined && !SUPPORTED_MAJORS.includes(major)) {
      this._diag.debug(
        `undici ${process.versions.undici} (Node's fetch) is outside the supported majors ${SUPPORTED_MAJORS.join(', ')}: fetch and undici are not traced`,
      );
      return;
    }
    this.subscribed = true;
    dc.subscribe('undici:request:create', this.onCreate);
    dc.subscribe('undici:client:sendHeaders', this.onSendHeaders);
    dc.subscribe('undici:request:headers', this.onResponse);
    dc.subscribe('undici:request:trailers', this.onDone);
    dc.subscribe('undici:request:error', this.onError);
  }

  override disable(): void {
    super.disable();
    if (!this.subscribed) return;
    this.subscribed = false;
    dc.unsubscribe('undici:request:create', this.onCreate);
    dc.unsubscribe('undici:client:sendHeaders', this.onSendHeaders);
    dc.unsubscribe('undici:request:headers', this.onResponse);
    dc.unsubscribe('undici:request:trailers', this.onDone);
    dc.unsubscribe('undici:request:error', this.onError);
  }

  /** Our own code threw inside a channel handler: one warning, and fetch goes on untraced for the rest of the process. */
  private fail(where: string, e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const why = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 300);
    this._diag.warn(
      `instrumentation "undici" threw inside ${where} (${why}); the call went on without it, and "undici" is switched off for the rest of this process`,
    );
    try {
      this.disable();
    } catch {
      /* unsubscribing cannot fail in a way that matters to the app */
    }
  }

  private created(req: UndiciRequest): void {
    const parent = context.active();
    if (parent.getValue(SUPPRESS) === true) return;
    const method = typeof req.method === 'string' ? req.method : 'GET';
    // CONNECT opens a tunnel (a proxy agent's), the request inside it is the one to trace.
    if (method === 'CONNECT' || typeof req.path !== 'string' || req.origin === undefined || req.origin === null) return;
    const origin = String(req.origin);
    const start = this.getConfig().startAttributes ? this.attributes(req, method, origin) : undefined;
    const span = this.tracer.startSpan(methodForName(method), start ? { kind: SpanKind.CLIENT, attributes: start } : CLIENT, parent);
    // The called service continues this trace, sampled or not: it must see the trace id and the decision.
    propagation.inject(trace.setSpan(parent, span), req, setter);
    const recording = span.isRecording();
    if (!recording && this.duration === undefined) return;
    const o = originParts(origin);
    req[STATE] = {
      span: recording ? span : undefined,
      t0: performance.now(),
      method: normalMethod(method),
      scheme: o.scheme,
      address: o.address,
      port: o.port,
    };
    if (!recording) return;
    span.updateName(clientSpanName(method, origin, req.path));
    if (!start) span.setAttributes(this.attributes(req, method, origin));
  }

  /** The attributes known when the request is created (only for a recording span, or for sampling rules). */
  private attributes(req: UndiciRequest, method: string, origin: string): Attributes {
    const o = originParts(origin);
    const path = req.path as string;
    const a: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: normalMethod(method), [ATTR_URL_SCHEME]: o.scheme, [ATTR_SERVER_ADDRESS]: o.address };
    if (o.port !== undefined) a[ATTR_SERVER_PORT] = o.port;
    if (!KNOWN_METHODS.has(method)) a[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = method;
    let url: URL | undefined;
    try {
      url = new URL(path, origin);
    } catch {
      /* an unparsable target: no URL attributes, as before */
    }
    if (url) {
      a[ATTR_URL_FULL] = redactUrlLike(url.href);
      a[ATTR_URL_PATH] = url.pathname;
      if (url.search.length > 1) a[ATTR_URL_QUERY] = redactUrlLike(url.search.slice(1));
    }
    const ua = requestHeaderValues(req.headers, 'user-agent');
    if (ua) a[ATTR_USER_AGENT_ORIGINAL] = ua[ua.length - 1]!;
    return a;
  }

  private headersSent(call: Call, req: UndiciRequest, socket: { remoteAddress?: string; remotePort?: number; alpnProtocol?: unknown } | undefined): void {
    call.protocol = socket?.alpnProtocol === 'h2' ? '2' : '1.1';
    const span = call.span;
    if (!span) return;
    const a: Attributes = { [ATTR_NETWORK_PROTOCOL_VERSION]: call.protocol };
    if (socket?.remoteAddress) a[ATTR_NETWORK_PEER_ADDRESS] = socket.remoteAddress;
    if (socket?.remotePort !== undefined) a[ATTR_NETWORK_PEER_PORT] = socket.remotePort;
    for (const name of captureNames(this.getConfig().captureHeaders, 'clientRequest', span) ?? []) {
      const v = requestHeaderValues(req.headers, name);
      if (v) a[`http.request.header.${name}`] = v;
    }
    span.setAttributes(a);
  }

  private responded(call: Call, res: { statusCode?: number; headers?: unknown[] }): void {
    const status = res?.statusCode;
    if (typeof status === 'number') call.status = status;
    const span = call.span;
    if (!span) return;
    if (typeof status === 'number') {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (status >= 400) {
        span.setAttribute(ATTR_ERROR_TYPE, String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    const names = captureNames(this.getConfig().captureHeaders, 'clientResponse', span);
    if (names?.length && Array.isArray(res.headers)) {
      for (const [k, v] of Object.entries(responseHeaderValues(res.headers, names))) span.setAttribute(`http.response.header.${k}`, v);
    }
  }

  private finish(call: Call, err: unknown): void {
    // The app aborting its own call is not a failure of the call.
    const failure = err !== undefined && !isAbort(err) ? errorType(err) : undefined;
    const span = call.span;
    if (span) {
      if (failure !== undefined) {
        const e = (err ?? {}) as { message?: unknown; stack?: unknown };
        const message = typeof e.message === 'string' ? e.message : String(err);
        span.setAttribute(ATTR_ERROR_TYPE, failure);
        // Recorded under the precise type (a fetch timeout is TimeoutError, not the DOMException code 23).
        span.recordException({ name: failure, code: failure, message, stack: typeof e.stack === 'string' ? e.stack : undefined });
        span.setStatus({ code: SpanStatusCode.ERROR, message });
      }
      span.end();
    }
    this.duration?.record(call, failure ?? (call.status !== undefined && call.status >= 400 ? String(call.status) : undefined), span);
  }
}
