/**
 * OTLP metrics, decoded by the receiver (otlp-receiver.ts) with the official
 * protos and normalised like its spans: one record per data point, with the
 * metric's name, unit and type, so a test asserts on what a backend would
 * store. Protobuf and OTLP/JSON share this one code path.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any;

export interface RecvMetricPoint {
  name: string;
  unit: string;
  type: 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';
  /** sum: monotonic counter or up-down counter. */
  monotonic?: boolean;
  /** sum and histogram points: what the exporter chose (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE). */
  temporality?: 'delta' | 'cumulative';
  attributes: Record<string, unknown>;
  /** gauge and sum points. */
  value?: number;
  /** histogram points. */
  count?: number;
  sum?: number;
  bounds?: number[];
  bucketCounts?: number[];
  exemplars: { traceId: string; spanId: string; value: number }[];
  timeNs: bigint;
  resource: Record<string, unknown>;
  scope: string;
}

export interface Decoders {
  attrs(list: Raw): Record<string, unknown>;
  toBig(v: unknown): bigint;
  idHex(v: unknown): string;
}

const num = (v: unknown, d: Decoders): number => (v == null ? 0 : typeof v === 'number' ? v : Number(d.toBig(v)));

function pointValue(p: Raw, d: Decoders): number {
  if (p.asDouble != null) return Number(p.asDouble);
  if (p.asInt != null) return Number(d.toBig(p.asInt));
  return 0;
}

function exemplars(p: Raw, d: Decoders): RecvMetricPoint['exemplars'] {
  return ((p.exemplars ?? []) as Raw[]).map((e) => ({ traceId: d.idHex(e.traceId), spanId: d.idHex(e.spanId), value: pointValue(e, d) }));
}

export function toMetricPoints(req: Raw, d: Decoders): RecvMetricPoint[] {
  const out: RecvMetricPoint[] = [];
  for (const rm of (req?.resourceMetrics ?? []) as Raw[]) {
    const resource = d.attrs(rm.resource?.attributes);
    for (const sm of (rm.scopeMetrics ?? []) as Raw[]) {
      const scope = String(sm.scope?.name ?? '');
      for (const m of (sm.metrics ?? []) as Raw[]) {
        const base = { name: String(m.name ?? ''), unit: String(m.unit ?? ''), resource, scope };
        const type = (['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const).find((t) => m[t] != null);
        if (!type) continue;
        for (const p of (m[type].dataPoints ?? []) as Raw[]) {
          const point: RecvMetricPoint = { ...base, type, attributes: d.attrs(p.attributes), exemplars: exemplars(p, d), timeNs: d.toBig(p.timeUnixNano) };
          if (type === 'sum') point.monotonic = Boolean(m.sum.isMonotonic);
          const t = m[type].aggregationTemporality;
          // 1 and 2 are the proto enum; OTLP/JSON may also spell them out.
          if (t === 1 || t === 'AGGREGATION_TEMPORALITY_DELTA') point.temporality = 'delta';
          else if (t === 2 || t === 'AGGREGATION_TEMPORALITY_CUMULATIVE') point.temporality = 'cumulative';
          if (type === 'gauge' || type === 'sum') point.value = pointValue(p, d);
          else {
            point.count = num(p.count, d);
            if (p.sum != null) point.sum = Number(p.sum);
            if (type === 'histogram') {
              point.bounds = ((p.explicitBounds ?? []) as unknown[]).map(Number);
              point.bucketCounts = ((p.bucketCounts ?? []) as unknown[]).map((c) => num(c, d));
            }
          }
          out.push(point);
        }
      }
    }
  }
  return out;
}
