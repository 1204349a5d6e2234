/**
 * An uncaught exception, as the spans see it.
 *
 * Thrown in an async callback (pg's, fs's), the active span is usually the
 * call's own span, already ended; the request's SERVER span above it is still
 * open and would die unexported with the process. So the agent keeps a map of
 * this process's open spans (and, for a short while, which span an ended one
 * hung under), and when an exception reaches 'uncaughtExceptionMonitor':
 * - nobody handles it (the process dies): one exception event on the nearest
 *   open span from the active one up, and every open span on that path is
 *   ended with status ERROR and error.type; the exit flush then sends them;
 * - the app has an 'uncaughtException' listener (it lives on): only the event
 *   is recorded; the spans end when their work does.
 *
 * Some libraries catch what the app's callback threw and throw it again on a
 * later tick, outside the app's context (pg: `process.nextTick(() => { throw
 * err })`). So the context manager notes, in a `finally` (which keeps Node's
 * crash banner on the app's line, unlike catch-and-rethrow), the innermost
 * context a callback threw in; the note is used when no span is active at the
 * monitor, and dropped on the next turn of the event loop.
 */
import { SpanStatusCode, trace, type Context, type Span as ApiSpan } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { errorType } from './instrumentations/http-naming';

/** Open spans held: beyond this (spans an app starts and never ends) new ones are not tracked. */
const MAX_OPEN = 10_000;
/** Ended spans whose parent is remembered: enough for the calls nested inside one request. */
const MAX_ENDED = 1024;
/** A parent chain longer than this is a loop or not worth walking. */
const MAX_DEPTH = 256;

type WithParent = { parentSpanContext?: { spanId: string } };

export class OpenSpanTree implements SpanProcessor {
  private readonly open = new Map<string, Span>();
  private readonly endedParent = new Map<string, string>();

  onStart(span: Span): void {
    if (this.open.size < MAX_OPEN) this.open.set(span.spanContext().spanId, span);
  }

  onEnd(span: ReadableSpan): void {
    const id = span.spanContext().spanId;
    if (!this.open.delete(id)) return;
    const parent = (span as WithParent).parentSpanContext?.spanId;
    if (!parent) return;
    this.endedParent.set(id, parent);
    if (this.endedParent.size > MAX_ENDED) this.endedParent.delete(this.endedParent.keys().next().value as string);
  }

  /** The open spans from `span` (included, if open) up through its parents in this process. */
  unfinished(span: ApiSpan): ApiSpan[] {
    const out: ApiSpan[] = [];
    let id: string | undefined = span.spanContext().spanId;
    for (let i = 0; id && i < MAX_DEPTH; i++) {
      const s: Span | undefined = this.open.get(id);
      if (s) out.push(s);
      const next: string | undefined =
        (s as WithParent | undefined)?.parentSpanContext?.spanId ??
        this.endedParent.get(id) ??
        (i === 0 ? (span as WithParent).parentSpanContext?.spanId : undefined);
      id = next;
    }
    return out;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

let thrownIn: Context | undefined;

function noteThrownIn(ctx: Context): void {
  if (thrownIn) return; // an enclosing callback, on the same exception's way out
  thrownIn = ctx;
  setImmediate(() => {
    thrownIn = undefined;
  }).unref();
}

/** The upstream manager, with `with` noting where a callback threw (same frames as upstream's). */
export class NotingContextManager extends AsyncLocalStorageContextManager {
  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const cb = thisArg == null ? fn : fn.bind(thisArg);
    let returned = false;
    try {
      const r = (this as unknown as { _asyncLocalStorage: { run(c: Context, f: F, ...a: A): ReturnType<F> } })._asyncLocalStorage.run(ctx, cb as F, ...args);
      returned = true;
      return r;
    } finally {
      if (!returned) noteThrownIn(ctx);
    }
  }
}

/** The 'uncaughtExceptionMonitor' listener: see the top of this file. Never throws. */
export function onUncaughtException(err: unknown, tree: OpenSpanTree | undefined): void {
  try {
    const noted = thrownIn && trace.getSpan(thrownIn);
    thrownIn = undefined;
    let spans: ApiSpan[] = [];
    for (const from of [trace.getActiveSpan(), noted]) {
      if (from) spans = tree ? tree.unfinished(from) : from.isRecording() ? [from] : [];
      if (spans.length) break;
    }
    if (spans.length === 0) return;
    spans[0]!.recordException(err instanceof Error ? err : String(err));
    // Listeners other than the monitors decide that the process goes on.
    if (process.listenerCount('uncaughtException') > 0) return;
    const message = err instanceof Error ? err.message : String(err);
    const type = errorType(err);
    for (const s of spans) {
      s.setAttribute('error.type', type);
      s.setStatus({ code: SpanStatusCode.ERROR, message });
      s.end();
    }
  } catch {
    // Never interfere with the crash the app is already having.
  }
}
