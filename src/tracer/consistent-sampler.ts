/**
 * The ratio samplers (`traceidratio`, `parentbased_traceidratio`) as
 * consistent probability samplers (OpenTelemetry
 * trace/tracestate-probability-sampling.md; docs/sampling.md says what a
 * user sees), in place of sdk-trace's TraceIdRatioBasedSampler.
 *
 * Why: upstream hashes the trace id in a way of its own, so a service at
 * 10% and one at 1% did not keep nested sets of traces (different SDKs, or
 * a different hash, keep unrelated 1%), and nothing on the span said at
 * which ratio it was kept. Here every sampler reads the same randomness, the
 * trace id's right-most 56 bits (random in every trace the agent starts, W3C
 * Level 2) or the `rv` sub-key of the `ot` tracestate entry when a caller
 * set one, and keeps a span when it is >= its threshold. A trace kept at 1%
 * is therefore kept at 10% everywhere, and each kept span carries its
 * threshold in `ot=th:...` (tracestate, exported with the span), from which
 * a backend computes adjusted counts.
 *
 * ParentBased follows the parent's decision as before and checks the
 * parent's `th`: a sampled remote parent whose `th` its own randomness does
 * not pass is inconsistent, and the `th` is erased (adjusted counts unknown
 * rather than wrong); an unsampled remote parent's `th` is erased too.
 */
import {
  diag,
  isSpanContextValid,
  trace,
  type Attributes,
  type Context,
  type Link,
  type SpanContext,
  type SpanKind,
  type TraceState,
} from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';
import { W3CTraceState } from '../propagation/tracestate';
import { isRandomness, isThreshold, MIN_PROBABILITY, otGet, otSet, otUnset, probabilityToThreshold, threshold14 } from './threshold';

const SAMPLED: SamplingResult = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED });
const DROP: SamplingResult = Object.freeze({ decision: SamplingDecision.NOT_RECORD });
const RANDOM_FLAG = 0x02;
const SAMPLED_FLAG = 0x01;

let warnedPresumed = false;

/** The parent's span context, when there is a valid one. */
function parentOf(ctx: Context): SpanContext | undefined {
  const p = trace.getSpanContext(ctx);
  return p && isSpanContextValid(p) ? p : undefined;
}

/**
 * Whether R < T. R: `rv` when the `ot` entry has a valid one, else the trace id's right-most 14
 * hex digits; T: 14 lower-case hex digits. A 32-digit trace id is compared in place: this runs
 * for every span a ratio sampler decides, sampled or not, and slicing and lower-casing the id
 * cost about 50 bytes a request (bench/NOTES.md, 2026-12-07).
 */
function belowThreshold(traceId: string, ot: string | undefined, parent: SpanContext | undefined, t: string): boolean {
  const rv = ot === undefined ? undefined : otGet(ot, 'rv');
  if (rv !== undefined && isRandomness(rv)) return rv < t;
  if (parent && (parent.traceFlags & RANDOM_FLAG) === 0 && !warnedPresumed) {
    // The spec's compatibility warning: a caller without Level 2 may have made a non-random trace id.
    warnedPresumed = true;
    diag.warn(
      'traceidratio sampler: a parent trace context without the W3C random trace-id flag; presuming its trace id is random anyway. Upgrade the caller to W3C Trace Context Level 2 if sampling looks uneven.',
    );
  }
  if (traceId.length === 32) {
    for (let i = 0; i < 14; i++) {
      // | 0x20 lower-cases A-F and leaves the digits as they are.
      const a = traceId.charCodeAt(18 + i) | 0x20;
      const b = t.charCodeAt(i);
      if (a !== b) return a < b;
    }
    return false;
  }
  return traceId.padStart(14, '0').slice(-14).toLowerCase() < t;
}

/** `ts` with the `ot` entry replaced by `ot` ('' removes it); a new tracestate when there was none. */
function withOt(ts: TraceState | undefined, ot: string): TraceState | undefined {
  if (ot === '') return ts?.unset('ot');
  return ts ? ts.set('ot', ot) : W3CTraceState.of([['ot', ot]]);
}

/** A DROP result that also erases `th` from the parent's tracestate (a span that was not kept has no threshold). */
function dropErasingTh(ts: TraceState | undefined, ot: string | undefined): SamplingResult {
  if (ts === undefined || ot === undefined || otGet(ot, 'th') === undefined) return DROP;
  return { decision: SamplingDecision.NOT_RECORD, traceState: withOt(ts, otUnset(ot, 'th')) };
}

/** `traceidratio`: keeps a span when R >= T, whatever the parent decided, and writes `th:T` on it. */
export class ConsistentRatioSampler implements Sampler {
  /** The `th` value written on kept spans, e.g. `e666` for 0.1. */
  readonly th: string;
  private readonly t: string;
  /** The `ot` value of a tracestate this sampler wrote, to leave it untouched on child spans. */
  private readonly own: string;
  /** The result for a kept span without a tracestate of its own (a root): shared, it never changes. */
  private readonly sampledAlone: SamplingResult;

  constructor(readonly ratio: number) {
    this.th = probabilityToThreshold(Math.max(ratio, MIN_PROBABILITY));
    this.t = threshold14(this.th);
    this.own = `th:${this.th}`;
    this.sampledAlone = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED, traceState: withOt(undefined, this.own) });
  }

  shouldSample(ctx: Context, traceId: string): SamplingResult {
    const parent = parentOf(ctx);
    const ts = parent?.traceState;
    const ot = ts?.get('ot');
    if (belowThreshold(traceId, ot, parent, this.t)) return dropErasingTh(ts, ot);
    if (ot === this.own) return SAMPLED;
    // No tracestate to keep: every such span gets the same one (immutable, its header text cached).
    if (ts === undefined) return this.sampledAlone;
    // When `th` cannot be added (the entry would pass 256 characters), the old one must not stay: erase it.
    const next = otSet(ot, 'th', this.th) ?? (ot === undefined ? '' : otUnset(ot, 'th'));
    return { decision: SamplingDecision.RECORD_AND_SAMPLED, traceState: withOt(ts, next) };
  }

  toString(): string {
    return `TraceIdRatioBased{${this.ratio}}`;
  }
}

/**
 * `parentbased_traceidratio`: the root sampler for spans without a parent;
 * with a parent, its sampled flag decides (as sdk-trace's ParentBasedSampler
 * with its default delegates), and a remote parent's `th` is checked.
 */
export class ConsistentParentBasedSampler implements Sampler {
  /** `root` is a ConsistentRatioSampler, or AlwaysOff for a ratio of 0 (no probability, no th). */
  constructor(private readonly root: Sampler) {}

  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const parent = parentOf(ctx);
    if (!parent) return this.root.shouldSample(ctx, traceId, name, kind, attributes, links);
    const sampled = (parent.traceFlags & SAMPLED_FLAG) !== 0;
    // A local parent's tracestate is what this sampler already returned for it.
    if (!parent.isRemote) return sampled ? SAMPLED : DROP;
    const ts = parent.traceState;
    const ot = ts?.get('ot');
    if (!sampled) return dropErasingTh(ts, ot);
    const th = ot === undefined ? undefined : otGet(ot, 'th');
    if (th === undefined) return SAMPLED;
    if (isThreshold(th) && !belowThreshold(traceId, ot, parent, threshold14(th))) return SAMPLED;
    // Sampled, but its randomness does not pass its own threshold (or the threshold is malformed): inconsistent.
    return { decision: SamplingDecision.RECORD_AND_SAMPLED, traceState: withOt(ts, otUnset(ot!, 'th')) };
  }

  toString(): string {
    return `ParentBased{root=${this.root.toString()}, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}`;
  }
}
