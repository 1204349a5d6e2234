/** kafkajs: upstream instrumentation-kafkajs, with producer links on batch spans. */
import type { Definition } from '../definition';

export const kafkajs: Definition = {
  name: 'kafkajs',
  triggers: ['kafkajs'],
  esm: ['kafkajs'],
  source: { upstream: '@opentelemetry/instrumentation-kafkajs', export: 'KafkaJsInstrumentation' },
  create: (_ctx, kit) => kit.one('kafkajs', 'KafkaJsInstrumentation', (require('./hooks') as typeof import('./hooks')).kafkaConfig),
  docs: {
    module: '`kafkajs`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'PRODUCER `send <topic>`, CONSUMER `process <topic>` / `poll <topic>`',
    page: 'kafkajs.md',
  },
};
