/** BullMQ: own instrumentation; jobs carry the adding span's context to the worker. */
import type { Definition } from '../definition';

export const bullmq: Definition = {
  name: 'bullmq',
  triggers: ['bullmq'],
  esm: ['bullmq'],
  source: { own: 'instrumentation.ts', export: 'BullMQInstrumentation' },
  create: (_ctx, kit) => kit.one('bullmq', 'BullMQInstrumentation', {}),
  docs: {
    module: '`bullmq`',
    versions: 'this agent: 5.x',
    spans: 'PRODUCER `publish <queue>`, CONSUMER `process <queue>`',
    page: 'queue-tracing.md',
  },
};
