// `npm test` entry: picks a Node >= 22.15 (installing one from the npm registry
// when the system node is older), makes sure the build and native test addons
// match it, then runs vitest under it. `--node 22|24` selects the major;
// OTEL_AGENT_TEST_NODE does the same from the environment.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, ensureNode, ensureNativeAddons } from './node-runtime.mjs';

const args = process.argv.slice(2);
let major = process.env.OTEL_AGENT_TEST_NODE || '';
const i = args.indexOf('--node');
if (i >= 0) {
  major = args[i + 1];
  args.splice(i, 2);
}
const mode = args[0] === '--bench' ? 'bench' : args[0] === '--soak' ? 'soak' : 'test';
if (mode !== 'test') args.shift();

const node = ensureNode(major);
const RESULT = join(ROOT, '.cache', `vitest-node${node.version.split('.')[0]}.json`);
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
  cmd = [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${RESULT}`, ...args];
}
rmSync(RESULT, { force: true });
const r = spawnSync(node.bin, cmd, { cwd: ROOT, env, stdio: 'inherit' });
if (mode === 'test') {
  // One plain closing line with the counts, whatever the runner's own formatting.
  try {
    const j = JSON.parse(readFileSync(RESULT, 'utf8'));
    console.log(
      `node${node.version.split('.')[0]}: ${j.numPassedTests} passed, ${j.numFailedTests} failed, ${j.numPendingTests + (j.numTodoTests ?? 0)} skipped`,
    );
  } catch {
    console.log(`node${node.version.split('.')[0]}: no test results were written`);
  }
}
process.exit(r.status ?? 1);
