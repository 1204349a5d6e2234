/**
 * The span the agent's tracer records: one object holding its context,
 * attributes and two `performance.now()` readings; links, events and status
 * stay shared constants until the span gets its own. Behaves as the SDK's
 * span (sdk-trace 3.x) for everything an exporter or processor can see.
 */
import {
  diag,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type SpanContext,
  type SpanStatus,
  type TimeInput,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { IdGenerator, Sampler, Span as SdkSpan, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace';
import { clock, hrBefore, hrDiff, isTimeInput, now, toHr, type Clock } from './clock';
import { cleanedCount, cleanInto, cleanLink, cloneValid, copyValue, isAnyValue, type Limits } from './attributes';
import { exportedStack } from '../stack-paths';

/** What every tracer of one provider shares. */
export interface Shared {
  readonly resource: Resource;
  readonly sampler: Sampler;
  readonly limits: Limits;
  readonly ids: IdGenerator;
  /**
   * The W3C random trace-id flag (0x02) for traces this provider starts: set
   * when its generator makes fully random trace ids (the agent's own), else 0.
   */
  readonly randomFlag: number;
  readonly processors: readonly SpanProcessor[];
  /** The processors that have an onEnding. */
  readonly ending: readonly SpanProcessor[];
  /** The parent a root span of this kind takes from the environment's trace context (src/env-context.ts). */
  readonly envParent?: (kind: SpanKind) => SpanContext | undefined;
}

export const EMPTY_ATTRIBUTES: Attributes = Object.freeze({});
/** Shared by every span without links until it gets one (never pushed to). */
export const NO_LINKS: Link[] = [];
/** Shared by every span without events until it gets one (never pushed to). */
export const NO_EVENTS: TimedEvent[] = [];
export const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };

/** One message per kind of misuse, so the agent's log (rate limited by message) is not flooded. */
function warnEnded(span: RecordingSpan, op: string): void {
  const sc = span.spanContext();
  diag.warn(`Cannot execute the operation on an ended span: ${op} ignored`, `(span "${span.name}", trace ${sc.traceId}, span ${sc.spanId})`);
}

export class RecordingSpan implements SdkSpan {
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
  /**
   * @internal The span this one was started under when that is one of this
   * process's recording spans, and how many such links lie above it: what
   * the uncaught-exception path walks to find the open spans of a request
   * (src/exit-uncaught.ts), without a map of open spans kept for every span.
   */
  localParent: RecordingSpan | undefined = undefined;
  localDepth = 0;

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
    else if (typeof t === 'number' && t <= performance.now())
      this.t0 = t; // a performance.now() reading, as in the SDK
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
      if (e.stack) attributes['exception.stacktrace'] = typeof e.stack === 'string' ? exportedStack(e.stack) : e.stack;
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
