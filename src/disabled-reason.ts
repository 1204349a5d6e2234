import type { AgentConfig } from './env';

/**
 * Why an instrumentation is not enabled, in words that name the variable to
 * change. One function for the startup diagnostics and the doctor, so the two
 * never explain the same state differently. Every instrumentation is on unless
 * one of the two lists says otherwise.
 */
export function disabledReason(entry: { name: string }, cfg: AgentConfig): string {
  if (cfg.disabledInstrumentations.includes(entry.name)) return 'disabled by OTEL_NODE_DISABLED_INSTRUMENTATIONS';
  return 'not listed in OTEL_NODE_ENABLED_INSTRUMENTATIONS';
}
