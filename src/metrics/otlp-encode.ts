/**
 * ExportMetricsServiceRequest (opentelemetry/proto/collector/metrics/v1), as
 * protobuf and as OTLP/JSON, from the agent's own collected points (sdk.ts).
 * The agent's own because the upstream serializer writes no exemplars and
 * needs @opentelemetry/sdk-metrics loaded. Field numbers are the proto's; the
 * resource, scope and attribute encoding is the span encoder's (otlp-proto.ts).
 */
import type { Attributes } from '@opentelemetry/api';
import { LEN, Writer, attributes, resourceField, scopeField, tag } from '../exporters/otlp-proto';
import type { MetricData, ScopeData } from './sdk';
import type { Exemplar, Point } from './series';

export interface ResourceLike {
  attributes: Attributes;
  schemaUrl?: string;
}

export interface MetricsBatch {
  resource: ResourceLike;
  scopes: ScopeData[];
}

const FIXED64 = 1;
const DELTA = 1;
const CUMULATIVE = 2;

const hr = (ms: number): [number, number] => {
  const s = Math.floor(ms / 1000);
  return [s, Math.min(999_999_999, Math.max(0, Math.round((ms - s * 1000) * 1e6)))];
};

function time(w: Writer, field: number, ms: number): void {
  w.byte(tag(field, FIXED64));
  w.hrtime(hr(ms));
}

function int64Fixed(w: Writer, v: number): void {
  w.ensure(8);
  w.buf.writeBigInt64LE(BigInt(Math.trunc(v)), w.pos);
  w.pos += 8;
}

type Shape = 'gauge' | 'sum' | 'histogram';
const shapeOf = (m: MetricData): Shape => (m.kind === 'histogram' ? 'histogram' : m.kind === 'gauge' || m.kind === 'obs-gauge' ? 'gauge' : 'sum');
const monotonic = (m: MetricData): boolean => m.kind === 'counter' || m.kind === 'obs-counter';

function exemplar(w: Writer, field: number, e: Exemplar, integer: boolean): void {
  w.byte(tag(field, LEN));
  const m = w.begin(1);
  time(w, 2, e.timeMs);
  if (integer && Number.isInteger(e.value)) {
    w.byte(tag(6, FIXED64));
    int64Fixed(w, e.value);
  } else {
    w.byte(tag(3, FIXED64));
    w.double(e.value);
  }
  if (e.spanId) {
    w.byte(tag(4, LEN));
    w.hexBytes(e.spanId);
  }
  if (e.traceId) {
    w.byte(tag(5, LEN));
    w.hexBytes(e.traceId);
  }
  w.end(m);
}

function numberPoint(w: Writer, p: Point, integer: boolean, withStart: boolean): void {
  w.byte(tag(1, LEN));
  const m = w.begin(2);
  if (withStart) time(w, 2, p.startMs);
  time(w, 3, p.timeMs);
  if (integer && Number.isInteger(p.value)) {
    w.byte(tag(6, FIXED64));
    int64Fixed(w, p.value);
  } else {
    w.byte(tag(4, FIXED64));
    w.double(p.value);
  }
  for (const e of p.exemplars) exemplar(w, 5, e, integer);
  attributes(w, p.attributes, 7);
  w.end(m);
}

function histogramPoint(w: Writer, p: Point, bounds: readonly number[]): void {
  w.byte(tag(1, LEN));
  const m = w.begin(2);
  time(w, 2, p.startMs);
  time(w, 3, p.timeMs);
  w.byte(tag(4, FIXED64));
  int64Fixed(w, p.count);
  w.byte(tag(5, FIXED64));
  w.double(p.sum);
  const counts = p.bucketCounts ?? [];
  w.byte(tag(6, LEN));
  w.uvarint(counts.length * 8);
  for (const c of counts) int64Fixed(w, c);
  if (bounds.length) {
    w.byte(tag(7, LEN));
    w.uvarint(bounds.length * 8);
    for (const b of bounds) w.double(b);
  }
  for (const e of p.exemplars) exemplar(w, 8, e, false);
  attributes(w, p.attributes, 9);
  if (p.count > 0) {
    w.byte(tag(11, FIXED64));
    w.double(p.min);
    w.byte(tag(12, FIXED64));
    w.double(p.max);
  }
  w.end(m);
}

function metric(w: Writer, md: MetricData): void {
  w.byte(tag(2, LEN)); // ScopeMetrics.metrics
  const m = w.begin(2);
  w.byte(tag(1, LEN));
  w.string(md.name);
  if (md.description) {
    w.byte(tag(2, LEN));
    w.string(md.description);
  }
  if (md.unit) {
    w.byte(tag(3, LEN));
    w.string(md.unit);
  }
  const shape = shapeOf(md);
  w.byte(tag(shape === 'gauge' ? 5 : shape === 'sum' ? 7 : 9, LEN));
  const body = w.begin(3);
  for (const p of md.points) {
    if (shape === 'histogram') histogramPoint(w, p, md.bounds ?? []);
    else numberPoint(w, p, md.integer, shape === 'sum');
  }
  if (shape !== 'gauge') {
    w.byte(tag(2, 0));
    w.uvarint(md.temporality === 'delta' ? DELTA : CUMULATIVE);
  }
  if (shape === 'sum') {
    w.byte(tag(3, 0));
    w.byte(monotonic(md) ? 1 : 0);
  }
  w.end(body);
  w.end(m);
}

export function encodeMetricsProto(batch: MetricsBatch): Uint8Array {
  const w = new Writer(16 << 10);
  w.byte(tag(1, LEN)); // ExportMetricsServiceRequest.resource_metrics
  const rm = w.begin(3);
  w.raw(resourceField(batch.resource));
  for (const { scope, metrics } of batch.scopes) {
    w.byte(tag(2, LEN)); // ResourceMetrics.scope_metrics
    const sm = w.begin(3);
    w.raw(scopeField(scope));
    for (const md of metrics) metric(w, md);
    if (scope.schemaUrl) {
      w.byte(tag(3, LEN));
      w.string(scope.schemaUrl);
    }
    w.end(sm);
  }
  if (batch.resource.schemaUrl) {
    w.byte(tag(3, LEN));
    w.string(batch.resource.schemaUrl);
  }
  w.end(rm);
  return Uint8Array.prototype.slice.call(w.buf, 0, w.pos);
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON: the protobuf JSON mapping with the OTLP rules (hex ids, int64 as strings, enums as numbers).
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function anyValueJson(v: unknown): Json {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValueJson) } };
  if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString('base64') };
  if (v && typeof v === 'object') return { kvlistValue: { values: attributesJson(v as Attributes) } };
  return {};
}

function attributesJson(a: Attributes | undefined): Json[] {
  return a ? Object.keys(a).map((key) => ({ key, value: anyValueJson(a[key]) })) : [];
}

const nanos = (ms: number): string => {
  const [s, n] = hr(ms);
  return (BigInt(s) * 1_000_000_000n + BigInt(n)).toString();
};

function exemplarJson(e: Exemplar, integer: boolean): Json {
  const out: Json = { timeUnixNano: nanos(e.timeMs) };
  if (integer && Number.isInteger(e.value)) out.asInt = String(e.value);
  else out.asDouble = e.value;
  if (e.spanId) out.spanId = e.spanId;
  if (e.traceId) out.traceId = e.traceId;
  return out;
}

function metricJson(md: MetricData): Json {
  const shape = shapeOf(md);
  const dataPoints = md.points.map((p) => {
    const base: Json = { attributes: attributesJson(p.attributes), timeUnixNano: nanos(p.timeMs) };
    if (shape !== 'gauge') base.startTimeUnixNano = nanos(p.startMs);
    if (shape === 'histogram') {
      Object.assign(base, {
        count: String(p.count),
        sum: p.sum,
        bucketCounts: (p.bucketCounts ?? []).map(String),
        explicitBounds: [...(md.bounds ?? [])],
        exemplars: p.exemplars.map((e) => exemplarJson(e, false)),
      });
      if (p.count > 0) Object.assign(base, { min: p.min, max: p.max });
    } else {
      if (md.integer && Number.isInteger(p.value)) base.asInt = String(p.value);
      else base.asDouble = p.value;
      base.exemplars = p.exemplars.map((e) => exemplarJson(e, md.integer));
    }
    return base;
  });
  const body: Json = { dataPoints };
  if (shape !== 'gauge') body.aggregationTemporality = md.temporality === 'delta' ? DELTA : CUMULATIVE;
  if (shape === 'sum') body.isMonotonic = monotonic(md);
  return { name: md.name, description: md.description, unit: md.unit, [shape]: body };
}

export function encodeMetricsJson(batch: MetricsBatch): Uint8Array {
  const req = {
    resourceMetrics: [
      {
        resource: { attributes: attributesJson(batch.resource.attributes) },
        schemaUrl: batch.resource.schemaUrl,
        scopeMetrics: batch.scopes.map(({ scope, metrics }) => ({
          scope: { name: scope.name, version: scope.version },
          schemaUrl: scope.schemaUrl,
          metrics: metrics.map(metricJson),
        })),
      },
    ],
  };
  return Buffer.from(JSON.stringify(req), 'utf8');
}
