/** node-redis: own instrumentation (instrumentation.ts), patching @redis/client. */
import type { Definition } from '../definition';
import type { RedisConfig } from '../db/redis-base';

export const redis: Definition = {
  name: 'redis',
  triggers: ['redis', '@redis/client'],
  esm: ['redis', '@redis/client'],
  source: { own: 'instrumentation.ts', export: 'RedisInstrumentation' },
  // Span names, literal-free query text and error.type: db/redis.ts (see docs/databases.md).
  create: ({ cfg }, kit) => kit.untraced(() => kit.one<RedisConfig>('redis', 'RedisInstrumentation', { metrics: cfg.metricsExporters.length > 0 })),
  docs: {
    module: '`redis`, `@redis/client`',
    versions: '`redis` 4, 5, 6 (`@redis/client` 1.x, 5.x, 6.x)',
    spans: 'CLIENT `SET`, one span per MULTI / pipeline',
    page: 'databases.md',
  },
};
