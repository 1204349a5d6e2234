// The "what is traced" table of docs/instrumentations.md is generated from the
// registry (src/instrumentations/registry.ts: each folder's definition.ts), so
// the docs cannot drift from what the agent instruments. `--write` updates the
// page between the INSTRUMENTATIONS markers; without it, the table is printed.
// test/core/registry.unit.test.ts checks they agree.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(ROOT, `.instrumentations-table-${process.pid}.cjs`);
await build({
  stdin: {
    contents:
      "export { DEFINITIONS } from './src/instrumentations/registry';\nexport { instrumentationsTable, withTable } from './src/instrumentations/docs-table';\n",
    resolveDir: ROOT,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  outfile: out,
  logLevel: 'error',
});
let mod;
try {
  mod = createRequire(import.meta.url)(out);
} finally {
  rmSync(out, { force: true });
}
const table = mod.instrumentationsTable(mod.DEFINITIONS);
if (process.argv.includes('--write')) {
  const p = join(ROOT, 'docs/instrumentations.md');
  writeFileSync(p, mod.withTable(readFileSync(p, 'utf8'), table));
} else {
  console.log(table);
}
