// Soak test: the reliability fixture app (test/fixtures/reliability/server.cjs)
// with the agent, 100% sampling, exporting to the bench sink, under full
// concurrency for --seconds. Checks what a long run can show and a short test
// cannot: memory flat after warm-up, no growth in active handles, every
// request answered correctly.
//
//   node bench/soak.mjs [--seconds 300] [--connections 64] [--json]
//   npm run soak -- --seconds 300
//
// Prints a summary (and with --json one `SOAK {...}` line); exits 1 when a
// criterion fails. Memory and the handle trend are judged only on runs of 60 s
// or more: a shorter run has no "after warm-up" worth the name.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import autocannon from 'autocannon';
import { baseEnv, startProc, sleep } from './lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const seconds = Number(arg('seconds', '300'));
const connections = Number(arg('connections', '64'));
const json = process.argv.includes('--json');
if (!(seconds > 0) || !(connections > 0)) throw new Error('--seconds and --connections must be positive numbers');

const WORK = '/work/7?hop=1';
const EXPECTED = JSON.stringify({ id: 7, square: 49 });
const MiB = 1024 * 1024;

function getJson(port, path, method = 'GET') {
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, timeout: 30_000 }, (r) => {
      let b = '';
      r.setEncoding('utf8');
      r.on('data', (d) => (b += d));
      r.on('end', () => {
        try {
          res(JSON.parse(b));
        } catch (e) {
          rej(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer`)));
    req.on('error', rej);
    req.end();
  });
}

const handles = (resources) => Object.values(resources).reduce((a, b) => a + b, 0);

const children = [];
// Whatever happens here, the sink and the app do not outlive the soak.
process.on('exit', () => {
  for (const c of children) if (!c.exited) c.child.kill('SIGKILL');
});
const sink = startProc(process.execPath, [join(ROOT, 'bench/sink.mjs')], { env: baseEnv() });
children.push(sink);
const [, upPort] = (await sink.line('READY')).split(' ').map(Number);
const app = startProc(process.execPath, ['--expose-gc', '--import', '@x/otel-agent', join(ROOT, 'test/fixtures/reliability/server.cjs')], {
  cwd: ROOT,
  env: baseEnv({
    OTEL_SERVICE_NAME: 'soak',
    OTEL_TRACES_SAMPLER: 'always_on',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${upPort}`,
  }),
});
children.push(app);
const port = Number((await app.line('READY')).split(' ')[1]);

const samples = [];
const t0 = Date.now();
async function sample(phase) {
  // The fixture runs a full GC (--expose-gc) before it reads memory: heapUsed is what is really retained.
  const s = await getJson(port, '/stats');
  samples.push({ t: (Date.now() - t0) / 1000, phase, rss: s.rss, heapUsed: s.heapUsed, handles: handles(s.resources), resources: s.resources, agent: s.agent });
}

await sample('idle');
const interval = Math.max(1, Math.min(10, seconds / 30)) * 1000;
const run = autocannon({
  url: `http://127.0.0.1:${port}${WORK}`,
  connections,
  duration: seconds,
  expectBody: EXPECTED,
  timeout: 30,
});
const sampler = (async () => {
  await sleep(interval);
  while (Date.now() - t0 < seconds * 1000 - interval / 2) {
    await sample('load');
    await sleep(interval);
  }
})();
const result = await run;
await sampler;

// Let the export pipeline catch up, then take the last sample.
for (let i = 0; i < 100; i++) {
  const s = (await getJson(port, '/stats')).agent;
  if (s.ended - s.exported - s.failed - s.dropped <= 1) break;
  await sleep(100);
}
await sample('after');
await getJson(port, '/shutdown?code=0', 'POST');
const appExit = await app.closed;
const sinkStats = await getJson(upPort, '/__sink/stats');
await sink.stop();

const load = samples.filter((s) => s.phase === 'load');
const warmEnd = load[Math.max(0, Math.floor(load.length / 5) - 1)] ?? samples[0];
const afterWarm = load.filter((s) => s.t >= warmEnd.t);
const last = load[load.length - 1] ?? warmEnd;
const final = samples[samples.length - 1];
const agent = final.agent;
const answered = result['2xx'];
const out = {
  seconds,
  connections,
  requests: result.requests.total,
  answered,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  mismatches: result.mismatches,
  rps: Math.round(result.requests.average),
  latencyP99Ms: result.latency.p99,
  memory: {
    warmupEndS: warmEnd.t,
    rssWarmMiB: +(warmEnd.rss / MiB).toFixed(1),
    rssEndMiB: +(last.rss / MiB).toFixed(1),
    rssMaxAfterWarmMiB: +(Math.max(...afterWarm.map((s) => s.rss)) / MiB).toFixed(1),
    heapWarmMiB: +(warmEnd.heapUsed / MiB).toFixed(1),
    heapEndMiB: +(last.heapUsed / MiB).toFixed(1),
    heapAfterMiB: +(final.heapUsed / MiB).toFixed(1),
  },
  handles: {
    idle: samples[0].handles,
    warm: warmEnd.handles,
    maxAfterWarm: Math.max(...afterWarm.map((s) => s.handles)),
    end: last.handles,
    after: final.handles,
  },
  spans: { started: agent.started, ended: agent.ended, exported: agent.exported, dropped: agent.dropped, failed: agent.failed, sinkReceived: sinkStats.spans },
  appExit,
  samples: samples.length,
};

const problems = [];
if (out.answered !== out.requests || out.non2xx || out.errors || out.timeouts || out.mismatches) {
  problems.push(
    `not every request was answered correctly: ${out.requests} sent, ${out.answered} 2xx, ${out.non2xx} non-2xx, ${out.errors} errors, ${out.timeouts} timeouts, ${out.mismatches} wrong bodies`,
  );
}
if (out.requests === 0) problems.push('no request was made');
// Handles: each connection holds at most three sockets in the app (its own, the /leaf call's client
// and server side), plus a few for the exporter and stdio. Within that ceiling the count wobbles
// with timing; a leak shows as the last third of the run climbing above the first.
const ceiling = 3 * connections + 16;
const third = Math.max(1, Math.floor(afterWarm.length / 3));
const firstMax = Math.max(...afterWarm.slice(0, third).map((s) => s.handles));
const lastMax = Math.max(...afterWarm.slice(-third).map((s) => s.handles));
out.handles.ceiling = ceiling;
if (out.handles.maxAfterWarm > ceiling)
  problems.push(`active handles above what ${connections} connections explain (${ceiling}): ${JSON.stringify(out.handles)}`);
if (seconds >= 60 && lastMax > firstMax + 8) problems.push(`active handles climbed after warm-up: max ${firstMax} in the first third, ${lastMax} in the last`);
if (appExit.code !== 0) problems.push(`the app exited with ${appExit.code ?? appExit.signal}`);
const judgeMemory = seconds >= 60;
if (judgeMemory) {
  // Heap measured after a full GC: retaining anything per request or per span would show as a climb.
  if (last.heapUsed - warmEnd.heapUsed > 16 * MiB) problems.push(`heap grew after warm-up: ${out.memory.heapWarmMiB} -> ${out.memory.heapEndMiB} MiB`);
  if (last.rss - warmEnd.rss > 64 * MiB) problems.push(`RSS grew after warm-up: ${out.memory.rssWarmMiB} -> ${out.memory.rssEndMiB} MiB`);
}
out.ok = problems.length === 0;
out.problems = problems;
out.memoryJudged = judgeMemory;

const lines = [
  `soak: ${seconds} s, ${connections} connections, 100% sampling, 4 spans per request`,
  `  requests ${out.requests} (${out.rps}/s, p99 ${out.latencyP99Ms} ms): ${out.answered} answered correctly, ${out.non2xx} non-2xx, ${out.errors} errors, ${out.timeouts} timeouts, ${out.mismatches} wrong bodies`,
  `  RSS ${out.memory.rssWarmMiB} MiB at the end of warm-up (${out.memory.warmupEndS.toFixed(0)} s) -> ${out.memory.rssEndMiB} MiB at the end (max ${out.memory.rssMaxAfterWarmMiB})`,
  `  heap after GC ${out.memory.heapWarmMiB} -> ${out.memory.heapEndMiB} MiB (${out.memory.heapAfterMiB} once idle)`,
  `  active handles: idle ${out.handles.idle}, warm ${out.handles.warm}, max after warm-up ${out.handles.maxAfterWarm}, end ${out.handles.end}, idle again ${out.handles.after}`,
  `  spans: ${out.spans.ended} ended, ${out.spans.exported} exported, ${out.spans.dropped} dropped (queue full), ${out.spans.failed} failed; sink received ${out.spans.sinkReceived}`,
  `  ${out.ok ? 'OK' : 'FAILED: ' + problems.join('; ')}${judgeMemory ? '' : ' (memory and trends not judged: run 60 s or more)'}`,
];
console.log(lines.join('\n'));
if (json)
  console.log('SOAK ' + JSON.stringify({ ...out, samplesDetail: samples.map(({ t, rss, heapUsed, handles: h }) => ({ t, rss, heapUsed, handles: h })) }));
process.exit(out.ok ? 0 : 1);
