/**
 * A request handler that throws synchronously, without the agent becoming
 * the place the app's crash is reported from.
 *
 * Node's crash banner (`file:line`, the source line and the caret) names the
 * last `throw` the exception went through. A `catch (e) { ...; throw e }`
 * around the app's handler makes that the agent's rethrow; a `finally` does
 * not (V8 rethrows with the original location). So the patched emit only
 * notes, in its `finally`, which exchange was being handled when something
 * threw, and the exception itself is picked up by an 'uncaughtExceptionMonitor'
 * listener (which observes without handling) once it has left the app's
 * stack:
 * - nobody handles it: the process dies, the SERVER span is ended with the
 *   exception (ERROR, exception event, error.type), and the exit flush sends it;
 * - the app has an 'uncaughtException' handler and lives on: the exception is
 *   recorded as an event on the span, and the request ends as it ends;
 * - something above the server's emit caught it (no uncaught exception): the
 *   note is dropped on the next turn of the event loop, and the request ends
 *   as it ends.
 */
import type { Span } from '@opentelemetry/api';

export interface ThrownIn {
  /** Whether the exchange still has an open span. */
  open(): boolean;
  span(): Span | undefined;
  /** Ends the exchange with this exception. */
  end(err: unknown): void;
}

let last: ThrownIn | undefined;
let listening = false;

function onUncaught(err: unknown): void {
  const t = last;
  last = undefined;
  if (!t) return;
  try {
    if (!t.open()) return;
    // Listeners other than the monitors decide that the process goes on.
    if (process.listenerCount('uncaughtException') > 0) {
      const span = t.span();
      if (span?.isRecording()) span.recordException(err instanceof Error ? err : String(err));
      return;
    }
    t.end(err);
  } catch {
    // The app is already crashing; nothing of ours may add to it.
  }
}

/** Called from the patched emit's `finally` when the app's handler threw. */
export function noteThrow(t: ThrownIn): void {
  last = t;
  if (!listening) {
    listening = true;
    process.on('uncaughtExceptionMonitor', onUncaught);
  }
  // Runs only if the process survived the exception and nothing took the note.
  setImmediate(() => {
    if (last === t) last = undefined;
  }).unref();
}
