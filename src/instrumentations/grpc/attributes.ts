/**
 * The gRPC semantic conventions (RPC spans, stable since semconv 1.39):
 * `rpc.system.name` `grpc`, the fully-qualified `rpc.method`
 * (`package.Service/Method`, also the span name), `rpc.status_code` as the
 * status code's name, and which codes make a span ERROR: every non-OK code on
 * a client, only those that mean the server failed on a server.
 *
 * `rpc.grpc.status_code` (the number) is deprecated in favour of the name but
 * still kept: backends and dashboards built on the older conventions filter by it.
 */
import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  RPC_SYSTEM_NAME_VALUE_GRPC,
} from '@opentelemetry/semantic-conventions';
import { parseHost } from '../http/header-parts';

export const ATTR_RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code';

/** grpc.status names by number (the gRPC spec's fixed table, 0..16). */
export const STATUS_NAMES: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

export const OK = 0;
export const CANCELLED = 1;
export const UNKNOWN = 2;

/** Semconv's gRPC table: on a server only these codes are the server's failure; the rest are the caller's. */
const SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

/** The name and the span's first attributes: what is known before the call goes out (or the handler runs). */
export function callAttributes(path: string): { name: string; attributes: Attributes } {
  // '/package.Service/Method' -> 'package.Service/Method'; anything else is recorded as given.
  const name = path.startsWith('/') ? path.slice(1) : path;
  return { name, attributes: { [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME_VALUE_GRPC, [ATTR_RPC_METHOD]: name } };
}

/** A status code from an error a handler or the library produced (grpc-js' ServiceError, or any object with a numeric `code`). */
export function codeOf(err: unknown): number {
  const c = (err as { code?: unknown } | null | undefined)?.code;
  return typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 16 ? c : UNKNOWN;
}

/** Whether a call that ended with `code` failed, by the table above (the span's ERROR and the metric's error.type). */
export function isFailure(code: number, server: boolean): boolean {
  return server ? SERVER_ERRORS.has(code) : code !== OK;
}

export function endCall(span: Span, code: number, details: unknown, server: boolean, peer: string | undefined): void {
  const name = STATUS_NAMES[code] ?? String(code);
  const a: Attributes = { [ATTR_RPC_STATUS_CODE]: name, [ATTR_RPC_GRPC_STATUS_CODE]: code };
  if (peer) Object.assign(a, peerAttributes(peer));
  const failed = isFailure(code, server);
  if (failed) a[ATTR_ERROR_TYPE] = name;
  span.setAttributes(a);
  // The status details are the server's message; a client sees them in the error it gets anyway.
  if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: typeof details === 'string' ? details.slice(0, 256) : undefined });
  span.end();
}

/** grpc-js' getPeer(): `127.0.0.1:50051`, `[::1]:50051`, `ipv4:…`, `unix:/path`. */
export function peerAttributes(peer: string): Attributes {
  const p = peer.replace(/^ipv[46]:/, '');
  if (p.startsWith('unix:')) return {};
  const h = parseHost(p);
  if (!h.address) return {};
  const a: Attributes = { [ATTR_NETWORK_PEER_ADDRESS]: h.address };
  if (h.port !== undefined) a[ATTR_NETWORK_PEER_PORT] = h.port;
  return a;
}

/** server.address/port from a channel target: `dns:localhost:50051`, `dns:///host:443`, `ipv4:10.0.0.1:50051`, `localhost:50051`. */
export function targetAddress(target: string): { address: string; port?: number } | undefined {
  let t = target;
  const scheme = /^(dns|ipv4|ipv6|unix|unix-abstract|vsock):/i.exec(t);
  if (scheme) {
    if (scheme[1]!.toLowerCase().startsWith('unix')) return { address: t.slice(scheme[0].length) };
    t = t.slice(scheme[0].length);
  }
  // dns://resolver/host:port -> host:port
  if (t.startsWith('//')) t = t.slice(t.indexOf('/', 2) + 1);
  t = t.split(',')[0]!;
  const h = parseHost(t);
  if (!h.address) return undefined;
  return { address: h.address, port: h.port ?? 443 };
}
