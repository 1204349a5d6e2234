/** MySQL and MariaDB (mysql2): own instrumentation, built for what an unsampled query costs. */
import type { Definition } from '../definition';
import type { Mysql2Config } from './instrumentation';

export const mysql2: Definition = {
  name: 'mysql2',
  triggers: ['mysql2'],
  esm: ['mysql2', 'mysql2/promise'],
  source: { own: 'instrumentation.ts', export: 'Mysql2Instrumentation' },
  create: ({ cfg }, kit) =>
    kit.one<Mysql2Config>('mysql2', 'Mysql2Instrumentation', {
      // Sampling rules decide only for roots and remote parents: a local parent's decision stands.
      followsParent: cfg.sampler.name.startsWith('parentbased') || cfg.sampler.name === 'always_off',
      metrics: cfg.metricsExporters.length > 0,
    }),
  docs: {
    module: '`mysql2`',
    versions: 'this agent: `mysql2` 3.x',
    spans: 'CLIENT `SELECT orders`',
    page: 'databases.md',
  },
};
