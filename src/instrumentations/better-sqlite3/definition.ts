/** better-sqlite3: own instrumentation. */
import type { Definition } from '../definition';
import type { SqliteConfig } from '../db/sqlite-wrappers';

export const betterSqlite3: Definition = {
  name: 'better-sqlite3',
  triggers: ['better-sqlite3'],
  esm: ['better-sqlite3'],
  source: { own: 'instrumentation.ts', export: 'BetterSqlite3Instrumentation' },
  create: ({ cfg }, kit) => kit.one<SqliteConfig>('better-sqlite3', 'BetterSqlite3Instrumentation', { metrics: cfg.metricsExporters.length > 0 }),
  docs: {
    module: '`better-sqlite3`',
    versions: 'this agent: 9 to 12',
    spans: 'CLIENT `SELECT orders`',
    page: 'databases.md',
  },
};
