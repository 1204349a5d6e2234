/** MySQL and MariaDB (mysql2): upstream instrumentation-mysql2, shaped by shaping.ts. */
import type { Definition } from '../definition';

export const mysql2: Definition = {
  name: 'mysql2',
  triggers: ['mysql2'],
  esm: ['mysql2', 'mysql2/promise'],
  source: { upstream: '@opentelemetry/instrumentation-mysql2', export: 'MySQL2Instrumentation' },
  // shaping.ts: span names, literal-free query text, error.type (see docs/databases.md).
  bundles: ['shaping.ts'],
  create: (_ctx, kit) => kit.load<typeof import('./shaping')>('mysql2-shaping').shape((config) => kit.one('mysql2', 'MySQL2Instrumentation', config)),
  docs: {
    module: '`mysql2`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'CLIENT `SELECT orders`',
    page: 'databases.md',
  },
};
