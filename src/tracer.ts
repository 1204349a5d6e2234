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
 * differs on purpose, the comment at that place says so; test/core/tracer.unit.test.ts
 * pins the behaviour down.
 */
import {
  context as api,
  diag,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  SpanKind,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span as ApiSpan,
  type SpanContext,
  type SpanOptions,
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
  type SpanLimits,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { PooledIdGenerator } from './ids';
import { cleanedCount, cleanInto, cleanLink, cloneValid } from './tracer/attributes';
import { EMPTY_ATTRIBUTES, NO_LINKS, RecordingSpan, type Shared } from './tracer/recording-span';

// SamplingDecision values (sdk-trace's enum; the numbers are part of its API).
const NOT_RECORD = 0;
const RECORD_AND_SAMPLED = 2;
/** W3C Trace Context Level 2: at least the trace id's right-most 7 bytes are random. */
const RANDOM_TRACE_ID = 0x02;

export interface AgentTracerProviderOptions {
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
  /** For root spans: the parent process's trace context, while it applies (src/env-context.ts). */
  envParent?: (kind: SpanKind) => SpanContext | undefined;
}

export class AgentTracerProvider implements ApiTracerProvider {
  readonly resource: Resource;
  private readonly shared: Shared;
  private readonly tracers = new Map<string, AgentTracer>();

  constructor(opts: AgentTracerProviderOptions = {}) {
    const l = opts.spanLimits ?? {};
    let length = l.attributeValueLengthLimit ?? Infinity;
    if (!(length > 0)) {
      // The SDK warns about this on every attribute it sets; once is enough.
      diag.warn(`Invalid attributeValueLengthLimit: must be positive, got ${length} (ignoring)`);
      length = Infinity;
    }
    const processors = [...(opts.spanProcessors ?? [])];
    const ids = opts.idGenerator ?? new PooledIdGenerator();
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
      ids,
      randomFlag: ids instanceof PooledIdGenerator ? RANDOM_TRACE_ID : 0,
      processors,
      ending: processors.filter((p) => typeof p.onEnding === 'function'),
      envParent: opts.envParent,
    };
  }

  /** One tracer per name, version and schema URL, as the SDK caches them. */
  getTracer(name: string, version?: string, options?: TracerOptions): AgentTracer {
    const key = `${name}@${version || ''}:${options?.schemaUrl || ''}`;
    let t = this.tracers.get(key);
    if (!t) {
      t = new AgentTracer({ name, version, schemaUrl: options?.schemaUrl }, this.shared);
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

export class AgentTracer implements ApiTracer {
  constructor(
    readonly instrumentationScope: InstrumentationScope,
    private readonly shared: Shared,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = api.active()): ApiSpan {
    if (options.root) ctx = trace.deleteSpan(ctx);
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const sh = this.shared;
    const kind = options.kind ?? SpanKind.INTERNAL;
    let parent = trace.getSpanContext(ctx);
    if (sh.envParent && (!parent || kind === SpanKind.SERVER || kind === SpanKind.CONSUMER)) {
      // A root span while the parent process's context applies continues that trace; any
      // SERVER or CONSUMER span (the process has started serving) may end that time.
      const p = sh.envParent(kind);
      if (p && !parent && !options.root) {
        ctx = trace.setSpanContext(ctx, p);
        parent = p;
      }
    }
    const spanId = sh.ids.generateSpanId();
    let traceId: string;
    let traceState: TraceState | undefined;
    let validParent: SpanContext | undefined;
    // The random flag belongs to the trace id: kept from the parent (Level 2: MUST, on every
    // span and outgoing traceparent with that trace id), set on the traces this provider starts.
    let random: number;
    if (parent && isSpanContextValid(parent)) {
      traceId = parent.traceId;
      traceState = parent.traceState;
      validParent = parent;
      random = parent.traceFlags & RANDOM_TRACE_ID;
    } else {
      traceId = sh.ids.generateTraceId();
      random = sh.randomFlag;
    }
    // Differs from the SDK on purpose: the sampler sees the attributes and links
    // as given, before they are cleaned and copied (the SDK copies them first,
    // also for spans it then drops). The samplers the agent configures read
    // neither.
    const result = sh.sampler.shouldSample(ctx, traceId, name, kind, options.attributes ?? EMPTY_ATTRIBUTES, options.links ?? NO_LINKS);
    if (result.traceState) traceState = result.traceState;
    const sc: SpanContext = {
      traceId,
      spanId,
      traceFlags: (result.decision === RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE) | random,
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
    const span = new RecordingSpan(sh, this.instrumentationScope, sc, name, kind, validParent, attributes, count, dropped);
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
    if (validParent) linkLocalParent(span, trace.getSpan(ctx));
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

/**
 * Links a span to its parent when the parent is one of ours (not a remote or
 * wrapped span context). The chain is cut at MAX_LOCAL_DEPTH so that work
 * that keeps starting spans under the previous one (a poll loop run inside
 * its last span's context) holds at most that many ended spans alive.
 */
const MAX_LOCAL_DEPTH = 256;
function linkLocalParent(span: RecordingSpan, parent: ApiSpan | undefined): void {
  if (!(parent instanceof RecordingSpan) || parent.localDepth >= MAX_LOCAL_DEPTH) return;
  span.localParent = parent;
  span.localDepth = parent.localDepth + 1;
}

export { RecordingSpan };
export type { ReadableSpan };
