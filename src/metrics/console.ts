/**
 * OTEL_METRICS_EXPORTER=console: each metric printed with console.dir (one
 * object per metric, its points under `dataPoints`), as the upstream console
 * exporter does, so the output reads the same. Synchronous, so it also works
 * from the exit flush.
 */
import type { MetricsBatch } from './otlp-encode';

const iso = (ms: number): string => new Date(ms).toISOString();

export function printMetrics(batch: MetricsBatch): void {
  for (const { scope, metrics } of batch.scopes) {
    for (const m of metrics) {
      const dataPoints = m.points.map((p) => {
        const base: Record<string, unknown> = { attributes: p.attributes, startTime: iso(p.startMs), endTime: iso(p.timeMs) };
        if (m.kind === 'histogram') {
          base.value = { count: p.count, sum: p.sum, min: p.min, max: p.max, buckets: { boundaries: m.bounds, counts: p.bucketCounts } };
        } else base.value = p.value;
        if (p.exemplars.length) base.exemplars = p.exemplars;
        return base;
      });
      console.dir(
        { scope: scope.name, name: m.name, description: m.description, unit: m.unit, type: m.kind, temporality: m.temporality, dataPoints },
        { depth: null },
      );
    }
  }
}
