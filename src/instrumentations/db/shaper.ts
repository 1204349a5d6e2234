/**
 * The tracer wrapper behind the database span corrections (pg, mysql2, redis,
 * ioredis, mongodb; each driver's rules are in its folder's shaping.ts).
 *
 * Each upstream instrumentation gets its tracer from a TracerProvider wrapper
 * (public `setTracerProvider`), so its spans can be dropped at start or
 * corrected just before they end.
 */
import {
  context,
  createContextKey,
  diag,
  INVALID_SPAN_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

/** What an SDK span exposes for reading (sdk-trace's ReadableSpan fields). */
export interface SpanState {
  name: string;
  attributes: Attributes;
  status: { code: SpanStatusCode; message?: string };
  events: { name: string; attributes?: Attributes }[];
}

function stateOf(span: Span): SpanState | undefined {
  const s = span as unknown as Partial<SpanState>;
  return typeof s.name === 'string' && s.attributes && s.status && Array.isArray(s.events) ? (s as SpanState) : undefined;
}

export interface Hooks {
  /** Return false to create no span (a non-recording stand-in keeps the caller's parent for anything nested). */
  start?(name: string, attributes: Attributes): boolean;
  /** Runs once, just before the span ends, while it still accepts attributes. */
  end?(span: Span, state: SpanState): void;
}

export class Shaper {
  private skipDepth = 0;
  private last: Span | undefined;
  private readonly skipKey = createContextKey('@x/otel-agent/db-shaping skip');
  readonly provider: TracerProvider;

  constructor(readonly hooks: Hooks) {
    this.provider = { getTracer: (name, version, options) => new ShapingTracer(trace.getTracerProvider().getTracer(name, version, options), this) };
  }

  skipping(ctx: Context): boolean {
    return this.skipDepth > 0 || ctx.getValue(this.skipKey) === true;
  }

  /** No spans from this instrumentation during fn's synchronous run. */
  withoutSpans<T>(fn: () => T): T {
    this.skipDepth++;
    try {
      return fn();
    } finally {
      this.skipDepth--;
    }
  }

  /** A context in which this instrumentation creates no spans (for work that continues asynchronously). */
  skipContext(ctx: Context): Context {
    return ctx.setValue(this.skipKey, true);
  }

  noted(span: Span | undefined): void {
    this.last = span;
  }

  /**
   * The recording span the upstream patch started just now. Upstream patches
   * start their span and call the original function in the same synchronous
   * step; a patch registered before them (so it is that original function)
   * takes the span here.
   */
  claim(): Span | undefined {
    const s = this.last;
    this.last = undefined;
    return s;
  }
}

class ShapingTracer implements Tracer {
  constructor(
    private readonly inner: Tracer,
    private readonly shaper: Shaper,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const { hooks } = this.shaper;
    if (this.shaper.skipping(ctx) || (hooks.start && !hooks.start(name, (options.attributes ??= {})))) {
      this.shaper.noted(undefined);
      return trace.wrapSpanContext(trace.getSpanContext(ctx) ?? INVALID_SPAN_CONTEXT);
    }
    const span = this.inner.startSpan(name, options, ctx);
    if (!span.isRecording()) {
      this.shaper.noted(undefined);
      return span;
    }
    this.shaper.noted(span);
    const endHook = hooks.end;
    if (endHook) {
      const end = span.end;
      let shaped = false;
      span.end = function shapedEnd(this: Span, ...args: Parameters<Span['end']>): void {
        if (!shaped) {
          shaped = true;
          const st = stateOf(span);
          if (st) {
            try {
              endHook(span, st);
            } catch (e) {
              diag.debug('db-shaping: end hook failed', e);
            }
          }
        }
        end.apply(span, args);
      };
    }
    return span;
  }

  startActiveSpan: Tracer['startActiveSpan'] = ((name: string, ...rest: unknown[]) => {
    const fn = rest[rest.length - 1] as (span: Span) => unknown;
    const options = (rest.length >= 2 ? rest[0] : undefined) as SpanOptions | undefined;
    const ctx = (rest.length >= 3 ? rest[1] : undefined) as Context | undefined;
    const parent = ctx ?? context.active();
    const span = this.startSpan(name, options, parent);
    return context.with(trace.setSpan(parent, span), fn, undefined, span);
  }) as Tracer['startActiveSpan'];
}
