// Summarises a V8 CPU profile (node --cpu-prof) by who owns the code: the
// package or source file each sampled function came from, with the agent's
// bundles mapped back to their inputs through esbuild's `// path` markers.
//
//   node bench/profile.mjs PROFILE.cpuprofile [--top=N] [--functions=N]
//
// Prints two markdown tables: self time per owner, and the top functions.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) throw new Error('usage: node bench/profile.mjs PROFILE.cpuprofile [--top=N] [--functions=N]');
const num = (name, def) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const TOP = num('top', 20);
const FUNCS = num('functions', 25);

const profile = JSON.parse(readFileSync(file, 'utf8'));

/** For a bundle: sorted [line, inputPath] from esbuild's `// node_modules/...` / `// src/...` comments. */
const bundles = new Map();
function bundleMap(url) {
  if (bundles.has(url)) return bundles.get(url);
  let map = null;
  try {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    if (/[\\/]dist[\\/].*\.cjs$/.test(path)) {
      map = [];
      readFileSync(path, 'utf8')
        .split('\n')
        .forEach((l, i) => {
          const m = /^\/\/ ((?:node_modules|src)\/\S+)$/.exec(l);
          if (m) map.push([i, m[1]]);
        });
    }
  } catch {
    map = null;
  }
  bundles.set(url, map);
  return map;
}

function owner(cf) {
  const url = cf.url;
  if (!url) {
    const n = cf.functionName;
    if (n === '(garbage collector)') return 'V8: garbage collector';
    if (n === '(idle)') return '(idle)';
    if (n === '(program)') return 'V8: (program)';
    return 'native (syscalls, builtins)';
  }
  if (url.startsWith('node:'))
    return (
      'node: ' +
      url
        .slice(5)
        .split('/')[0]
        .replace(/^internal$/, 'internal')
    );
  const map = bundleMap(url);
  if (map && map.length) {
    let input = map[0][1];
    for (const [line, p] of map) {
      if (line > cf.lineNumber) break;
      input = p;
    }
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    return pkg ? pkg[1] : input;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/');
}

const selfTime = new Map();
for (let i = 0; i < profile.samples.length; i++) selfTime.set(profile.samples[i], (selfTime.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));

const byOwner = new Map();
const byFn = new Map();
let total = 0;
let idle = 0;
for (const n of profile.nodes) {
  const t = selfTime.get(n.id) ?? 0;
  if (!t) continue;
  const o = owner(n.callFrame);
  if (o === '(idle)') {
    idle += t;
    continue;
  }
  total += t;
  byOwner.set(o, (byOwner.get(o) ?? 0) + t);
  const fn = `${n.callFrame.functionName || '(anonymous)'} — ${o}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + t);
}

const ms = (t) => (t / 1000).toFixed(0);
const pct = (t) => ((100 * t) / total).toFixed(1) + '%';
const rows = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);

console.log(`${ms(total)} ms sampled outside idle (${ms(idle)} ms idle)\n`);
console.log('| owner (self time) | ms | share |\n|---|---:|---:|');
for (const [k, t] of rows(byOwner, TOP)) console.log(`| ${k} | ${ms(t)} | ${pct(t)} |`);
console.log('\n| function | ms | share |\n|---|---:|---:|');
for (const [k, t] of rows(byFn, FUNCS)) console.log(`| ${k} | ${ms(t)} | ${pct(t)} |`);
