// The variable table of docs/configuration.md is generated from the one spec of
// variables, src/config/spec.ts (as VARS, re-exported by src/env.ts and built into
// dist/env-table.cjs: run `npm run build` first), so the docs cannot drift from
// what the code reads. `--write` updates
// docs/configuration.md between the VARS markers; without it, the table is
// printed. test/core/readme.unit.test.ts checks they agree.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { VARS } = require('../dist/env-table.cjs');
const esc = (s) => String(s).replace(/\|/g, '\\|');

export function table() {
  const rows = VARS.map((v) => `| \`${v.name}\` | ${esc(v.default)} | ${esc(v.effect)} |`);
  return ['| Variable | Default | Effect |', '|---|---|---|', ...rows].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--write')) {
    const p = new URL('../docs/configuration.md', import.meta.url);
    const md = readFileSync(p, 'utf8');
    if (!md.includes('<!-- VARS:START -->') || !md.includes('<!-- VARS:END -->')) throw new Error(`no VARS markers in ${fileURLToPath(p)}`);
    const out = md.replace(/(<!-- VARS:START -->)[\s\S]*?(<!-- VARS:END -->)/, `$1\n${table()}\n$2`);
    writeFileSync(p, out);
  } else {
    console.log(table());
  }
}
