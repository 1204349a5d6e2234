/**
 * The agent's tracer: TracerProvider, Tracer and Span, in place of the
 * OpenTelemetry SDK's (`@opentelemetry/sdk-trace`).
 *
 * Why our own: in a tight loop the SDK's span costs about half of the whole
 * pipeline (bench/NOTES.md): per span it reads three clocks, builds HrTime
 * tuples for start, end and duration, copies the start attributes twice
 * (once before the sampler, once after), maps the links into a new array,
 * and allocates empty links/events arrays and a status object that all live
 * until the span is exported. Everything that lives that long is copied by
 * the garbage collector at least once. Here a span is one object plus its
 * span context and attributes:
 *
 * - one `performance.now()` per start and per end, stored as a number; the
 *   HrTime tuples the exporters read are built when they read them (during
 *   the export, where they die young). Start times get the monotonic clock's
 *   sub-millisecond resolution (the SDK's were whole milliseconds, from
 *   Date.now()); the wall-clock offset is re-checked against Date.now() at
 *   most once a second and corrected when it drifts by more than a
 *   millisecond (NTP steps, suspended VMs).
 * - empty links, empty events and the UNSET status are shared constants until
 *   the span gets its own.
 * - the sampler decides before any attribute is copied: an unsampled span
 *   costs its ids and a non-recording wrapper, nothing more.
 * - attributes given all at once (at start, or the first setAttributes()) are
 *   copied with one object spread and then checked, instead of key by key;
 *   setAttribute() looks up whether a key is new only near the count limit.
 * - the processors (already guarded by contain.ts) are called directly, not
 *   through a MultiSpanProcessor.
 *
 * What a user or exporter sees is the SDK's behaviour (sdk-trace 3.x): the
 * same ReadableSpan fields, attribute validation, limits and dropped counts,
 * status rules, exception events, sampler results, processor order
 * (onStart, onEnding while the span still accepts changes, onEnd). Where this
 * differs on purpose, the comment at that place says so; test/core/tracer.test.ts
 * pins the behaviour down.
 */
import {
  context as api,
  diag,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span as ApiSpan,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer as ApiTracer,
  type TracerOptions,
  type TracerProvider as ApiTracerProvider,
  type TraceState,
} from '@opentelemetry/api';
import { isTracingSuppressed, type InstrumentationScope } from '@opentelemetry/core';
import { defaultResource, type Resource } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  ParentBasedSampler,
  type IdGenerator,
  type ReadableSpan,
  type Sampler,
  type Span as SdkSpan,
  type SpanLimits,
  type SpanProcessor,
  type TimedEvent,
} from '@opentelemetry/sdk-trace';
import { PooledIdGenerator } from './ids';

// SamplingDecision values (sdk-trace's enum; the numbers are part of its API).
const NOT_RECORD = 0;
const RECORD_AND_SAMPLED = 2;

// ---------------------------------------------------------------------------------------------
// Clock

/**
 * Wall-clock time as `performance.now()` plus an offset. `sec` is a whole
 * number of seconds and `ms` the rest of the offset in milliseconds, so
 * `ms + performance.now()` stays a small number that keeps nanosecond
 * precision (an epoch in milliseconds as one double only resolves ~0.2 µs).
 */
class Clock {
  constructor(
    readonly sec: number,
    readonly ms: number,
  ) {}

  /** HrTime of a `performance.now()` reading. */
  hr(perf: number): HrTime {
    const t = this.ms + perf;
    const s = Math.floor(t / 1000);
    let ns = Math.round((t - s * 1000) * 1e6);
    let sec = this.sec + s;
    if (ns >= 1e9) {
      ns -= 1e9;
      sec += 1;
    }
    return [sec, ns];
  }

  /** Milliseconds since the epoch of a `performance.now()` reading (0.2 µs precision). */
  epochMs(perf: number): number {
    return this.sec * 1000 + this.ms + perf;
  }
}

function clockAt(epochMs: number, perf: number): Clock {
  const offset = epochMs - perf;
  const sec = Math.floor(offset / 1000);
  return new Clock(sec, offset - sec * 1000);
}

// performance.timeOrigin is the wall clock at process start with microsecond precision.
let clock = clockAt(performance.timeOrigin, 0);
let nextClockCheck = 0;

/**
 * `performance.now()`, with the wall-clock offset re-checked at most once a
 * second. Date.now() floors to the millisecond, so the true wall time is in
 * [wall, wall + 1); a little more slack keeps the two reads' gap from
 * flapping the offset. A correction applies to spans started afterwards.
 */
function now(): number {
  const p = performance.now();
  if (p >= nextClockCheck) {
    nextClockCheck = p + 1000;
    const wall = Date.now();
    const est = clock.epochMs(p);
    if (est < wall - 1 || est > wall + 2) clock = clockAt(wall + 0.5, p);
  }
  return p;
}

/** Epoch milliseconds to HrTime. */
function msToHr(ms: number): HrTime {
  const sec = Math.floor(ms / 1000);
  let ns = Math.round((ms - sec * 1000) * 1e6);
  let s = sec;
  if (ns >= 1e9) {
    ns -= 1e9;
    s += 1;
  }
  return [s, ns];
}

function isHrTime(v: unknown): v is HrTime {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number';
}

function isTimeInput(v: unknown): v is TimeInput {
  return typeof v === 'number' || v instanceof Date || isHrTime(v);
}

function hrBefore(a: HrTime, b: HrTime): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

function hrDiff(start: HrTime, end: HrTime): HrTime {
  let s = end[0] - start[0];
  let ns = end[1] - start[1];
  if (ns < 0) {
    s -= 1;
    ns += 1e9;
  }
  return [s, ns];
}

// ---------------------------------------------------------------------------------------------
// Attribute values (the SDK's rules: OpenTelemetry AnyValue for spans and links, "simple"
// values for events; undefined is skipped silently, invalid values are dropped with a warning)

/** string, number, boolean, null, bytes, arrays and plain objects of those; no cycles. */
function isAnyValue(v: unknown, path?: unknown[]): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (v === null || v instanceof Uint8Array) return true;
  const stack = path ?? [];
  if (stack.includes(v)) return false;
  stack.push(v);
  let ok = true;
  if (Array.isArray(v)) {
    for (const item of v as unknown[]) {
      if (item !== undefined && !isAnyValue(item, stack)) {
        ok = false;
        break;
      }
    }
  } else {
    const proto = (v as { constructor?: unknown }).constructor;
    if (proto !== Object && proto !== undefined) ok = false;
    else {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const item = o[k];
        if (item !== undefined && !isAnyValue(item, stack)) {
          ok = false;
          break;
        }
      }
    }
  }
  stack.pop();
  return ok;
}

const isPrimitiveType = (t: string): boolean => t === 'string' || t === 'number' || t === 'boolean';

/** A string, number or boolean, or an array of one of those types (null/undefined items allowed). */
function isSimpleValue(v: unknown): boolean {
  if (!Array.isArray(v)) return isPrimitiveType(typeof v);
  let type: string | undefined;
  for (const item of v as unknown[]) {
    if (item == null) continue;
    const t = typeof item;
    if (t === type) continue;
    if (type !== undefined || !isPrimitiveType(t)) return false;
    type = t;
  }
  return true;
}

/** The stored value: strings (also inside arrays and maps) cut to `limit`, arrays and maps copied. */
function copyValue(v: unknown, limit: number): unknown {
  if (typeof v === 'string') return v.length > limit ? v.substring(0, limit) : v;
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Uint8Array) return v.length > limit ? v.slice(0, limit) : v;
  if (Array.isArray(v)) return (v as unknown[]).map((x) => copyValue(x, limit));
  const out: Record<string, unknown> = {};
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (o[k] !== undefined) out[k] = copyValue(o[k], limit);
  return out;
}

/** The attribute count after the last cleanInto() (a module variable: no result object per call). */
let cleanedCount = 0;

/**
 * Copies the valid entries of `src` into `into`, which holds `count`
 * attributes, under a count limit; returns how many were dropped (over the
 * limit or invalid) and leaves the new count in `cleanedCount`. Keys already
 * in `into` are overwritten without counting against the limit.
 */
function cleanInto(into: Attributes, count: number, src: Attributes, countLimit: number, lengthLimit: number, simple: boolean): number {
  let dropped = 0;
  for (const k in src) {
    if (!Object.hasOwn(src, k)) continue;
    const v = src[k];
    if (v === undefined) continue;
    const isNew = !Object.hasOwn(into, k);
    if (isNew && count >= countLimit) {
      dropped++;
      continue;
    }
    if (k.length === 0) {
      diag.warn('Invalid attribute key: (empty)');
      dropped++;
      continue;
    }
    if (!(simple ? isSimpleValue(v) : isAnyValue(v))) {
      diag.warn(`Invalid attribute value set for key: ${k}`);
      dropped++;
      continue;
    }
    into[k] = copyValue(v, lengthLimit) as AttributeValue;
    if (isNew) count++;
  }
  cleanedCount = count;
  return dropped;
}

/**
 * The start attributes of a span, when they need no change but copying: a
 * spread copy (V8 clones a fast object's shape and values in one step), then
 * one pass that checks every value and copies arrays and maps. Returns
 * undefined when something must be left out (undefined or invalid values, an
 * empty key, more than the count limit) or cut (strings over the length
 * limit): cleanInto() then does it entry by entry. Leaves the count in
 * `cleanedCount`.
 *
 * Instrumentations pass most attributes at start (a dozen for an HTTP span):
 * copying them one key at a time into an empty object costs about 40 ns per
 * attribute, mostly in the generic keyed stores that add each property; the
 * spread copy costs a few.
 */
function cloneValid(src: Attributes, countLimit: number, lengthLimit: number): Attributes | undefined {
  const a: Attributes = { ...src };
  let n = 0;
  for (const k in a) {
    const v = a[k];
    switch (typeof v) {
      case 'string':
        if (v.length > lengthLimit) return undefined;
        break;
      case 'number':
      case 'boolean':
        break;
      default:
        if (v === undefined || !isAnyValue(v)) return undefined;
        a[k] = copyValue(v, lengthLimit) as AttributeValue;
    }
    if (k.length === 0) return undefined;
    n++;
  }
  if (n > countLimit) return undefined;
  cleanedCount = n;
  return a;
}

// ---------------------------------------------------------------------------------------------
// Provider and tracer

interface Limits {
  attributeCountLimit: number;
  attributeValueLengthLimit: number;
  eventCountLimit: number;
  linkCountLimit: number;
  attributePerEventCountLimit: number;
  attributePerLinkCountLimit: number;
}

export interface LeanTracerProviderOptions {
  resource?: Resource;
  /** Default: parent-based, always on (as the SDK). */
  sampler?: Sampler;
  spanLimits?: SpanLimits;
  /**
   * Called in this order for every recording span. They are called directly,
   * without a try: pass them through contain.ts guardProcessors when a
   * throwing processor must not reach the app.
   */
  spanProcessors?: SpanProcessor[];
  idGenerator?: IdGenerator;
}

/** What every tracer of one provider shares. */
interface Shared {
  readonly resource: Resource;
  readonly sampler: Sampler;
  readonly limits: Limits;
  readonly ids: IdGenerator;
  readonly processors: readonly SpanProcessor[];
  /** The processors that have an onEnding. */
  readonly ending: readonly SpanProcessor[];
}

export class LeanTracerProvider implements ApiTracerProvider {
  readonly resource: Resource;
  private readonly shared: Shared;
  private readonly tracers = new Map<string, LeanTracer>();

  constructor(opts: LeanTracerProviderOptions = {}) {
    const l = opts.spanLimits ?? {};
    let length = l.attributeValueLengthLimit ?? Infinity;
    if (!(length > 0)) {
      // The SDK warns about this on every attribute it sets; once is enough.
      diag.warn(`Invalid attributeValueLengthLimit: must be positive, got ${length} (ignoring)`);
      length = Infinity;
    }
    const processors = [...(opts.spanProcessors ?? [])];
    this.resource = opts.resource ?? defaultResource();
    this.shared = {
      resource: this.resource,
      sampler: opts.sampler ?? new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      limits: {
        attributeCountLimit: l.attributeCountLimit ?? 128,
        attributeValueLengthLimit: length,
        eventCountLimit: l.eventCountLimit ?? 128,
        linkCountLimit: l.linkCountLimit ?? 128,
        attributePerEventCountLimit: l.attributePerEventCountLimit ?? 128,
        attributePerLinkCountLimit: l.attributePerLinkCountLimit ?? 128,
      },
      ids: opts.idGenerator ?? new PooledIdGenerator(),
      processors,
      ending: processors.filter((p) => typeof p.onEnding === 'function'),
    };
  }

  /** One tracer per name, version and schema URL, as the SDK caches them. */
  getTracer(name: string, version?: string, options?: TracerOptions): LeanTracer {
    const key = `${name}@${version || ''}:${options?.schemaUrl || ''}`;
    let t = this.tracers.get(key);
    if (!t) {
      t = new LeanTracer({ name, version, schemaUrl: options?.schemaUrl }, this.shared);
      this.tracers.set(key, t);
    }
    return t;
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.shared.processors.map((p) => p.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.shared.processors.map((p) => p.shutdown()));
  }
}

const EMPTY_ATTRIBUTES: Attributes = Object.freeze({});
/** Shared by every span without links until it gets one (never pushed to). */
const NO_LINKS: Link[] = [];
/** Shared by every span without events until it gets one (never pushed to). */
const NO_EVENTS: TimedEvent[] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };

export class LeanTracer implements ApiTracer {
  constructor(
    readonly instrumentationScope: InstrumentationScope,
    private readonly shared: Shared,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = api.active()): ApiSpan {
    if (options.root) ctx = trace.deleteSpan(ctx);
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const sh = this.shared;
    const parent = trace.getSpanContext(ctx);
    const spanId = sh.ids.generateSpanId();
    let traceId: string;
    let traceState: TraceState | undefined;
    let validParent: SpanContext | undefined;
    if (parent && isSpanContextValid(parent)) {
      traceId = parent.traceId;
      traceState = parent.traceState;
      validParent = parent;
    } else traceId = sh.ids.generateTraceId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    // Differs from the SDK on purpose: the sampler sees the attributes and links
    // as given, before they are cleaned and copied (the SDK copies them first,
    // also for spans it then drops). The samplers the agent configures read
    // neither.
    const result = sh.sampler.shouldSample(ctx, traceId, name, kind, options.attributes ?? EMPTY_ATTRIBUTES, options.links ?? NO_LINKS);
    if (result.traceState) traceState = result.traceState;
    const sc: SpanContext = {
      traceId,
      spanId,
      traceFlags: result.decision === RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE,
      traceState,
    };
    if (result.decision === NOT_RECORD) return trace.wrapSpanContext(sc);

    const limits = sh.limits;
    let attributes: Attributes | undefined;
    let count = 0;
    let dropped = 0;
    if (options.attributes) {
      attributes = cloneValid(options.attributes, limits.attributeCountLimit, limits.attributeValueLengthLimit);
      if (!attributes) {
        attributes = {};
        dropped = cleanInto(attributes, 0, options.attributes, limits.attributeCountLimit, limits.attributeValueLengthLimit, false);
      }
      count = cleanedCount;
    } else attributes = {};
    if (result.attributes) {
      dropped += cleanInto(attributes, count, result.attributes, limits.attributeCountLimit, limits.attributeValueLengthLimit, false);
      count = cleanedCount;
    }
    const span = new LeanSpan(sh, this.instrumentationScope, sc, name, kind, validParent, attributes, count, dropped);
    if (options.links?.length) {
      let links = options.links.map((l) => cleanLink(l, limits));
      if (links.length > limits.linkCountLimit) {
        // The most recent ones are kept, as addLink does.
        span.droppedLinksCount = links.length - limits.linkCountLimit;
        links = links.slice(links.length - limits.linkCountLimit);
      }
      span.links = links;
    }
    span._startAt(options.startTime);
    const procs = sh.processors;
    for (let i = 0; i < procs.length; i++) procs[i]!.onStart(span, ctx);
    return span;
  }

  startActiveSpan<F extends (span: ApiSpan) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: ApiSpan) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: ApiSpan) => unknown>(name: string, options: SpanOptions, ctx: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: ApiSpan) => unknown>(name: string, a2?: SpanOptions | F, a3?: Context | F, a4?: F): ReturnType<F> | undefined {
    let opts: SpanOptions | undefined;
    let ctx: Context | undefined;
    let fn: F;
    if (arguments.length < 2) return undefined;
    if (arguments.length === 2) fn = a2 as F;
    else if (arguments.length === 3) {
      opts = a2 as SpanOptions;
      fn = a3 as F;
    } else {
      opts = a2 as SpanOptions;
      ctx = a3 as Context;
      fn = a4 as F;
    }
    const parent = ctx ?? api.active();
    const span = this.startSpan(name, opts, parent);
    return api.with(trace.setSpan(parent, span), fn as (s: ApiSpan) => ReturnType<F>, undefined, span);
  }
}

type StoredLink = Link & { droppedAttributesCount?: number };

function cleanLink(l: Link, limits: Limits): StoredLink {
  if (!l.attributes) return { context: l.context };
  const attributes: Attributes = {};
  const dropped = cleanInto(attributes, 0, l.attributes, limits.attributePerLinkCountLimit, limits.attributeValueLengthLimit, false);
  return { context: l.context, attributes, droppedAttributesCount: dropped };
}

// ---------------------------------------------------------------------------------------------
// Span

/** One message per kind of misuse, so the agent's log (rate limited by message) is not flooded. */
function warnEnded(span: LeanSpan, op: string): void {
  const sc = span.spanContext();
  diag.warn(`Cannot execute the operation on an ended span: ${op} ignored`, `(span "${span.name}", trace ${sc.traceId}, span ${sc.spanId})`);
}

export class LeanSpan implements SdkSpan {
  name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  attributes: Attributes;
  links: Link[] = NO_LINKS;
  events: TimedEvent[] = NO_EVENTS;
  status: SpanStatus = UNSET;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  droppedAttributesCount: number;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  ended = false;

  private readonly sc: SpanContext;
  private readonly sh: Shared;
  /** The wall-clock offset when the span started (set with the start time, after now() may have corrected it). */
  private clock!: Clock;
  /** performance.now() at start and end; NaN when that time was given as an HrTime or a date. */
  private t0 = 0;
  private t1 = 0;
  /** HrTimes, given by the caller or built on first read. */
  private start: HrTime | undefined = undefined;
  private end_: HrTime | undefined = undefined;
  /**
   * How many attributes the span has: exact after start, then an upper bound
   * (every setAttribute() counts one, new key or not) until it reaches the
   * count limit, when the exact count is taken and kept from then on. Looking
   * up whether each key is new (a generic lookup on a changing key, ~12 ns)
   * only matters near the limit.
   */
  private nAttributes: number;
  private countExact = false;

  /** `attributes` (already checked, `count` of them) becomes the span's own; `dropped` of the given ones were left out. */
  constructor(
    sh: Shared,
    scope: InstrumentationScope,
    sc: SpanContext,
    name: string,
    kind: SpanKind,
    parent: SpanContext | undefined,
    attributes: Attributes,
    count: number,
    dropped: number,
  ) {
    this.sh = sh;
    this.sc = sc;
    this.name = name;
    this.kind = kind;
    this.parentSpanContext = parent;
    this.resource = sh.resource;
    this.instrumentationScope = scope;
    this.attributes = attributes;
    this.nAttributes = count;
    this.droppedAttributesCount = dropped;
  }

  /** @internal */
  _startAt(t: TimeInput | undefined): void {
    if (t === undefined) this.t0 = now();
    else if (typeof t === 'number' && t <= performance.now()) this.t0 = t; // a performance.now() reading, as in the SDK
    else {
      this.t0 = NaN;
      this.start = toHr(t) ?? clock.hr(now());
    }
    this.clock = clock;
  }

  spanContext(): SpanContext {
    return this.sc;
  }

  get startTime(): HrTime {
    return (this.start ??= this.clock.hr(this.t0));
  }

  /** [0, 0] until the span ends, as in the SDK. */
  get endTime(): HrTime {
    if (this.end_) return this.end_;
    if (!this.ended) return [0, 0];
    return (this.end_ = this.clock.hr(this.t1));
  }

  /** [-1, -1] until the span ends, as in the SDK. */
  get duration(): HrTime {
    if (!this.ended) return [-1, -1];
    // From the two HrTimes, so that start + duration is exactly the end exporters see.
    return hrDiff(this.startTime, this.endTime);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (this.ended) {
      warnEnded(this, 'setAttribute');
      return this;
    }
    if (value === undefined) return this;
    if (key.length === 0) {
      diag.warn('Invalid attribute key: (empty)');
      return this;
    }
    const attrs = this.attributes;
    const l = this.sh.limits;
    let isNew = true;
    if (this.countExact || this.nAttributes >= l.attributeCountLimit) {
      // Near the limit: from now on the count is exact and each key is looked up.
      if (!this.countExact) {
        this.countExact = true;
        this.nAttributes = Object.keys(attrs).length;
      }
      isNew = !Object.hasOwn(attrs, key);
      if (isNew && this.nAttributes >= l.attributeCountLimit) {
        if (++this.droppedAttributesCount === 1) diag.warn('Dropping extra attributes.');
        return this;
      }
    }
    let v: unknown;
    switch (typeof value) {
      case 'string':
        v = value.length > l.attributeValueLengthLimit ? value.substring(0, l.attributeValueLengthLimit) : value;
        break;
      case 'number':
      case 'boolean':
        v = value;
        break;
      default:
        // Not counted as dropped, as in the SDK (only the count limit is).
        if (!isAnyValue(value)) {
          diag.warn(`Invalid attribute value set for key: ${key}`);
          return this;
        }
        v = copyValue(value, l.attributeValueLengthLimit);
    }
    attrs[key] = v as AttributeValue;
    if (isNew) this.nAttributes++;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    if (this.nAttributes === 0 && !this.ended) {
      // The first attributes of a span started without any (what the HTTP
      // instrumentation does): one copy, as for start attributes.
      const l = this.sh.limits;
      const copy = cloneValid(attributes, l.attributeCountLimit, l.attributeValueLengthLimit);
      if (copy) {
        this.attributes = copy;
        this.nAttributes = cleanedCount;
        return this;
      }
    }
    for (const k in attributes) if (Object.hasOwn(attributes, k)) this.setAttribute(k, attributes[k]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) {
      warnEnded(this, 'addEvent');
      return this;
    }
    const l = this.sh.limits;
    if (l.eventCountLimit === 0) {
      diag.warn('No events allowed.');
      this.droppedEventsCount++;
      return this;
    }
    if (this.events === NO_EVENTS) this.events = [];
    else if (this.events.length >= l.eventCountLimit) {
      // The oldest event makes room, as in the SDK.
      if (this.droppedEventsCount === 0) diag.debug('Dropping extra events.');
      this.events.shift();
      this.droppedEventsCount++;
    }
    let attrs: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
    } else attrs = attributesOrTime;
    const at = (time !== undefined ? this.timeOf(time) : undefined) ?? this.clock.hr(now());
    if (attrs && typeof attrs === 'object') {
      const attributes: Attributes = {};
      const dropped = cleanInto(attributes, 0, attrs, l.attributePerEventCountLimit, l.attributeValueLengthLimit, true);
      this.events.push({ name, time: at, attributes, droppedAttributesCount: dropped });
    } else this.events.push({ name, time: at });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) {
      warnEnded(this, 'addLink');
      return this;
    }
    const l = this.sh.limits;
    if (l.linkCountLimit === 0) {
      this.droppedLinksCount++;
      return this;
    }
    if (this.links === NO_LINKS) this.links = [];
    else if (this.links.length >= l.linkCountLimit) {
      if (this.droppedLinksCount === 0) diag.debug('Dropping extra links.');
      this.links.shift();
      this.droppedLinksCount++;
    }
    this.links.push(cleanLink(link, l));
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended) {
      warnEnded(this, 'setStatus');
      return this;
    }
    // UNSET changes nothing, and OK is final.
    if (status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR) {
      if (typeof status.message === 'string') next.message = status.message;
      else if (status.message != null) diag.warn(`Dropping invalid status.message of type '${typeof status.message}', expected 'string'`);
    }
    this.status = next;
    return this;
  }

  updateName(name: string): this {
    if (this.ended) {
      warnEnded(this, 'updateName');
      return this;
    }
    this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      // The SDK logs this at error level with the span's ids first, which makes
      // every occurrence a new line; a warning with a fixed text is rate limited.
      const sc = this.sc;
      diag.warn('span.end() called on a span that already ended; ignored', `(span "${this.name}", trace ${sc.traceId}, span ${sc.spanId})`);
      return;
    }
    if (endTime === undefined) this.t1 = now();
    else if (typeof endTime === 'number' && endTime <= performance.now()) this.t1 = endTime;
    else {
      this.t1 = NaN;
      this.end_ = toHr(endTime) ?? this.clock.hr(now());
    }
    if (this.t0 === this.t0 && this.t1 === this.t1) {
      if (this.t1 < this.t0) this.inconsistent();
    } else {
      if (this.end_ === undefined) this.end_ = this.clock.hr(this.t1);
      if (hrBefore(this.end_, this.startTime)) this.inconsistent();
    }
    if (this.droppedEventsCount > 0) diag.warn(`Dropped ${this.droppedEventsCount} events because eventCountLimit reached`);
    if (this.droppedLinksCount > 0) diag.warn(`Dropped ${this.droppedLinksCount} links because linkCountLimit reached`);
    const ending = this.sh.ending;
    for (let i = 0; i < ending.length; i++) ending[i]!.onEnding!(this);
    this.ended = true;
    const procs = this.sh.processors;
    for (let i = 0; i < procs.length; i++) procs[i]!.onEnd(this);
  }

  /** An end before the start: the span gets a zero duration, as in the SDK. */
  private inconsistent(): void {
    diag.warn('Inconsistent start and end time, startTime > endTime. Setting span duration to 0ms.');
    if (this.t0 === this.t0 && this.t1 === this.t1) this.t1 = this.t0;
    else {
      const s = this.startTime;
      this.end_ = [s[0], s[1]];
    }
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else if (exception) {
      const e = exception as { code?: string | number; name?: string; message?: string; stack?: string };
      if (e.code) attributes['exception.type'] = e.code.toString();
      else if (e.name) attributes['exception.type'] = e.name;
      if (e.message) attributes['exception.message'] = e.message;
      if (e.stack) attributes['exception.stacktrace'] = e.stack;
    }
    if (attributes['exception.type'] || attributes['exception.message']) this.addEvent('exception', attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }

  /** A caller-given time: a performance.now() reading, epoch milliseconds, a Date or an HrTime. */
  private timeOf(t: TimeInput): HrTime | undefined {
    if (typeof t === 'number' && t <= performance.now()) return this.clock.hr(t);
    return toHr(t);
  }
}

/** Epoch milliseconds, a Date or an HrTime as HrTime; undefined for anything else. */
function toHr(t: TimeInput): HrTime | undefined {
  if (typeof t === 'number') return msToHr(t);
  if (t instanceof Date) return msToHr(t.getTime());
  if (isHrTime(t)) return t;
  return undefined;
}

export type { ReadableSpan };
