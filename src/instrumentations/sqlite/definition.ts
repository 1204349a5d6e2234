/** node:sqlite: own instrumentation. The loader compares specifiers without `node:`, import-in-the-middle needs the full name. */
import type { Definition } from '../definition';
import type { SqliteConfig } from '../db/sqlite-wrappers';

export const sqlite: Definition = {
  name: 'sqlite',
  triggers: ['sqlite'],
  esm: ['node:sqlite'],
  source: { own: 'instrumentation.ts', export: 'SqliteInstrumentation' },
  create: ({ cfg }, kit) => kit.one<SqliteConfig>('sqlite', 'SqliteInstrumentation', { metrics: cfg.metricsExporters.length > 0 }),
  docs: {
    module: '`node:sqlite`',
    versions: 'Node 22.5 to 25',
    spans: 'CLIENT `SELECT orders`',
    page: 'databases.md',
  },
};
