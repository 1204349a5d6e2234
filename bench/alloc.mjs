// What a request allocates on the JS heap, by the function that allocated it, with and
// without the agent: a measure that, unlike CPU time on a shared VM, comes out the same
// run after run (within a few percent), so that a change of a few hundred bytes a request
// can be seen. Allocation is also what the garbage collector's share of the agent's cost
// follows.
//
//   node bench/alloc.mjs [--app=hello|express-pg] [--rate=N] [--seconds=S]
//                        [--dist=dist] [--env=K=V,K=V] [--top=N]
//
// Runs the app twice at a fixed request rate (autocannon, 32 connections): bare node, then
// with the agent from --dist with the given environment (default: sampler always_off, no
// exporter: what an unsampled request pays). Each run samples every allocation between
// the app's "mark" and "stats" (V8's sampling heap profiler with the objects the GC
// already collected included, one sample per 512 bytes) and counts the requests served.
// Prints bytes per request in all, and the functions whose allocations differ the most.
// Inlining moves allocations between a function and its caller, so read pairs such as
// Readable / parserOnHeadersComplete together. Nothing here is asserted anywhere.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseEnv, startProc } from './lib.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
const require = createRequire(join(ROOT, 'package.json'));
const autocannon = require('autocannon');

const argv = process.argv.slice(2);
const opt = (name, def) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const app = opt('app', 'hello');
const rate = Number(opt('rate', 4000));
const seconds = Number(opt('seconds', 6));
const top = Number(opt('top', 20));
const dist = resolve(ROOT, opt('dist', 'dist'));
const env = Object.fromEntries(
  opt('env', 'OTEL_TRACES_SAMPLER=always_off,OTEL_TRACES_EXPORTER=none')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

// Loaded first in the app's process: starts sampling at "mark", hands the profile over at "stats".
const SAMPLER = `
const s = new (require('node:inspector').Session)();
s.connect();
s.post('HeapProfiler.enable');
process.stdin.on('data', (d) => {
  const t = String(d);
  if (t.includes('mark')) s.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  // Synchronous (an in-process session answers at once), and before the app's own listener prints STATS.
  if (t.includes('stats')) s.post('HeapProfiler.stopSampling', (e, r) => { if (!e) require('node:fs').writeFileSync(process.env.ALLOC_PROFILE, JSON.stringify(r.profile)); });
});`;

const tmp = mkdtempSync(join(tmpdir(), 'alloc-'));
const samplerFile = join(tmp, 'sampler.cjs');
const profileFile = join(tmp, 'profile.json');
writeFileSync(samplerFile, SAMPLER);

async function run(withAgent) {
  const args = ['--require', samplerFile];
  if (withAgent) args.push('--require', join(dist, 'register.cjs'));
  args.push(join(BENCH, 'apps', app === 'hello' ? 'server.cjs' : `${app}.cjs`), ...(app === 'hello' ? ['hello'] : []));
  const agentEnv = withAgent ? { OTEL_SERVICE_NAME: 'bench', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', ...env } : {};
  const p = startProc(process.execPath, args, { cwd: ROOT, env: baseEnv({ ALLOC_PROFILE: profileFile, ...agentEnv }) });
  const port = Number((await p.line('READY')).split(' ')[1]);
  const url = `http://127.0.0.1:${port}${app === 'express-pg' ? '/users/42' : '/'}`;
  const load = (duration) => new Promise((r) => autocannon({ url, connections: 32, duration, overallRate: rate }, r));
  await load(3); // warm-up: the JIT and the heap settle
  p.send('mark');
  await p.line('OK');
  await load(seconds);
  p.send('stats');
  const stats = JSON.parse((await p.line('STATS')).slice(6));
  await p.stop();
  const profile = JSON.parse(readFileSync(profileFile, 'utf8'));
  return { requests: stats.requests, byFunction: byFunction(profile) };
}

/** Bytes allocated by each function (self), from a sampling heap profile. */
function byFunction(profile) {
  const m = new Map();
  const walk = (n) => {
    if (n.selfSize) {
      const f = n.callFrame;
      const file = (f.url || '')
        .replace(/^file:\/\//, '')
        .split('/')
        .slice(-2)
        .join('/');
      const k = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
      m.set(k, (m.get(k) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  return m;
}

const bare = await run(false);
const agent = await run(true);
rmSync(tmp, { recursive: true, force: true });
const per = (r) => new Map([...r.byFunction].map(([k, v]) => [k, v / r.requests]));
const b = per(bare);
const a = per(agent);
const total = (m) => [...m.values()].reduce((x, y) => x + y, 0);
const rows = [...new Set([...b.keys(), ...a.keys()])]
  .map((k) => [k, (a.get(k) ?? 0) - (b.get(k) ?? 0), b.get(k) ?? 0, a.get(k) ?? 0])
  .sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]))
  .slice(0, top);
console.log(`app ${app}, ${rate} req/s for ${seconds} s; agent env ${JSON.stringify(env)} from ${dist}`);
console.log(
  `bare node: ${total(b).toFixed(0)} B a request (${bare.requests} requests); with the agent: ${total(a).toFixed(0)} B (${agent.requests} requests)\n`,
);
console.log('| function | difference B/request | bare | agent |');
console.log('|---|---:|---:|---:|');
for (const [k, d, x, y] of rows) console.log(`| \`${k}\` | ${d >= 0 ? '+' : ''}${d.toFixed(0)} | ${x.toFixed(0)} | ${y.toFixed(0)} |`);
