/** node-redis: upstream instrumentation-redis, shaped by shaping.ts. */
import type { Definition } from '../definition';

export const redis: Definition = {
  name: 'redis',
  triggers: ['redis', '@redis/client'],
  esm: ['redis', '@redis/client'],
  source: { upstream: '@opentelemetry/instrumentation-redis', export: 'RedisInstrumentation' },
  // shaping.ts: span names, literal-free query text, error.type (see docs/databases.md).
  bundles: ['shaping.ts'],
  create: (_ctx, kit) => kit.load<typeof import('./shaping')>('redis-shaping').shape((config) => kit.one('redis', 'RedisInstrumentation', config)),
  docs: {
    module: '`redis`, `@redis/client`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'CLIENT `SET`, one span per MULTI / pipeline',
    page: 'databases.md',
  },
};
