/**
 * INTERNAL spans for a web framework's route handlers and middleware
 * (OTEL_AGENT_WEB_SPANS=handlers|all), shared by the framework
 * instrumentations. Each bundle carries its own copy; nothing here holds state.
 *
 * A span is only started under a recording parent (the HTTP SERVER span or a
 * span below it): an unsampled request pays one active-span lookup and makes
 * no closure. A failed handler marks its span ERROR with error.type but adds
 * no exception event: the exception is recorded once, on the SERVER span
 * (server-route.ts), not once per layer it passed through.
 */
import { context, trace, SpanKind, SpanStatusCode, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { errorType } from '../http-naming';

export type WebSpans = 'none' | 'handlers' | 'all';

export interface WebSpansConfig {
  webSpans?: WebSpans;
}

/** Whether a span started under `parent` would record: callers check it before building a name or attributes. */
export function recordingParent(parent: Context = context.active()): boolean {
  return trace.getSpan(parent)?.isRecording() === true;
}

/** `request handler - /users/:id`: the name every framework's handler span has (Express's too). */
export const handlerSpanName = (route: string | undefined): string => (route ? `request handler - ${route}` : 'request handler');

/** A child of the active span when that one records; undefined otherwise (nothing allocated). */
export function startWebSpan(tracer: Tracer, name: string, attributes: Attributes, parent: Context = context.active()): Span | undefined {
  const p = trace.getSpan(parent);
  if (p === undefined || !p.isRecording()) return undefined;
  return tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent);
}

export function failWebSpan(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : undefined });
  span.setAttribute('error.type', errorType(err));
}

/**
 * Runs fn (a handler or middleware: sync, promise-returning, or answering
 * later) inside `span`, and ends the span when fn returns or its promise
 * settles. The caller gets fn's own result or throw, unchanged.
 */
export function runInSpan<T>(span: Span, fn: () => T): T {
  let r: T;
  try {
    r = context.with(trace.setSpan(context.active(), span), fn);
  } catch (e) {
    failWebSpan(span, e);
    span.end();
    throw e;
  }
  const then = r !== null && typeof r === 'object' ? (r as { then?: unknown }).then : undefined;
  if (typeof then !== 'function') {
    span.end();
    return r;
  }
  // Observe the settling without handing the caller a different promise (a thenable keeps its own identity).
  (then as (ok: () => void, ko: (e: unknown) => void) => unknown).call(
    r,
    () => span.end(),
    (e: unknown) => {
      failWebSpan(span, e);
      span.end();
    },
  );
  return r;
}
