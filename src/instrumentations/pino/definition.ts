/** pino log correlation: upstream instrumentation-pino, only when OTEL_AGENT_LOG_CORRELATION lists it. */
import type { Definition } from '../definition';

export const pino: Definition = {
  name: 'pino',
  triggers: ['pino'],
  esm: ['pino'],
  source: { upstream: '@opentelemetry/instrumentation-pino', export: 'PinoInstrumentation' },
  create: ({ cfg }, kit) =>
    cfg.agent.logCorrelation.includes('pino') ? kit.one('pino', 'PinoInstrumentation', { disableLogSending: cfg.logsExporters.length === 0 }) : [],
  docs: {
    module: '`pino`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'no spans: trace and span ids in log records',
    page: 'logs.md',
  },
};
