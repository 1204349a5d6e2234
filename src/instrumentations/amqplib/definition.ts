/** RabbitMQ (amqplib): upstream instrumentation-amqplib, with current messaging names (hooks.ts). */
import type { Definition } from '../definition';

export const amqplib: Definition = {
  name: 'amqplib',
  triggers: ['amqplib'],
  esm: ['amqplib'],
  source: { upstream: '@opentelemetry/instrumentation-amqplib', export: 'AmqplibInstrumentation' },
  create: ({ cfg }, kit) => {
    const hooks = require('./hooks') as typeof import('./hooks');
    return kit.one('amqplib', 'AmqplibInstrumentation', cfg.metricsExporters.length > 0 ? hooks.withMetrics() : hooks.amqplibConfig);
  },
  docs: {
    module: '`amqplib`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'PRODUCER `publish <exchange>`, CONSUMER `process <queue>`',
    page: 'rabbitmq.md',
  },
};
