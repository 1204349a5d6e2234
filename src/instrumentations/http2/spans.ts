/**
 * What the HTTP/2 SERVER and CLIENT spans say: the same names and stable
 * attributes as node:http's (http/instrumentation.ts), read from HTTP/2's
 * pseudo-headers (`:method`, `:path`, `:authority`, `:scheme`, `:status`)
 * instead of a request line, with `network.protocol.version` `2`.
 *
 * The describe* functions are only called for sampled spans: an unsampled
 * stream costs a context and a sampling decision (instrumentation.ts). With
 * metrics on, an unsampled stream also gets an exchange without a span, and
 * endServer() / endClient() only work out the outcome the duration metric
 * records (metrics.ts).
 */
import type * as h2T from 'node:http2';
import type { Socket } from 'node:net';
import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
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
import { redactQuery, redactUrlLike } from '../../redact';
import { bareAddress, captureHeaders, forwarded, normalMethod, parseHost, splitHost } from '../http/header-parts';
import { serverError } from '../http/server-route';
import { matchedRoute, serverName } from '../http/server-name';
import type { GuessedNames } from '../http/guessed-names';
import { captureNames, type CaptureLists } from '../http/route-capture';

/** The general lists and the configuration file's routes, as the http instrumentation has them (http/route-capture.ts). */
export type Capture = CaptureLists;

/** One traced HTTP/2 stream: sampled (`span`), or measured only (metrics on). */
export interface H2Exchange {
  server: boolean;
  span: Span | undefined;
  done: boolean;
  /** performance.now() at start, for the duration metric (0 when metrics are off). */
  t0: number;
  /** `:method` as sent. */
  method: string | undefined;
  stream: h2T.Http2Stream;
  /** SERVER, compatibility API: the Http2ServerRequest a framework sets its route on. */
  compat?: object;
  /** SERVER: `:scheme`. */
  scheme?: string;
  /** CLIENT: where the session connects. */
  origin?: Origin;
  /** SERVER: the request target as it arrived, for the name guess made at the end when no route was told. */
  target?: string;
  /** CLIENT: the headers sent (for header capture) and the response's `:status`. */
  sent?: h2T.OutgoingHttpHeaders;
  status?: number;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);

function peer(a: Attributes, socket: Socket | null | undefined): void {
  if (!socket?.remoteAddress) return;
  a[ATTR_NETWORK_PEER_ADDRESS] = socket.remoteAddress;
  if (socket.remotePort !== undefined) a[ATTR_NETWORK_PEER_PORT] = socket.remotePort;
}

// ---------------------------------------------------------------------------------------------
// SERVER
// ---------------------------------------------------------------------------------------------

export function describeServer(span: Span, ex: H2Exchange, headers: h2T.IncomingHttpHeaders, capture: Capture | undefined): void {
  const target = str(headers[':path']) ?? '/';
  ex.target = target; // named at the end (http/server-name.ts)
  const method = normalMethod(ex.method);
  const scheme = str(headers[':scheme']) ?? 'http';
  const q = target.indexOf('?');
  const a: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_SCHEME]: scheme,
    [ATTR_URL_PATH]: q >= 0 ? target.slice(0, q) : target,
    [ATTR_NETWORK_PROTOCOL_VERSION]: '2',
  };
  if (method === '_OTHER') a[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = ex.method;
  if (q >= 0) {
    const hash = target.indexOf('#', q);
    const query = target.slice(q + 1, hash >= 0 ? hash : undefined);
    if (query) a[ATTR_URL_QUERY] = redactQuery(query);
  }
  const fwd = str(headers.forwarded);
  const host = (fwd && forwarded(fwd, 'host')) || str(headers['x-forwarded-host']) || str(headers[':authority']) || str(headers.host);
  if (host) {
    const h = splitHost(host);
    a[ATTR_SERVER_ADDRESS] = h.address;
    const proto = (fwd && forwarded(fwd, 'proto')) || str(headers['x-forwarded-proto']) || scheme;
    const port = h.port ?? (proto === 'https' ? 443 : proto === 'http' ? 80 : undefined);
    if (port !== undefined) a[ATTR_SERVER_PORT] = port;
  }
  const socket = ex.stream.session?.socket as Socket | undefined;
  const client = (fwd && forwarded(fwd, 'for')) || str(headers['x-forwarded-for'])?.split(',')[0];
  if (client) a[ATTR_CLIENT_ADDRESS] = bareAddress(client);
  else if (socket?.remoteAddress) a[ATTR_CLIENT_ADDRESS] = socket.remoteAddress;
  peer(a, socket);
  const ua = str(headers['user-agent']);
  if (ua) a[ATTR_USER_AGENT_ORIGINAL] = ua;
  span.setAttributes(a);
  // After the attributes: a route matches the span's url.path.
  const names = captureNames(capture, 'serverRequest', span);
  if (names?.length) captureHeaders(span, 'request', names, (n) => headers[n]);
}

/** How a stream ended: what the span and the duration metric both say. */
export interface Outcome {
  status: number | undefined;
  failure: string | undefined;
  route?: string;
}

/** Ends a SERVER span the way endServer() of the http instrumentation does: route, status, error rules and names. */
export function endServer(ex: H2Exchange, err: unknown, guessed: GuessedNames, capture: Capture | undefined): Outcome | undefined {
  if (ex.done) return undefined;
  ex.done = true;
  const stream = ex.stream as h2T.ServerHttp2Stream;
  const sent = stream.headersSent ? stream.sentHeaders : undefined;
  const status = sent && sent[':status'] !== undefined ? Number(sent[':status']) : undefined;
  const slots = ex.compat ?? stream;
  if (err === undefined && (status === undefined || status >= 500)) err = serverError(slots);
  const failure = err !== undefined ? errorType(err) : status !== undefined && status >= 500 ? String(status) : undefined;
  const span = ex.span;
  const route = matchedRoute(slots, span, status);
  if (!span) return { status, failure, route };
  span.updateName(serverName(ex.method, route, status, ex.target, guessed));
  if (route !== undefined) span.setAttribute(ATTR_HTTP_ROUTE, route);
  if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (failure !== undefined) {
    span.setAttribute(ATTR_ERROR_TYPE, failure);
    if (err !== undefined) {
      if (err instanceof Error) span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    } else span.setStatus({ code: SpanStatusCode.ERROR });
  }
  const names = sent && captureNames(capture, 'serverResponse', span);
  if (names?.length && sent) captureHeaders(span, 'response', names, (n) => sent[n]);
  span.end();
  return { status, failure, route };
}

// ---------------------------------------------------------------------------------------------
// CLIENT
// ---------------------------------------------------------------------------------------------

/** Where a session connects: from the authority given to http2.connect(). */
export interface Origin {
  scheme: string;
  /** host[:port] as written. */
  authority: string;
  address: string;
  port: number;
}

export function originOf(authority: unknown): Origin | undefined {
  let u: URL;
  try {
    u = authority instanceof URL ? authority : new URL(String(authority));
  } catch {
    return undefined;
  }
  const scheme = u.protocol.replace(/:$/, '');
  const address = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { scheme, authority: u.host, address, port: u.port ? Number(u.port) : scheme === 'https' ? 443 : 80 };
}

/** Where a request goes: from its pseudo-headers, else from the session's origin. */
function clientTarget(
  origin: Origin | undefined,
  sent: h2T.OutgoingHttpHeaders,
): { scheme: string; authority: string; path: string; address: string; port: number } {
  const path = str(sent[':path']) ?? '/';
  const scheme = str(sent[':scheme']) ?? origin?.scheme ?? 'https';
  const authority = str(sent[':authority']) ?? origin?.authority ?? '';
  const h = parseHost(authority);
  const port = h.port ?? (authority === origin?.authority ? origin.port : scheme === 'https' ? 443 : 80);
  return { scheme, authority, path, address: h.address, port };
}

/**
 * What sampling rules can match a CLIENT stream on, before it exists (only when a rule may read them):
 * the same values describeClient() records.
 */
export function clientRuleAttributes(origin: Origin | undefined, headers: h2T.OutgoingHttpHeaders | undefined): Attributes {
  const h = headers ?? {};
  const t = clientTarget(origin, h);
  return {
    [ATTR_HTTP_REQUEST_METHOD]: normalMethod(str(h[':method']) ?? 'GET'),
    [ATTR_SERVER_ADDRESS]: t.address,
    [ATTR_SERVER_PORT]: t.port,
    [ATTR_URL_FULL]: redactUrlLike(`${t.scheme}://${t.authority}${t.path}`),
  };
}

/** What sampling rules can match a SERVER stream on (as the http instrumentation's): path without the query, method, host. */
export function serverRuleAttributes(headers: h2T.IncomingHttpHeaders, method: string | undefined): Attributes {
  const target = str(headers[':path']) ?? '/';
  const q = target.search(/[?#]/);
  const a: Attributes = { [ATTR_URL_PATH]: q >= 0 ? target.slice(0, q) : target, [ATTR_HTTP_REQUEST_METHOD]: normalMethod(method) };
  const host = str(headers[':authority']) ?? str(headers.host);
  if (host) a[ATTR_SERVER_ADDRESS] = splitHost(host).address;
  return a;
}

export function describeClient(span: Span, ex: H2Exchange, origin: Origin | undefined, sent: h2T.OutgoingHttpHeaders): void {
  const method = normalMethod(ex.method);
  const t = clientTarget(origin, sent);
  span.updateName(clientSpanName(ex.method, `${t.scheme}://${t.authority}`, t.path));
  const a: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_SERVER_ADDRESS]: t.address,
    [ATTR_SERVER_PORT]: t.port,
    // http2.connect() takes no credentials in the authority that would reach the request; redactUrlLike covers the query.
    [ATTR_URL_FULL]: redactUrlLike(`${t.scheme}://${t.authority}${t.path}`),
    [ATTR_NETWORK_PROTOCOL_VERSION]: '2',
  };
  if (method === '_OTHER') a[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = ex.method;
  const ua = str(sent['user-agent']);
  if (ua) a[ATTR_USER_AGENT_ORIGINAL] = ua;
  span.setAttributes(a);
}

export function clientResponse(ex: H2Exchange, headers: h2T.IncomingHttpHeaders, capture: Capture | undefined): void {
  const span = ex.span;
  const status = Number(headers[':status']);
  if (Number.isInteger(status)) ex.status = status;
  if (!span) return;
  const a: Attributes = {};
  if (ex.status !== undefined) a[ATTR_HTTP_RESPONSE_STATUS_CODE] = ex.status;
  peer(a, ex.stream.session?.socket as Socket | undefined);
  span.setAttributes(a);
  const sent = ex.sent;
  const request = captureNames(capture, 'clientRequest', span);
  const response = captureNames(capture, 'clientResponse', span);
  if (request?.length && sent) captureHeaders(span, 'request', request, (n) => sent[n]);
  if (response?.length) captureHeaders(span, 'response', response, (n) => headers[n]);
}

export function endClient(ex: H2Exchange, err: unknown): Outcome | undefined {
  if (ex.done) return undefined;
  ex.done = true;
  const status = ex.status;
  const failure = err !== undefined ? errorType(err) : status !== undefined && status >= 400 ? String(status) : undefined;
  const span = ex.span;
  if (!span) return { status, failure };
  if (failure !== undefined) {
    span.setAttribute(ATTR_ERROR_TYPE, failure);
    if (err !== undefined && err !== null && typeof err === 'object') {
      const e = err as { message?: unknown; stack?: unknown };
      const message = typeof e.message === 'string' ? e.message : String(err);
      span.recordException({ name: failure, code: failure, message, stack: typeof e.stack === 'string' ? e.stack : undefined });
      span.setStatus({ code: SpanStatusCode.ERROR, message });
    } else span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
  return { status, failure };
}
