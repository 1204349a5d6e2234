/**
 * The trace context a parent process passed in the environment (TRACEPARENT,
 * TRACESTATE, BAGGAGE and the other configured propagators' variables, read
 * once at startup by src/config/index.ts), and which spans continue it.
 *
 * Only root spans (no parent in their context, not started with `root: true`)
 * ever take it, and never SERVER or CONSUMER spans: work done for a client or
 * a message belongs to that caller's trace, or to a new one.
 *
 * - `startup` (default): the window closes for good at the first SERVER or
 *   CONSUMER span (the process has started serving) or STARTUP_WINDOW_MS after
 *   the agent started, whichever comes first. A CLI, a batch step or a worker
 *   doing the job it was started for continues its parent's trace; a
 *   long-running server started by a traced process manager gets its startup
 *   (connections, migrations) into that trace and nothing after, instead of
 *   every timer and background job joining one endless trace.
 * - `process`: every root span of the process, however long it runs (a long
 *   batch job); SERVER and CONSUMER spans still never take it.
 * - `off`: the variables are ignored.
 */
import { ROOT_CONTEXT, SpanKind, trace, type SpanContext, type TextMapPropagator } from '@opentelemetry/api';
import { isSpanContextValid } from '@opentelemetry/api';
import type { AgentConfig } from './env';
import { envGetter } from './propagation/env-carrier';

export const STARTUP_WINDOW_MS = 10_000;

/** Given a new root span's kind: the parent to give it, or undefined. */
export type EnvParent = (kind: SpanKind) => SpanContext | undefined;

export function envParent(
  cfg: Pick<AgentConfig, 'envCarrier'> & { agent: Pick<AgentConfig['agent'], 'envContext'> },
  propagator: TextMapPropagator,
  now: () => number = Date.now,
): EnvParent | undefined {
  const mode = cfg.agent.envContext;
  if (mode === 'off' || Object.keys(cfg.envCarrier).length === 0) return undefined;
  let sc: SpanContext | undefined;
  try {
    sc = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, cfg.envCarrier, envGetter));
  } catch {
    return undefined; // a malformed variable is the same as none
  }
  if (!sc || !isSpanContextValid(sc)) return undefined;
  const parent: SpanContext = { ...sc, isRemote: true };
  if (mode === 'process') return (kind) => (kind === SpanKind.SERVER || kind === SpanKind.CONSUMER ? undefined : parent);
  const closesAt = now() + STARTUP_WINDOW_MS;
  let open = true;
  return (kind) => {
    if (!open) return undefined;
    if (kind === SpanKind.SERVER || kind === SpanKind.CONSUMER || now() > closesAt) {
      open = false;
      return undefined;
    }
    return parent;
  };
}
