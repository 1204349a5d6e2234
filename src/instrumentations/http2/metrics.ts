/**
 * http.server.request.duration and http.client.request.duration for HTTP/2
 * streams (metrics on): the same instruments, unit, buckets and attributes
 * as the http instrumentation's, with `network.protocol.version` `2`, for
 * every stream, sampled or not. gRPC streams are not HTTP requests here
 * (instrumentation.ts never gives them an exchange): they are counted once,
 * in rpc.*.call.duration, by the grpc instrumentation.
 */
import { type Attributes, type Context, type Histogram, type Meter } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import { normalMethod, parseHost } from '../http/header-parts';
import type { H2Exchange, Outcome } from './spans';
import { durationHistogram } from '../duration-histogram';

export class H2Duration {
  private readonly server: Histogram;
  private readonly client: Histogram;

  constructor(meter: Meter) {
    this.server = durationHistogram(meter, 'http.server.request.duration', 'Duration of HTTP server requests.');
    this.client = durationHistogram(meter, 'http.client.request.duration', 'Duration of HTTP client requests.');
  }

  /** `ctx`: the stream's, which holds its SERVER span (sampled or not), for the exemplar. */
  recordServer(ex: H2Exchange, o: Outcome, ctx: Context | undefined): void {
    const a: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: normalMethod(ex.method),
      [ATTR_URL_SCHEME]: ex.scheme ?? 'http',
      [ATTR_NETWORK_PROTOCOL_VERSION]: '2',
    };
    if (o.route !== undefined) a[ATTR_HTTP_ROUTE] = o.route;
    if (o.status !== undefined) a[ATTR_HTTP_RESPONSE_STATUS_CODE] = o.status;
    if (o.failure !== undefined) a[ATTR_ERROR_TYPE] = o.failure;
    this.server.record((performance.now() - ex.t0) / 1000, a, ctx);
  }

  /** `ctx`: the CLIENT span's when it is recorded, else the caller's, for the exemplar. */
  recordClient(ex: H2Exchange, o: Outcome, ctx: Context | undefined): void {
    const a: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: normalMethod(ex.method), [ATTR_NETWORK_PROTOCOL_VERSION]: '2' };
    // `:authority` when the caller set one, else where the session connects (as on the span).
    const authority = ex.sent?.[':authority'];
    const origin = ex.origin;
    if (typeof authority === 'string' && authority !== origin?.authority) {
      const h = parseHost(authority);
      a[ATTR_SERVER_ADDRESS] = h.address;
      const scheme = ex.sent?.[':scheme'] ?? origin?.scheme;
      a[ATTR_SERVER_PORT] = h.port ?? (scheme === 'http' ? 80 : 443);
    } else if (origin) {
      a[ATTR_SERVER_ADDRESS] = origin.address;
      a[ATTR_SERVER_PORT] = origin.port;
    }
    if (o.status !== undefined) a[ATTR_HTTP_RESPONSE_STATUS_CODE] = o.status;
    if (o.failure !== undefined) a[ATTR_ERROR_TYPE] = o.failure;
    this.client.record((performance.now() - ex.t0) / 1000, a, ctx);
  }
}
