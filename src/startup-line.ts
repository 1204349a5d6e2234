/**
 * The one info line the agent prints when it starts: version, service,
 * where spans go (without credentials), sampler, propagators, which module
 * hooks are installed and which instrumentations are on.
 */
import type { AgentConfig } from './env';
import { AGENT_VERSION } from './version';

/** Describes the exporters for the startup line: destinations without credentials, header names without values. */
export function describeExporters(cfg: AgentConfig, descriptions: string[]): string {
  if (descriptions.length === 0)
    return cfg.tracesExporters.length === 0 ? 'exporter none (OTEL_TRACES_EXPORTER=none)' : 'exporter none (set-up failed, see above)';
  const headerNames = Object.keys(cfg.otlp.headers);
  return (
    `exporter ${descriptions.join(', ')}` +
    (headerNames.length && cfg.tracesExporters.includes('otlp') ? ` (headers: ${headerNames.map((h) => `${h}=<redacted>`).join(',')})` : '')
  );
}

export function describeHooks(cjs: boolean, esm: 'sync' | 'async' | 'off', cfg: AgentConfig): string {
  if (!cjs) return 'hooks none (no instrumentation enabled)';
  const e =
    esm === 'sync'
      ? 'ESM (in-thread sync hooks)'
      : esm === 'async'
        ? 'ESM (loader thread)'
        : cfg.agent.esmHooks === 'off'
          ? 'no ESM hooks (OTEL_AGENT_ESM_HOOKS=off)'
          : 'no ESM hooks';
  return `hooks CJS (require) + ${e}`;
}

export interface StartupFacts {
  serviceName: string;
  exporters: string[];
  cjsHooks: boolean;
  esm: 'sync' | 'async' | 'off';
  enabled: readonly { name: string }[];
  all: readonly { name: string }[];
}

export function startupLine(cfg: AgentConfig, f: StartupFacts): string {
  const off = f.all.filter((e) => !f.enabled.includes(e));
  return (
    `@x/otel-agent ${AGENT_VERSION} on Node ${process.versions.node}: service "${f.serviceName}", ` +
    `${describeExporters(cfg, f.exporters)}, sampler ${cfg.sampler.name}` +
    (cfg.sampler.name.includes('ratio') ? `(${cfg.sampler.ratio})` : '') +
    // Rules decide before that sampler: say so, or the line reads as if every request were kept.
    (cfg.sampling.rules.length || cfg.sampling.dropProbes
      ? ` after ${[cfg.sampling.dropProbes ? 'the probe rule' : '', cfg.sampling.rules.length ? `${cfg.sampling.rules.length} sampling rule(s)` : ''].filter(Boolean).join(' and ')}`
      : '') +
    (cfg.sampling.tail ? ` + tail mode (errors${cfg.sampling.tail.latencyMs ? `, over ${cfg.sampling.tail.latencyMs} ms` : ''})` : '') +
    `, propagators ${cfg.propagators.join(',') || 'none'}, ${describeHooks(f.cjsHooks, f.esm, cfg)}, ` +
    `instrumentations ${f.enabled.length} of ${f.all.length} enabled` +
    (off.length ? ` (off: ${off.map((e) => e.name).join(', ')})` : '')
  );
}
