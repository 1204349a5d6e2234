/**
 * Environment variables as propagation carriers (OpenTelemetry's
 * specification/context/env-carriers.md): a field a propagator names
 * (`traceparent`, `x-b3-traceid`, `uberctx-user`) is the variable with its
 * name upper-cased and every character outside [A-Z0-9_] turned into `_`
 * (`TRACEPARENT`, `X_B3_TRACEID`, `UBERCTX_USER`), so a POSIX shell and any
 * OpenTelemetry SDK that reads the spec's names can see it.
 */
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';

export type EnvCarrier = Record<string, string | undefined>;

export function envKey(field: string): string {
  return field.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

export const envSetter: TextMapSetter<EnvCarrier> = {
  set(carrier, key, value) {
    carrier[envKey(key)] = value;
  },
};

export const envGetter: TextMapGetter<Readonly<EnvCarrier>> = {
  get(carrier, key) {
    return carrier[envKey(key)];
  },
  // Propagators that enumerate keys (Jaeger's `uberctx-*` baggage) see the header form back.
  keys(carrier) {
    return Object.keys(carrier).map((k) => k.toLowerCase().replace(/_/g, '-'));
  },
};

/**
 * Removes the carriers a copy of the parent's environment may already hold
 * (the parent may itself have been started with a TRACEPARENT), so the child
 * never gets a tracestate or baggage of another trace next to the new
 * traceparent. `fields` are the configured propagators' fields.
 */
export function clearCarriers(env: EnvCarrier, fields: readonly string[]): void {
  for (const f of fields) delete env[envKey(f)];
  for (const k of Object.keys(env)) if (k.startsWith('UBERCTX_')) delete env[k];
}
