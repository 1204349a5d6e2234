/**
 * Local tail mode (OTEL_AGENT_TAIL_SAMPLING, docs/sampling-rules.md#local-tail-mode): at a
 * low head-sampling rate, the requests worth seeing are the failing and the slow ones, and
 * the head sampler cannot know which those are when a request starts. In tail mode a
 * request the head sampler did not keep is still recorded, in memory only; when its entry
 * span (the local root: a SERVER or CONSUMER span without a parent in this process) ends
 * with an error or after the latency threshold, its spans are handed to the exporters
 * anyway, each marked `otel.agent.tail_kept: true` (and the entry span with
 * `otel.agent.tail_reason`), so a backend can tell them from sampled traces. Otherwise
 * they are dropped without any export cost.
 *
 * Two parts: TailSampler turns the head sampler's "not recorded" into "recorded, not
 * sampled" for entry spans and their local children, so the sampled flag every span
 * propagates downstream stays as the head sampler decided; TailProcessor holds the
 * recorded spans per local trace and decides when an entry span ends. Memory is bounded
 * per trace and in total; what the bounds leave out is counted.
 *
 * With the mode off neither part exists: the unsampled path is the tracer's usual one.
 */
import { isSpanContextValid, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Link } from '@opentelemetry/api';
import { SamplingDecision, type ReadableSpan, type Sampler, type SamplingResult, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { isRuleDrop } from './rules';

/** On every span tail mode exported: the head sampler did not keep its trace (there is no `th` for adjusted counts). */
export const ATTR_TAIL_KEPT = 'otel.agent.tail_kept';
/** On the entry span of a request tail mode kept: `error` or `slow`. */
export const ATTR_TAIL_REASON = 'otel.agent.tail_reason';

export interface TailOptions {
  /** A request longer than this is kept as slow; 0: latency never keeps one. */
  latencyMs: number;
  /** Spans held at once across all requests still running. */
  maxSpans: number;
  /** Spans held for one request besides its entry span. */
  maxSpansPerTrace: number;
}

/** Where tail-kept spans go: the batch processors' enqueue (processor.ts), bypassing their sampled-flag check. */
export type TailSink = (span: ReadableSpan) => void;

/** Numbers for the exit summary and the periodic debug line. */
export interface TailCounts {
  /** Unsampled entry spans recorded. */
  recorded: number;
  keptError: number;
  keptSlow: number;
  /** Spans handed to the exporters. */
  exportedSpans: number;
  /** Spans left out: the request already held maxSpansPerTrace. */
  overTrace: number;
  /** Spans left out: maxSpans were held in total (an evicted request's spans count here too). */
  overTotal: number;
}

interface Buffer {
  /** Ended spans waiting for the decision. */
  spans: ReadableSpan[];
  /** Entry spans of this trace still open in this process, by span id: their performance.now() at start. */
  roots: Map<string, number>;
  kept: boolean;
}

const SAMPLED = TraceFlags.SAMPLED;
const RECORD: SamplingResult = Object.freeze({ decision: SamplingDecision.RECORD });
/** How many kept traces are remembered after their entry spans ended, for children that end later (fire-and-forget work). */
const KEPT_MEMORY = 256;

const isEntry = (kind: SpanKind): boolean => kind === SpanKind.SERVER || kind === SpanKind.CONSUMER;

export class TailProcessor implements SpanProcessor {
  readonly counts: TailCounts = { recorded: 0, keptError: 0, keptSlow: 0, exportedSpans: 0, overTrace: 0, overTotal: 0 };
  /** Local traces being recorded, oldest first (Map order): evicted from the front when full. */
  private readonly buffers = new Map<string, Buffer>();
  /** Kept traces whose entry spans have ended, oldest first. */
  private readonly kept = new Set<string>();
  private held = 0;

  constructor(
    private readonly opts: TailOptions,
    private readonly sink: TailSink,
  ) {}

  /** Whether a span starting in this trace with a local parent is to be recorded (TailSampler). */
  recording(traceId: string): boolean {
    return this.buffers.has(traceId) || this.kept.has(traceId);
  }

  onStart(span: Span): void {
    const sc = span.spanContext();
    if (sc.traceFlags & SAMPLED) return;
    const parent = span.parentSpanContext;
    if (parent && !parent.isRemote) return; // a child: its trace's buffer exists (TailSampler checked)
    if (!isEntry(span.kind)) return;
    let buf = this.buffers.get(sc.traceId);
    if (!buf) {
      // Bounded in number too: each buffer holds at least its entry span. A request that never ends
      // (a leaked span) must not hold its place for ever: the oldest goes.
      if (this.buffers.size >= this.opts.maxSpans) this.evictOldest();
      buf = { spans: [], roots: new Map(), kept: false };
      this.buffers.set(sc.traceId, buf);
    }
    buf.roots.set(sc.spanId, performance.now());
    this.counts.recorded++;
  }

  /** The entry span decides while it still takes attributes; its children are marked in case it keeps them. */
  onEnding(span: Span): void {
    const sc = span.spanContext();
    if (sc.traceFlags & SAMPLED) return;
    const traceId = sc.traceId;
    const buf = this.buffers.get(traceId);
    if (!buf) {
      if (this.kept.has(traceId)) span.setAttribute(ATTR_TAIL_KEPT, true);
      return;
    }
    const t0 = buf.roots.get(sc.spanId);
    if (t0 !== undefined) {
      const reason = failed(span) ? 'error' : this.opts.latencyMs > 0 && performance.now() - t0 >= this.opts.latencyMs ? 'slow' : undefined;
      if (reason) {
        if (!buf.kept) {
          if (reason === 'error') this.counts.keptError++;
          else this.counts.keptSlow++;
        }
        buf.kept = true;
        span.setAttribute(ATTR_TAIL_REASON, reason);
      }
    }
    span.setAttribute(ATTR_TAIL_KEPT, true);
  }

  onEnd(span: ReadableSpan): void {
    const sc = span.spanContext();
    if (sc.traceFlags & SAMPLED) return;
    const traceId = sc.traceId;
    const buf = this.buffers.get(traceId);
    if (!buf) {
      if (this.kept.has(traceId)) this.export(span);
      return;
    }
    const isRoot = buf.roots.delete(sc.spanId);
    if (buf.kept) {
      // Decided: what waited goes now, and so does every span of this trace that ends from here on.
      if (buf.spans.length) {
        for (const s of buf.spans) this.export(s);
        this.held -= buf.spans.length;
        buf.spans = [];
      }
      this.export(span);
    } else if (!isRoot) {
      if (buf.spans.length >= this.opts.maxSpansPerTrace) this.counts.overTrace++;
      else if (this.held >= this.opts.maxSpans) this.counts.overTotal++;
      else {
        buf.spans.push(span);
        this.held++;
      }
    }
    if (buf.roots.size > 0) return;
    if (isRoot) {
      // The last entry span of this trace in this process ended: the trace is decided.
      this.buffers.delete(traceId);
      this.held -= buf.spans.length;
      if (buf.kept) this.remember(traceId);
    }
  }

  private remember(traceId: string): void {
    if (this.kept.size >= KEPT_MEMORY) this.kept.delete(this.kept.values().next().value!);
    this.kept.add(traceId);
  }

  private evictOldest(): void {
    const first = this.buffers.entries().next();
    if (first.done) return;
    const [traceId, buf] = first.value;
    this.buffers.delete(traceId);
    this.held -= buf.spans.length;
    this.counts.overTotal += buf.spans.length + buf.roots.size;
  }

  private export(span: ReadableSpan): void {
    this.counts.exportedSpans++;
    this.sink(span);
  }

  /** `tail sampling: 3 of 950 unsampled requests kept (2 error, 1 slow), 9 spans exported; ...`; undefined when nothing was recorded. */
  summary(): string | undefined {
    const c = this.counts;
    if (!c.recorded) return undefined;
    const left = [
      c.overTrace ? `${c.overTrace} span(s) over OTEL_AGENT_TAIL_MAX_SPANS_PER_TRACE` : '',
      c.overTotal ? `${c.overTotal} span(s) over OTEL_AGENT_TAIL_MAX_SPANS` : '',
    ].filter(Boolean);
    return (
      `tail sampling: ${c.keptError + c.keptSlow} of ${c.recorded} unsampled request(s) kept (${c.keptError} error, ${c.keptSlow} slow), ` +
      `${c.exportedSpans} span(s) exported` +
      (left.length ? `; not kept: ${left.join(', ')}` : '')
    );
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * An error, as a user would call it: ERROR status (HTTP server spans get it for 5xx), a 5xx
 * response code, or an exception recorded on the span.
 */
function failed(span: Span): boolean {
  const r = span as unknown as ReadableSpan;
  if (r.status.code === SpanStatusCode.ERROR) return true;
  const code = r.attributes['http.response.status_code'];
  if (typeof code === 'number' && code >= 500) return true;
  return r.events.some((e) => e.name === 'exception');
}

/**
 * In front of the configured sampler (rules included): where it says "not recorded", an
 * entry span is recorded anyway (not sampled), and so is a span whose local parent's trace
 * is being recorded. A `drop` rule's decision stands: dropped probes cost nothing.
 */
export class TailSampler implements Sampler {
  constructor(
    private readonly inner: Sampler,
    private readonly tail: TailProcessor,
  ) {}

  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const r = this.inner.shouldSample(ctx, traceId, name, kind, attributes, links);
    if (r.decision !== SamplingDecision.NOT_RECORD || isRuleDrop(r)) return r;
    const parent = trace.getSpanContext(ctx);
    const local = parent !== undefined && isSpanContextValid(parent) && !parent.isRemote;
    if (local ? !this.tail.recording(traceId) : !isEntry(kind)) return r;
    // The inner sampler's tracestate (a `th` it erased) still applies; the span is not sampled, so it gets none.
    return r.traceState || r.attributes ? { decision: SamplingDecision.RECORD, traceState: r.traceState, attributes: r.attributes } : RECORD;
  }

  toString(): string {
    return `Tail{${this.inner.toString()}}`;
  }
}
