// How much of a V8 CPU profile (node --cpu-prof) the agent's code took,
// including the Node builtins and native code it called: each sample is
// charged to the innermost frame that is neither Node's own nor native; a
// sample is the agent's when that frame is in the agent's bundles (a dist/
// directory outside node_modules). Samples taken while a module was being
// loaded (the agent's own startup, the app's requires) are left out. Divided
// by a count (--per=N, e.g. the queries the profiled process ran) it is a
// cost per operation.
//
//   node bench/profile-agent.mjs PROFILE.cpuprofile [--per=N] [--match=REGEX] [--under=REGEX]
//
// --match: the frames counted as the agent's; prints the top functions among them.
// --under: only samples with a frame matching this in their stack (e.g. `instr/pg\.cjs`: what
// one instrumentation costs, with the tracer and context calls it makes).
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) throw new Error('usage: node bench/profile-agent.mjs PROFILE.cpuprofile [--per=N] [--match=REGEX]');
const opt = (name) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const per = Number(opt('per') ?? 0);
const under = opt('under') ? new RegExp(opt('under')) : undefined;
const agent = new RegExp(opt('match') ?? '^(?!.*node_modules).*[\\\\/]dist[^\\\\/]*[\\\\/]');

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const isNode = (url) => !url || url.startsWith('node:');
let total = 0;
let mine = 0;
const fns = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  let id = profile.samples[i];
  const leaf = byId.get(id);
  if (leaf.callFrame.functionName === '(idle)') continue;
  total += dt;
  let loading = false;
  let inside = !under;
  for (let up = id; up !== undefined; up = parent.get(up)) {
    const url = byId.get(up).callFrame.url;
    if (url.startsWith('node:internal/modules/')) loading = true;
    if (under && under.test(url)) inside = true;
  }
  if (loading || !inside) continue;
  // Innermost frame that is application or library code.
  while (id !== undefined && isNode(byId.get(id).callFrame.url)) id = parent.get(id);
  if (id === undefined) continue;
  const cf = byId.get(id).callFrame;
  if (!agent.test(cf.url)) continue;
  mine += dt;
  const k = `${cf.functionName || '(anonymous)'} ${cf.url.split(/[\\/]/).slice(-2).join('/')}:${cf.lineNumber + 1}`;
  fns.set(k, (fns.get(k) ?? 0) + dt);
}
const ms = (us) => (us / 1000).toFixed(1);
console.log(`agent code (with what it called in Node): ${ms(mine)} ms of ${ms(total)} ms busy (${((100 * mine) / total).toFixed(1)}%)`);
if (per) console.log(`per operation (${per}): ${((mine * 1000) / per).toFixed(0)} ns`);
console.log('\n| function | ms |\n|---|---:|');
for (const [k, t] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(opt('top') ?? 15))) console.log(`| ${k} | ${ms(t)} |`);
