/**
 * Reading the messaging metrics (src/instrumentations/messaging/metrics.ts)
 * back from the OTLP receiver, for the messaging tests: the environment that
 * turns metrics on with delta points exported several times during a run,
 * and totals summed over those points, so each operation counts exactly once
 * however many exports carried it.
 */
import type { RecvMetricPoint } from './otlp-receiver';

export const METRICS_ON = {
  OTEL_METRICS_EXPORTER: 'otlp',
  OTEL_AGENT_RUNTIME_METRICS: 'false',
  OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
  OTEL_METRIC_EXPORT_INTERVAL: '200',
};

export const DURATIONS = ['messaging.client.operation.duration', 'messaging.process.duration'];
export const COUNTERS = ['messaging.client.sent.messages', 'messaging.client.consumed.messages'];
/** The buckets the messaging conventions recommend for both duration histograms. */
export const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Histogram counts (or counter sums) of `name`, keyed by the values of `keys` joined by a space (`-` when absent). */
export function tally(points: RecvMetricPoint[], name: string, keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points.filter((q) => q.name === name)) {
    const k = keys.map((key) => (key in p.attributes ? String(p.attributes[key]) : '-')).join(' ');
    out[k] = (out[k] ?? 0) + (p.type === 'histogram' ? p.count! : p.value!);
  }
  return out;
}

/** The set of attribute names each point of `name` carries, sorted (what a backend would index). */
export function attributeSets(points: RecvMetricPoint[], name: string): string[] {
  return [...new Set(points.filter((p) => p.name === name).map((p) => Object.keys(p.attributes).sort().join(',')))].sort();
}

/** Units, types and buckets as the conventions define them; every point delta. */
export function shapeOf(points: RecvMetricPoint[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of points.filter((q) => DURATIONS.includes(q.name) || COUNTERS.includes(q.name))) {
    const bounds = p.type === 'histogram' ? ` ${JSON.stringify(p.bounds) === JSON.stringify(BUCKETS) ? 'semconv-buckets' : JSON.stringify(p.bounds)}` : '';
    out[p.name] = `${p.type} ${p.unit} ${p.temporality}${p.type === 'sum' ? ` monotonic=${String(p.monotonic)}` : ''}${bounds}`;
  }
  return out;
}
