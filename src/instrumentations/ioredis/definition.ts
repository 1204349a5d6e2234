/** ioredis: upstream instrumentation-ioredis, shaped by shaping.ts. */
import type { Definition } from '../definition';

export const ioredis: Definition = {
  name: 'ioredis',
  triggers: ['ioredis'],
  esm: ['ioredis'],
  source: { upstream: '@opentelemetry/instrumentation-ioredis', export: 'IORedisInstrumentation' },
  // shaping.ts: span names, literal-free query text, error.type (see docs/databases.md).
  bundles: ['shaping.ts'],
  create: (_ctx, kit) => kit.load<typeof import('./shaping')>('ioredis-shaping').shape((config) => kit.one('ioredis', 'IORedisInstrumentation', config)),
  docs: {
    module: '`ioredis`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'CLIENT `SET`, only inside a traced operation',
    page: 'databases.md',
  },
};
