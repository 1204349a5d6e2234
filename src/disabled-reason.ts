import type { AgentConfig } from './env';

/**
 * Why an instrumentation is not enabled, in words that name the variable to
 * change. One function for the startup diagnostics and the doctor, so the two
 * never explain the same state differently.
 */
export function disabledReason(entry: { name: string }, cfg: AgentConfig): string {
  if (cfg.disabledInstrumentations.includes(entry.name)) return 'disabled by OTEL_NODE_DISABLED_INSTRUMENTATIONS';
  if (cfg.enabledInstrumentations && !cfg.enabledInstrumentations.includes(entry.name)) return 'not listed in OTEL_NODE_ENABLED_INSTRUMENTATIONS';
  return 'off by default (turn it on with OTEL_NODE_ENABLED_INSTRUMENTATIONS)';
}
