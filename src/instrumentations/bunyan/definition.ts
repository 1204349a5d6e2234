/** bunyan log correlation: upstream instrumentation-bunyan, only when OTEL_AGENT_LOG_CORRELATION lists it. */
import type { Definition } from '../definition';

export const bunyan: Definition = {
  name: 'bunyan',
  triggers: ['bunyan'],
  esm: ['bunyan'],
  source: { upstream: '@opentelemetry/instrumentation-bunyan', export: 'BunyanInstrumentation' },
  create: ({ cfg }, kit) =>
    cfg.agent.logCorrelation.includes('bunyan') ? kit.one('bunyan', 'BunyanInstrumentation', { disableLogSending: cfg.logsExporters.length === 0 }) : [],
  docs: {
    module: '`bunyan`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'no spans: trace and span ids in log records',
    page: 'logs.md',
  },
};
