/** winston log correlation: upstream instrumentation-winston, only when OTEL_AGENT_LOG_CORRELATION lists it. */
import type { Definition } from '../definition';

export const winston: Definition = {
  name: 'winston',
  triggers: ['winston'],
  esm: ['winston'],
  // Its ESM build calls createRequire(import.meta.url), which is undefined once bundled
  // to CommonJS; its CommonJS build (what require() loads) does not.
  source: { upstream: '@opentelemetry/instrumentation-winston', export: 'WinstonInstrumentation', commonjs: true },
  create: ({ cfg }, kit) =>
    cfg.agent.logCorrelation.includes('winston') ? kit.one('winston', 'WinstonInstrumentation', { disableLogSending: cfg.logsExporters.length === 0 }) : [],
  docs: {
    module: '`winston`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'no spans: trace and span ids in log records',
    page: 'logs.md',
  },
};
