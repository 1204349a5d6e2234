// `npm test` entry: picks a Node >= 22.15 (installing one from the npm registry
// when the system node is older), makes sure the build and native test addons
// match it, then runs vitest under it. `--node 22|24` selects the major;
// OTEL_AGENT_TEST_NODE does the same from the environment.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, ensureNode, ensureNativeAddons } from './node-runtime.mjs';

const args = process.argv.slice(2);
let major = process.env.OTEL_AGENT_TEST_NODE || '';
const i = args.indexOf('--node');
if (i >= 0) { major = args[i + 1]; args.splice(i, 2); }
const mode = args[0] === '--bench' ? 'bench' : args[0] === '--soak' ? 'soak' : 'test';
if (mode !== 'test') args.shift();

const node = ensureNode(major);
console.error(`[test] using node ${node.version} (${node.bin})`);
if (!existsSync(join(ROOT, 'dist', 'register.cjs'))) {
  const b = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
const env = { ...process.env, PATH: `${join(node.bin, '..')}:${process.env.PATH}` };
let cmd;
if (mode === 'bench') cmd = [join(ROOT, 'bench', 'run.mjs'), ...args];
else if (mode === 'soak') cmd = [join(ROOT, 'bench', 'soak.mjs'), ...args];
else {
  ensureNativeAddons(node);
  cmd = [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args];
}
const r = spawnSync(node.bin, cmd, { cwd: ROOT, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
