/** node:sqlite: own instrumentation. The loader compares specifiers without `node:`, import-in-the-middle needs the full name. */
import type { Definition } from '../definition';

export const sqlite: Definition = {
  name: 'sqlite',
  triggers: ['sqlite'],
  esm: ['node:sqlite'],
  source: { own: 'instrumentation.ts', export: 'SqliteInstrumentation' },
  create: (_ctx, kit) => kit.one('sqlite', 'SqliteInstrumentation', {}),
  docs: {
    module: '`node:sqlite`',
    versions: 'Node 22.5 to 25',
    spans: 'CLIENT `SELECT orders`',
    page: 'databases.md',
  },
};
