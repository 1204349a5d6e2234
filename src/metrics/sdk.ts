/**
 * The agent's meter provider: the @opentelemetry/api Meter surface over
 * SeriesStore (series.ts), one store per instrument and reader. Collection is
 * synchronous (see series.ts for why), so the exit-time flush can take every
 * point recorded up to process.exit() or a SIGTERM.
 *
 * Recording API for instrumentations (small on purpose, it is the standard one):
 *   const h = meter.createHistogram('db.client.operation.duration', { unit: 's', advice: { explicitBucketBoundaries } });
 *   h.record(seconds, attributes, trace.setSpan(ROOT_CONTEXT, span));
 * The context (third argument, else the active one) names the span an exemplar points at.
 */
import {
  TraceFlags,
  trace,
  context as apiContext,
  type Attributes,
  type BatchObservableCallback,
  type BatchObservableResult,
  type Context,
  type Meter,
  type MeterOptions,
  type MeterProvider,
  type MetricOptions,
  type Observable,
  type ObservableCallback,
  type ObservableResult,
} from '@opentelemetry/api';
import { SeriesStore, type Exemplar, type Kind, type Point, type Temporality } from './series';

export type ExemplarFilter = 'trace_based' | 'always_on' | 'always_off';

/** The semantic conventions' default buckets for a histogram without advice (the SDK specification's). */
const DEFAULT_BOUNDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
/** The specification's instrument name syntax. */
const NAME = /^[A-Za-z][A-Za-z0-9_./-]{0,254}$/;

export interface Scope {
  name: string;
  version?: string;
  schemaUrl?: string;
}

export interface MetricData {
  name: string;
  description: string;
  unit: string;
  kind: Kind;
  /** Values are integers (ValueType.INT): sums and gauges are written as int64. */
  integer: boolean;
  temporality: Temporality;
  bounds?: readonly number[];
  points: Point[];
}

export interface ScopeData {
  scope: Scope;
  metrics: MetricData[];
}

export interface ReaderSpec {
  temporality(kind: Kind): Temporality;
}

const now = (): number => performance.timeOrigin + performance.now();

class Instrument {
  readonly stores: SeriesStore[];
  /** Observable instruments: the reader whose collection is running, else -1 (observations outside a collection are dropped). */
  collecting = -1;
  constructor(
    readonly meter: AgentMeter,
    readonly name: string,
    readonly kind: Kind,
    readonly opts: MetricOptions,
    readonly bounds: readonly number[] | undefined,
  ) {
    const p = meter.provider;
    const t = now();
    const overflow = (): void =>
      p.warn(
        `metric "${name}" has more than ${p.limit - 1} attribute sets (OTEL_AGENT_METRICS_CARDINALITY_LIMIT); further ones are counted in its series with otel.metric.overflow=true`,
      );
    this.stores = p.readers.map(
      (r) => new SeriesStore(kind, kind === 'gauge' || kind === 'obs-gauge' ? 'cumulative' : r.temporality(kind), p.limit, bounds, t, overflow),
    );
  }

  measure(v: number, attrs: Attributes | undefined, ctx: Context | undefined): void {
    if (typeof v !== 'number' || Number.isNaN(v)) return;
    if ((this.kind === 'counter' || this.kind === 'histogram') && v < 0) return;
    const t = now();
    const ex = this.meter.provider.exemplar(v, t, ctx);
    for (const s of this.stores) s.record(v, attrs, t, ex);
    if (!this.meter.quiet) this.meter.provider.records++;
  }

  observe(v: number, attrs: Attributes | undefined): void {
    if (this.collecting < 0 || typeof v !== 'number' || Number.isNaN(v)) return;
    this.stores[this.collecting]!.record(v, attrs, now(), undefined);
  }
}

class Observed implements Observable {
  readonly callbacks: ObservableCallback[] = [];
  constructor(readonly inst: Instrument) {}
  addCallback(cb: ObservableCallback): void {
    if (!this.callbacks.includes(cb)) this.callbacks.push(cb);
  }
  removeCallback(cb: ObservableCallback): void {
    const i = this.callbacks.indexOf(cb);
    if (i >= 0) this.callbacks.splice(i, 1);
  }
}

const NOOP = { add() {}, record() {} };
const NOOP_OBSERVABLE: Observable = { addCallback() {}, removeCallback() {} };

class AgentMeter implements Meter {
  readonly instruments: Instrument[] = [];
  readonly observables: Observed[] = [];
  readonly batches: { cb: BatchObservableCallback; observables: Observable[] }[] = [];
  private readonly byName = new Map<string, Instrument | Observed>();

  constructor(
    readonly provider: AgentMeterProvider,
    readonly scope: Scope,
    /** Its recordings do not make an exit-time export necessary (the runtime metrics' GC histogram fires constantly). */
    readonly quiet: boolean,
  ) {}

  private make(name: string, kind: Kind, opts: MetricOptions = {}): Instrument | undefined {
    if (!NAME.test(name)) {
      this.provider.warn(`metric instrument name "${String(name).slice(0, 80)}" is not valid (OpenTelemetry instrument name syntax); it records nothing`);
      return undefined;
    }
    const key = name.toLowerCase();
    const had = this.byName.get(key);
    const old = had instanceof Observed ? had.inst : had;
    // The same instrument asked for twice (e.g. two copies of an instrumentation): one stream, as the specification requires.
    if (old && old.kind === kind) return old;
    if (old) {
      this.provider.warn(`metric instrument "${name}" was created twice with different kinds; the second one records nothing`);
      return undefined;
    }
    const advice = opts.advice?.explicitBucketBoundaries;
    const bounds = kind === 'histogram' ? (advice && advice.every((b, i) => i === 0 || b > advice[i - 1]!) ? [...advice] : DEFAULT_BOUNDS) : undefined;
    const inst = new Instrument(this, name, kind, opts, bounds);
    this.instruments.push(inst);
    this.byName.set(key, inst);
    return inst;
  }

  private sync(name: string, kind: Kind, opts?: MetricOptions) {
    const i = this.make(name, kind, opts);
    if (!i) return NOOP;
    const f = (v: number, a?: Attributes, c?: Context): void => i.measure(v, a, c);
    return { add: f, record: f };
  }

  private async(name: string, kind: Kind, opts?: MetricOptions): Observable {
    const i = this.make(name, kind, opts);
    if (!i) return NOOP_OBSERVABLE;
    const existing = this.observables.find((o) => o.inst === i);
    if (existing) return existing;
    const o = new Observed(i);
    this.observables.push(o);
    this.byName.set(name.toLowerCase(), o);
    return o;
  }

  createCounter = (name: string, opts?: MetricOptions) => this.sync(name, 'counter', opts);
  createUpDownCounter = (name: string, opts?: MetricOptions) => this.sync(name, 'updowncounter', opts);
  createHistogram = (name: string, opts?: MetricOptions) => this.sync(name, 'histogram', opts);
  createGauge = (name: string, opts?: MetricOptions) => this.sync(name, 'gauge', opts);
  createObservableCounter = (name: string, opts?: MetricOptions) => this.async(name, 'obs-counter', opts);
  createObservableUpDownCounter = (name: string, opts?: MetricOptions) => this.async(name, 'obs-updowncounter', opts);
  createObservableGauge = (name: string, opts?: MetricOptions) => this.async(name, 'obs-gauge', opts);

  addBatchObservableCallback(cb: BatchObservableCallback, observables: Observable[]): void {
    this.batches.push({ cb, observables });
  }
  removeBatchObservableCallback(cb: BatchObservableCallback, observables: Observable[]): void {
    const i = this.batches.findIndex((b) => b.cb === cb && b.observables.length === observables.length && b.observables.every((o, j) => o === observables[j]));
    if (i >= 0) this.batches.splice(i, 1);
  }

  /** Runs the callbacks for reader `r`; returns what asynchronous callbacks still do (awaited only by asynchronous collections). */
  observe(r: number): Promise<unknown>[] {
    const pending: Promise<unknown>[] = [];
    const run = (f: () => unknown): void => {
      try {
        const p = f();
        if (p && typeof (p as Promise<unknown>).then === 'function') pending.push((p as Promise<unknown>).catch(() => undefined));
      } catch (e) {
        this.provider.warn(`a metric callback threw (${e instanceof Error ? e.message : String(e)}); its points are left out`);
      }
    };
    for (const o of this.observables) {
      o.inst.collecting = r;
      const result: ObservableResult = { observe: (v, a) => o.inst.observe(v, a) };
      for (const cb of o.callbacks) run(() => cb(result));
    }
    for (const b of this.batches) {
      const result: BatchObservableResult = { observe: (obs, v, a) => (obs instanceof Observed ? obs.inst.observe(v, a) : undefined) };
      run(() => b.cb(result));
    }
    return pending;
  }

  endObserve(): void {
    for (const o of this.observables) o.inst.collecting = -1;
  }
}

export class AgentMeterProvider implements MeterProvider {
  private readonly meters = new Map<string, AgentMeter>();
  /** Measurements of non-quiet instruments so far, and that count at each reader's last collection. */
  records = 0;
  private readonly seen: number[];

  constructor(
    readonly readers: readonly ReaderSpec[],
    readonly limit: number,
    private readonly filter: ExemplarFilter,
    readonly warn: (msg: string) => void,
    private readonly quietScopes: readonly string[] = [],
  ) {
    this.seen = readers.map(() => 0);
  }

  getMeter(name: string, version?: string, options?: MeterOptions): Meter {
    const key = `${name}\u0000${version ?? ''}\u0000${options?.schemaUrl ?? ''}`;
    let m = this.meters.get(key);
    if (!m) {
      m = new AgentMeter(this, { name, version, schemaUrl: options?.schemaUrl }, this.quietScopes.includes(name));
      this.meters.set(key, m);
    }
    return m;
  }

  /** The exemplar a measurement offers, per OTEL_METRICS_EXEMPLAR_FILTER. */
  exemplar(value: number, timeMs: number, ctx: Context | undefined): Exemplar | undefined {
    if (this.filter === 'always_off') return undefined;
    const sc = trace.getSpanContext(ctx ?? apiContext.active());
    const valid = sc !== undefined && trace.isSpanContextValid(sc);
    if (this.filter === 'trace_based' && !(valid && sc.traceFlags & TraceFlags.SAMPLED)) return undefined;
    return valid ? { value, timeMs, traceId: sc.traceId, spanId: sc.spanId } : { value, timeMs };
  }

  /** Something to export beyond what the last collection took. */
  hasNew(r: number): boolean {
    return this.records !== this.seen[r];
  }

  /** Synchronous: callbacks that return promises give only what they observed before their first await. */
  collectSync(r: number): ScopeData[] {
    for (const m of this.meters.values()) void m.observe(r);
    return this.take(r);
  }

  async collect(r: number, timeoutMs: number): Promise<ScopeData[]> {
    const pending: Promise<unknown>[] = [];
    for (const m of this.meters.values()) pending.push(...m.observe(r));
    if (pending.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(pending), new Promise((res) => (timer = setTimeout(res, timeoutMs)).unref())]);
      clearTimeout(timer);
    }
    return this.take(r);
  }

  private take(r: number): ScopeData[] {
    const t = now();
    this.seen[r] = this.records;
    const out: ScopeData[] = [];
    for (const m of this.meters.values()) {
      m.endObserve();
      const metrics: MetricData[] = [];
      for (const i of m.instruments) {
        const s = i.stores[r]!;
        const points = s.collect(t);
        if (!points.length) continue;
        metrics.push({
          name: i.name,
          description: i.opts.description ?? '',
          unit: i.opts.unit ?? '',
          kind: i.kind,
          integer: i.opts.valueType === 0, // ValueType.INT
          temporality: s.temporality,
          bounds: i.bounds,
          points,
        });
      }
      if (metrics.length) out.push({ scope: m.scope, metrics });
    }
    return out;
  }
}
