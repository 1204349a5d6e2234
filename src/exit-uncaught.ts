/**
 * An uncaught exception, as the spans see it.
 *
 * Thrown in an async callback (pg's, fs's), the active span is usually the
 * call's own span, already ended; the request's SERVER span above it is still
 * open and would die unexported with the process. So each span knows the
 * local span it was started under, and when an exception reaches
 * 'uncaughtExceptionMonitor':
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
import { SpanKind, SpanStatusCode, trace, type Context, type Span as ApiSpan } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { errorType, serverSpanName } from './instrumentations/http-naming';

/** A parent chain longer than this is a loop or not worth walking. */
const MAX_DEPTH = 256;

type Linked = ApiSpan & { localParent?: Linked; ended?: boolean };

/**
 * The open spans of the request an exception belongs to. Each of the agent's
 * recording spans links to the local span it was started under
 * (`RecordingSpan.localParent`, set by the tracer), so nothing is kept per
 * span for this: an earlier version held every open span in a map and every
 * ended one's parent in another, about 1.4 µs per sampled span for a path
 * that runs once, when the process crashes.
 */
export class OpenSpanTree {
  /** The open spans from `span` (included, if open) up through its parents in this process. */
  unfinished(span: ApiSpan): ApiSpan[] {
    const out: ApiSpan[] = [];
    let s: Linked | undefined = span as Linked;
    for (let i = 0; s && i < MAX_DEPTH; i++, s = s.localParent) {
      if (s.ended === false || (s.ended === undefined && s.isRecording())) out.push(s);
    }
    return out;
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

/**
 * A SERVER span the HTTP instrumentations would have named when the response
 * ended (they guess a name from the path only then, when no route was told)
 * gets that guess here: `GET /orders/:id`, not a bare `GET`.
 */
function nameByPath(s: ApiSpan): void {
  const r = s as ApiSpan & { kind?: SpanKind; name?: string; attributes?: Record<string, unknown> };
  const path = r.attributes?.['url.path'];
  const method = r.attributes?.['http.request.method'];
  if (r.kind !== SpanKind.SERVER || typeof path !== 'string' || typeof method !== 'string' || r.name !== method) return;
  s.updateName(serverSpanName(method, path));
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
      nameByPath(s);
      s.setAttribute('error.type', type);
      s.setStatus({ code: SpanStatusCode.ERROR, message });
      s.end();
    }
  } catch {
    // Never interfere with the crash the app is already having.
  }
}
