/** BullMQ: own instrumentation; jobs carry the adding span's context to the worker. */
import type { Definition } from '../definition';
import type { BullMQConfig } from './instrumentation';

export const bullmq: Definition = {
  name: 'bullmq',
  triggers: ['bullmq'],
  esm: ['bullmq'],
  source: { own: 'instrumentation.ts', export: 'BullMQInstrumentation' },
  create: ({ cfg }, kit) => kit.one<BullMQConfig>('bullmq', 'BullMQInstrumentation', { metrics: cfg.metricsExporters.length > 0 }),
  docs: {
    module: '`bullmq`',
    versions: 'this agent: 5.x',
    spans: 'PRODUCER `publish <queue>`, CONSUMER `process <queue>`',
    page: 'queue-tracing.md',
  },
};
