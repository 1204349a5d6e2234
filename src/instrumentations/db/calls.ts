/**
 * What the agent's own database instrumentations (pg, mysql2) share on their
 * per-call path: whether a span started now could be recorded at all, and
 * running a driver's callback in its caller's context.
 *
 * Both are written for the call that will not be recorded (a query under an
 * unsampled request): the first is a few property reads, the second is only
 * used where the callback would otherwise run in another context (the
 * socket's, i.e. whichever request opened the connection).
 */
import { context, INVALID_TRACEID, TraceFlags, trace, type Context } from '@opentelemetry/api';

export type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

/**
 * True when a span started in `ctx` cannot be recorded: its parent is a local
 * span that is neither sampled nor recording, and the sampler follows a local
 * parent's decision (`followsParent`: the parentbased_* samplers, and
 * always_off, whose sampling rules only ever decide for roots and remote
 * parents). A parent that records without being sampled (local tail mode
 * records unsampled requests) goes to the tracer, as do a root, a remote
 * parent and any other sampler.
 */
export function unsampledChild(ctx: Context, followsParent: boolean): boolean {
  if (!followsParent) return false;
  const span = trace.getSpan(ctx);
  if (span === undefined) return false;
  const sc = span.spanContext();
  return (sc.traceFlags & TraceFlags.SAMPLED) === 0 && sc.isRemote !== true && sc.traceId !== INVALID_TRACEID && !span.isRecording();
}

/**
 * Calls fn in ctx. Through context.with(), not the storage directly: the
 * agent's context manager notes there which context a callback threw in, for
 * the uncaught-exception handling (exit-uncaught.ts).
 */
export function callIn(ctx: Context, fn: AnyFn, self: unknown, args: ArrayLike<unknown>): unknown {
  if (context.active() === ctx) return fn.apply(self, args as unknown[]);
  return context.with(ctx, fn, self, ...(args as unknown[]));
}

/** fn, called in ctx whatever context it is called from (the closure is the one allocation). */
export function boundTo<F extends AnyFn>(ctx: Context, fn: F): F {
  return function (this: unknown) {
    return callIn(ctx, fn, this, arguments);
  } as F;
}

/** Side-effect handlers on a promise, without changing what the caller gets (the promise itself is returned). */
export function observe(p: unknown, done: (err: unknown) => void): void {
  const then = (p as { then?: unknown } | null | undefined)?.then;
  if (typeof then !== 'function') return;
  // The derived promise handles its own rejection: the caller's promise keeps its
  // unhandled-rejection semantics, exactly as without the agent.
  (then as (a: (v: unknown) => void, b: (e: unknown) => void) => unknown).call(
    p,
    () => done(undefined),
    (e: unknown) => done(e === undefined ? new Error('rejected') : e),
  );
}
