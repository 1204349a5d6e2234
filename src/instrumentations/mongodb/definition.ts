/** MongoDB: upstream instrumentation-mongodb, shaped by shaping.ts. */
import type { Definition } from '../definition';

export const mongodb: Definition = {
  name: 'mongodb',
  triggers: ['mongodb'],
  esm: ['mongodb'],
  source: { upstream: '@opentelemetry/instrumentation-mongodb', export: 'MongoDBInstrumentation' },
  // shaping.ts: span names, literal-free query text, error.type, db.client.operation.duration (see docs/databases.md).
  bundles: ['shaping.ts'],
  create: ({ cfg }, kit) =>
    kit
      .load<typeof import('./shaping')>('mongodb-shaping')
      .shape((config) => kit.one('mongodb', 'MongoDBInstrumentation', config), { metrics: cfg.metricsExporters.length > 0 }),
  docs: {
    module: '`mongodb`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'CLIENT `find orders`',
    page: 'databases.md',
  },
};
