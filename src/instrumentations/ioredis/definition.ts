/** ioredis: own instrumentation (instrumentation.ts). */
import type { Definition } from '../definition';
import type { RedisConfig } from '../db/redis-base';

export const ioredis: Definition = {
  name: 'ioredis',
  triggers: ['ioredis'],
  esm: ['ioredis'],
  source: { own: 'instrumentation.ts', export: 'IORedisInstrumentation' },
  // Span names, literal-free query text and error.type: db/redis.ts (see docs/databases.md).
  create: ({ cfg }, kit) => kit.untraced(() => kit.one<RedisConfig>('ioredis', 'IORedisInstrumentation', { metrics: cfg.metricsExporters.length > 0 })),
  docs: {
    module: '`ioredis`',
    versions: '5.x, 6.x',
    spans: 'CLIENT `SET`, only inside a traced operation',
    page: 'databases.md',
  },
};
