/** PostgreSQL (pg, pg-pool): upstream instrumentation-pg, shaped by shaping.ts. */
import type { Definition } from '../definition';

export const pg: Definition = {
  name: 'pg',
  triggers: ['pg', 'pg-pool'],
  esm: ['pg', 'pg-pool'],
  source: { upstream: '@opentelemetry/instrumentation-pg', export: 'PgInstrumentation' },
  // shaping.ts: span names, literal-free query text, error.type (see docs/databases.md).
  bundles: ['shaping.ts'],
  create: (_ctx, kit) => kit.load<typeof import('./shaping')>('pg-shaping').shape((config) => kit.one('pg', 'PgInstrumentation', config)),
  docs: {
    module: '`pg`, `pg-pool`',
    versions: 'the upstream package (`otel-agent doctor` shows them)',
    spans: 'CLIENT `SELECT orders`',
    page: 'databases.md',
  },
};
