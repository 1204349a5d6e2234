/**
 * Every header a configured propagator can read, for the HTTP server's cheap
 * "is there anything to extract" check. `fields()` is not that list: it names
 * what a propagator writes, so B3 single lists only `b3` though it also reads
 * `X-B3-*`, B3 multi the reverse, and Jaeger's `uberctx-*` baggage has no
 * fixed name at all (it is matched by prefix).
 */
import type { PropagatorName } from '../env';

const B3 = ['b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags'];

const READS: Record<PropagatorName, { names: readonly string[]; prefix?: string }> = {
  // tracestate alone carries nothing (W3C: ignored without a traceparent).
  tracecontext: { names: ['traceparent'] },
  baggage: { names: ['baggage'] },
  b3: { names: B3 },
  b3multi: { names: B3 },
  jaeger: { names: ['uber-trace-id'], prefix: 'uberctx-' },
};

export interface ReadableHeaders {
  /** Lower-case names. */
  names: string[];
  /** Lower-case prefixes (a name that starts with one is readable). */
  prefixes: string[];
}

export function readableHeaders(propagators: readonly PropagatorName[]): ReadableHeaders {
  const names = new Set<string>();
  const prefixes = new Set<string>();
  for (const p of propagators) {
    const r = READS[p];
    if (!r) continue;
    for (const n of r.names) names.add(n);
    if (r.prefix) prefixes.add(r.prefix);
  }
  return { names: [...names], prefixes: [...prefixes] };
}
