/**
 * `rpc.server.call.duration` and `rpc.client.call.duration` (the stable RPC
 * metrics of semconv 1.39+, gRPC refinement): every call, sampled or not,
 * when a metrics exporter is set. What a call costs for them is one clock
 * read when it starts and one histogram record when its status is known;
 * this file is the only place the grpc instrumentation talks to the metrics API.
 *
 * Attributes (gRPC metric refinement of the conventions):
 * - both: `rpc.system.name` `grpc`, `rpc.method`, `rpc.status_code` (the
 *   code's name), `error.type` (that name) when the call failed by the table
 *   of attributes.ts, and `rpc.grpc.status_code` (the number, deprecated but
 *   kept as on the spans: it adds no series, it is one-to-one with the name);
 * - client only: `server.address` / `server.port` from the channel target
 *   (never the connected peer, to keep the series few). The server's
 *   `server.address` / `server.port` are opt-in in the conventions: not recorded.
 *
 * The attribute objects are built once per (side, target, method, code) and
 * reused: an unsampled call builds nothing.
 */
import { type Attributes, type Context, type Histogram, type Meter } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  RPC_SYSTEM_NAME_VALUE_GRPC,
} from '@opentelemetry/semantic-conventions';
import { ATTR_RPC_GRPC_STATUS_CODE, isFailure, STATUS_NAMES, targetAddress } from './attributes';
import { durationHistogram } from '../duration-histogram';

// The conventions give no bucket advice for the RPC durations: durationHistogram's HTTP buckets,
// so RPC and HTTP latencies of one service read on one scale.
/** Past this many attribute sets (methods called through makeUnaryRequest with made-up paths), they are built per call. */
const MAX_CACHED = 2000;

export class RpcDuration {
  private readonly server: Histogram;
  private readonly client: Histogram;
  private readonly cache = new Map<string, Attributes>();

  constructor(meter: Meter) {
    this.server = durationHistogram(meter, 'rpc.server.call.duration', 'Measures the duration of an incoming gRPC call.');
    this.client = durationHistogram(meter, 'rpc.client.call.duration', 'Measures the duration of an outgoing gRPC call.');
  }

  /** The clock reading to hand back to recordServer() / recordClient(). */
  static start(): number {
    return performance.now();
  }

  /** `ctx` holds the call's SERVER span (sampled or not): the exemplar's trace and span id. */
  recordServer(t0: number, method: string, code: number, ctx: Context): void {
    this.server.record((performance.now() - t0) / 1000, this.attributes(true, undefined, method, code), ctx);
  }

  /** `target`: the channel's (grpc-js getTarget()); `ctx` holds the CLIENT span when it is recorded, else the caller's. */
  recordClient(t0: number, target: string | undefined, method: string, code: number, ctx: Context): void {
    this.client.record((performance.now() - t0) / 1000, this.attributes(false, target, method, code), ctx);
  }

  private attributes(server: boolean, target: string | undefined, method: string, code: number): Attributes {
    const key = `${server ? 's' : 'c'} ${code} ${method} ${target ?? ''}`;
    const known = this.cache.get(key);
    if (known !== undefined) return known;
    const name = STATUS_NAMES[code] ?? String(code);
    const a: Attributes = {
      [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME_VALUE_GRPC,
      [ATTR_RPC_METHOD]: method,
      [ATTR_RPC_STATUS_CODE]: name,
      [ATTR_RPC_GRPC_STATUS_CODE]: code,
    };
    if (isFailure(code, server)) a[ATTR_ERROR_TYPE] = name;
    if (!server && target !== undefined) {
      const t = targetAddress(target);
      if (t) {
        a[ATTR_SERVER_ADDRESS] = t.address;
        if (t.port !== undefined) a[ATTR_SERVER_PORT] = t.port;
      }
    }
    if (this.cache.size < MAX_CACHED) this.cache.set(key, a);
    return a;
  }
}
