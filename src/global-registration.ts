/**
 * Registers the agent's context manager, propagator and tracer provider as
 * the OpenTelemetry API's globals, and says precisely who got there first
 * when another OpenTelemetry setup in the process already holds one.
 */
import { context, propagation, trace, type TracerProvider } from '@opentelemetry/api';
import { NotingContextManager } from './exit-uncaught';
import type { AgentConfig } from './env';
import { buildPropagator } from './propagators';

type GlobalKind = 'trace' | 'context' | 'propagation';

/**
 * True when another copy of the API already holds this global. Checked before
 * registering, so the user gets our one precise line instead of the API's
 * generic "duplicate registration" error followed by ours.
 */
export function globalTaken(kind: GlobalKind): boolean {
  const g = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[Symbol.for('opentelemetry.js.api.1')];
  return !!g && g[kind] !== undefined;
}

/** Who owns the global OpenTelemetry API slot `kind`, for a precise conflict message. */
export function globalOwner(kind: GlobalKind): string {
  const g = (globalThis as Record<symbol, unknown>)[Symbol.for('opentelemetry.js.api.1')] as
    { version?: string; trace?: { getDelegate?: () => unknown }; [k: string]: unknown } | undefined;
  if (!g) return 'an unknown copy of @opentelemetry/api';
  const api = `@opentelemetry/api ${g.version ?? '(unknown version)'}`;
  if (kind !== 'trace') {
    const inst = g[kind] as object | undefined;
    return inst ? `${inst.constructor?.name ?? 'unknown'} via ${api}` : api;
  }
  try {
    const delegate = g.trace?.getDelegate?.() as object | undefined;
    const name = delegate?.constructor?.name;
    if (name) return `${name} via ${api}`;
  } catch {
    /* fall through to the generic description */
  }
  return `via ${api}`;
}

/** Registers the three globals; `conflict` gets one message per global another setup holds. */
export function registerGlobals(cfg: AgentConfig, provider: TracerProvider, conflict: (msg: string) => void): void {
  const cm = new NotingContextManager().enable();
  if (globalTaken('context') || !context.setGlobalContextManager(cm)) {
    conflict(
      `another OpenTelemetry setup registered the global context manager first (${globalOwner('context')}); ` +
        'spans may not connect into traces. Load one OpenTelemetry SDK per process: remove the other setup, or set OTEL_SDK_DISABLED=true for this agent',
    );
  }
  if (globalTaken('propagation') || !propagation.setGlobalPropagator(buildPropagator(cfg.propagators))) {
    conflict(`another OpenTelemetry setup registered the global propagator first (${globalOwner('propagation')}); OTEL_PROPAGATORS is not applied`);
  }
  if (globalTaken('trace') || !trace.setGlobalTracerProvider(provider)) {
    conflict(
      `another OpenTelemetry SDK registered the global tracer provider first (${globalOwner('trace')}); ` +
        "the instrumentations' and the app's spans go to that SDK, not to this agent's exporters. " +
        'Load one OpenTelemetry SDK per process: remove the other setup, or set OTEL_SDK_DISABLED=true for this agent',
    );
  }
}
