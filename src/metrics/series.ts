/**
 * One instrument's time series for one reader: the aggregation (sum, last
 * value, explicit-bucket histogram), the exemplars, and the cardinality limit.
 *
 * Why the agent's own and not @opentelemetry/sdk-metrics: that SDK collects only
 * asynchronously (so nothing recorded just before process.exit() or a SIGTERM
 * could be delivered from the synchronous 'exit' event), has no exemplars, and
 * costs ~40 ms of startup. Everything here is plain synchronous bookkeeping:
 * collect() can run inside 'exit'.
 */
import type { Attributes } from '@opentelemetry/api';

export type Kind = 'counter' | 'updowncounter' | 'histogram' | 'gauge' | 'obs-counter' | 'obs-updowncounter' | 'obs-gauge';
export type Temporality = 'delta' | 'cumulative';

export interface Exemplar {
  value: number;
  timeMs: number;
  traceId?: string;
  spanId?: string;
}

/** One exported data point (the encoders read these; field names follow OTLP). */
export interface Point {
  attributes: Attributes;
  startMs: number;
  timeMs: number;
  /** sum and gauge points. */
  value: number;
  /** histogram points. */
  count: number;
  sum: number;
  min: number;
  max: number;
  bucketCounts?: number[];
  exemplars: Exemplar[];
}

/** The attributes every series over the limit is folded into (the specification's overflow series). */
export const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });

interface Series {
  attributes: Attributes;
  startMs: number;
  /** Recorded (or observed) since the last collection. */
  touched: boolean;
  value: number;
  /** Observable counters under delta: the cumulative value last exported. */
  prev: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  buckets?: Float64Array;
  exemplars?: (Exemplar | undefined)[];
  /** Measurements offered to a one-slot reservoir since the last collection. */
  offered: number;
}

/**
 * A key for an attribute set: `sorted`, the same whatever order its keys were written in;
 * unsorted (the order the caller wrote them), cheaper, for the per-measurement lookup.
 */
export function attributesKey(a: Attributes | undefined, sorted = true): string {
  if (!a) return '';
  const keys = Object.keys(a);
  if (keys.length === 0) return '';
  if (sorted && keys.length > 1) keys.sort();
  let k = '';
  for (const name of keys) {
    const v = a[name];
    if (v === undefined || v === null) continue;
    k += name + '\u0001' + (typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : typeof v + ':' + String(v)) + '\u0002';
  }
  return k;
}

/** A copy without undefined/null values (what the API allows to be passed and the encoders must not see). */
function cleanAttributes(a: Attributes | undefined): Attributes {
  const out: Attributes = {};
  if (a) for (const k of Object.keys(a).sort()) if (a[k] !== undefined && a[k] !== null) out[k] = a[k];
  return out;
}

/** Index of the bucket a value falls in: bucket i holds (bounds[i-1], bounds[i]], the last one (bounds[n-1], +Inf). */
function bucketOf(bounds: readonly number[], v: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class SeriesStore {
  /** By the sorted key: one entry per attribute set (what the limit counts). */
  private readonly series = new Map<string, Series>();
  /** By the key in the caller's order, to the same series. */
  private readonly index = new Map<string, Series>();
  private overflow: Series | undefined;
  private lastCollectMs: number;

  constructor(
    readonly kind: Kind,
    readonly temporality: Temporality,
    private readonly limit: number,
    private readonly bounds: readonly number[] | undefined,
    createdMs: number,
    /** Said once per instrument: the first attribute set that did not get a series of its own. */
    private readonly onOverflow: () => void = () => undefined,
  ) {
    this.lastCollectMs = createdMs;
  }

  private get(attrs: Attributes | undefined, nowMs: number): Series {
    // A call site writes its attributes in one order: that order's key finds the series without
    // sorting (sorting the keys of every measurement cost more than the rest of recording).
    const fast = attributesKey(attrs, false);
    let s = this.index.get(fast);
    if (s) return s;
    const key = attributesKey(attrs, true);
    s = this.series.get(key);
    if (!s) {
      // The limit counts the overflow series itself, as the specification's does.
      if (this.series.size >= this.limit - 1) {
        if (!this.overflow) {
          this.overflow = this.fresh(OVERFLOW_ATTRIBUTES, nowMs);
          this.onOverflow();
        }
        return this.overflow; // not indexed: what overflows is unbounded
      }
      s = this.fresh(cleanAttributes(attrs), nowMs);
      this.series.set(key, s);
    }
    // Bounded too: a caller writing one set in many orders falls back to the sorted lookup.
    if (this.index.size < this.limit * 4) this.index.set(fast, s);
    return s;
  }

  private fresh(attributes: Attributes, nowMs: number): Series {
    const s: Series = {
      attributes,
      startMs: this.temporality === 'delta' ? this.lastCollectMs : nowMs,
      touched: false,
      value: 0,
      prev: 0,
      count: 0,
      sum: 0,
      min: Infinity,
      max: -Infinity,
      offered: 0,
    };
    if (this.kind === 'histogram') s.buckets = new Float64Array((this.bounds?.length ?? 0) + 1);
    return s;
  }

  /** A synchronous measurement, or an observation (which replaces the value). */
  record(v: number, attrs: Attributes | undefined, nowMs: number, exemplar: Exemplar | undefined): void {
    const s = this.get(attrs, nowMs);
    s.touched = true;
    switch (this.kind) {
      case 'counter':
      case 'updowncounter':
        s.value += v;
        break;
      case 'histogram': {
        s.count++;
        s.sum += v;
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
        const b = bucketOf(this.bounds ?? [], v);
        s.buckets![b]!++;
        // One exemplar per bucket, the latest (the specification's aligned-histogram reservoir).
        if (exemplar) (s.exemplars ??= [])[b] = exemplar;
        return;
      }
      default:
        // gauges and every observable instrument: the last value
        s.value = v;
    }
    if (exemplar) {
      // One slot, each measurement kept with probability 1/n (the simple fixed-size reservoir).
      s.offered++;
      if (s.offered === 1 || Math.random() * s.offered < 1) s.exemplars = [exemplar];
    }
  }

  /** Series recorded since the last collection (what makes an exit-time export worth it). */
  hasNew(): boolean {
    if (this.overflow?.touched) return true;
    for (const s of this.series.values()) if (s.touched) return true;
    return false;
  }

  /** The points to export now; resets what delta temporality and the reservoirs require. */
  collect(nowMs: number): Point[] {
    const out: Point[] = [];
    const observable = this.kind.startsWith('obs-');
    const delta = this.temporality === 'delta';
    const each = (s: Series): void => {
      // Delta and observable points exist only for series seen in this interval.
      if ((delta || observable) && !s.touched) return;
      const p: Point = {
        attributes: s.attributes,
        startMs: s.startMs,
        timeMs: nowMs,
        value: s.value,
        count: s.count,
        sum: s.sum,
        min: s.min,
        max: s.max,
        exemplars: s.exemplars ? (s.exemplars.filter(Boolean) as Exemplar[]) : [],
      };
      if (s.buckets) p.bucketCounts = Array.from(s.buckets);
      if (observable && delta) {
        p.value = s.value - s.prev;
        s.prev = s.value;
      }
      out.push(p);
      s.touched = false;
      s.exemplars = undefined;
      s.offered = 0;
      // (delta synchronous series are dropped below; observable ones keep `prev` for the difference)
      if (delta) s.startMs = nowMs;
    };
    for (const s of this.series.values()) each(s);
    if (this.overflow) each(this.overflow);
    // Delta: every interval starts empty, so the limit is per interval (the specification's rule)
    // and a series that stopped getting measurements is not kept.
    if (delta && !observable) {
      this.series.clear();
      this.index.clear();
      this.overflow = undefined;
    }
    this.lastCollectMs = nowMs;
    return out;
  }
}
