/** better-sqlite3: own instrumentation. */
import type { Definition } from '../definition';

export const betterSqlite3: Definition = {
  name: 'better-sqlite3',
  triggers: ['better-sqlite3'],
  esm: ['better-sqlite3'],
  source: { own: 'instrumentation.ts', export: 'BetterSqlite3Instrumentation' },
  create: (_ctx, kit) => kit.one('better-sqlite3', 'BetterSqlite3Instrumentation', {}),
  docs: {
    module: '`better-sqlite3`',
    versions: 'this agent: 9 to 12',
    spans: 'CLIENT `SELECT orders`',
    page: 'databases.md',
  },
};
