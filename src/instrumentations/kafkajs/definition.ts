/** kafkajs: upstream instrumentation-kafkajs, with producer links on batch spans. */
import type { Definition } from '../definition';

export const kafkajs: Definition = {
  name: 'kafkajs',
  triggers: ['kafkajs'],
  esm: ['kafkajs'],
  source: { upstream: '@opentelemetry/instrumentation-kafkajs', export: 'KafkaJsInstrumentation' },
  create: ({ cfg }, kit) => {
    const hooks = require('./hooks') as typeof import('./hooks');
    // Upstream's messaging metrics, with the units it leaves out (hooks.ts); before it is built.
    if (cfg.metricsExporters.length > 0) hooks.withUnits(kit.load<Record<string, unknown>>('kafkajs').KafkaJsInstrumentation);
    return kit.one('kafkajs', 'KafkaJsInstrumentation', hooks.kafkaConfig);
  },
  docs: {
    module: '`kafkajs`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'PRODUCER `send <topic>`, CONSUMER `process <topic>` / `poll <topic>`',
    page: 'kafkajs.md',
  },
};
