/**
 * http.client.request.duration for fetch / undici calls: the one place this
 * instrumentation touches metrics (the same instrument, unit, buckets and
 * attributes upstream instrumentation-undici recorded).
 */
import { ROOT_CONTEXT, trace, type Attributes, type Histogram, type Meter, type Span } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import { durationHistogram } from '../duration-histogram';

export interface Measured {
  t0: number;
  method: string;
  scheme: string;
  address: string;
  port: number | undefined;
  status?: number;
  protocol?: string;
}

export class ClientDuration {
  private readonly hist: Histogram;

  constructor(meter: Meter) {
    this.hist = durationHistogram(meter, 'http.client.request.duration', 'Duration of HTTP client requests.');
  }

  /** `span`: the call's recorded span, whose ids the exemplar carries; undici's channel handlers run in no useful context otherwise. */
  record(m: Measured, errorType: string | undefined, span: Span | undefined): void {
    const a: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: m.method, [ATTR_URL_SCHEME]: m.scheme, [ATTR_SERVER_ADDRESS]: m.address };
    if (m.port !== undefined) a[ATTR_SERVER_PORT] = m.port;
    if (m.status !== undefined) a[ATTR_HTTP_RESPONSE_STATUS_CODE] = m.status;
    if (m.protocol !== undefined) a[ATTR_NETWORK_PROTOCOL_VERSION] = m.protocol;
    if (errorType !== undefined) a[ATTR_ERROR_TYPE] = errorType;
    this.hist.record((performance.now() - m.t0) / 1000, a, span ? trace.setSpan(ROOT_CONTEXT, span) : ROOT_CONTEXT);
  }
}
