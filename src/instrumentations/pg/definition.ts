/** PostgreSQL (pg, its native client, pg-pool): own instrumentation, built for what an unsampled query costs. */
import type { Definition } from '../definition';
import type { PgConfig } from './instrumentation';

export const pg: Definition = {
  name: 'pg',
  triggers: ['pg', 'pg-pool'],
  esm: ['pg', 'pg-pool'],
  source: { own: 'instrumentation.ts', export: 'PgInstrumentation' },
  create: ({ cfg }, kit) =>
    kit.one<PgConfig>('pg', 'PgInstrumentation', {
      // Sampling rules decide only for roots and remote parents: a local parent's decision stands.
      followsParent: cfg.sampler.name.startsWith('parentbased') || cfg.sampler.name === 'always_off',
      metrics: cfg.metricsExporters.length > 0,
    }),
  docs: {
    module: '`pg`, `pg-pool`',
    versions: 'this agent: `pg` 8.x, `pg-pool` 2.x and 3.x',
    spans: 'CLIENT `SELECT orders`, `pg.connect`, `pg-pool.connect`',
    page: 'databases.md',
  },
};
