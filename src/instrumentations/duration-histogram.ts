/**
 * The seconds histogram every request/operation duration metric of the
 * instrumentations uses (HTTP, HTTP/2, fetch, gRPC, messaging): one place for
 * the unit, the value type and the semantic conventions' HTTP bucket advice,
 * which the RPC and messaging durations reuse so that a service's latencies
 * read on one scale.
 */
import { ValueType, type Histogram, type Meter } from '@opentelemetry/api';

/** http.server.request.duration's advised boundaries, in seconds. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export function durationHistogram(meter: Meter, name: string, description: string, buckets: readonly number[] = DURATION_BUCKETS): Histogram {
  return meter.createHistogram(name, { description, unit: 's', valueType: ValueType.DOUBLE, advice: { explicitBucketBoundaries: [...buckets] } });
}
