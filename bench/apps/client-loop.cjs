// Per-call cost of an outgoing client call, inside one operation whose span is
// active (a request's, as in a real service): sampled or not is the sampler's
// decision (always_on / always_off), so the same loop measures both paths.
//   node client-loop.cjs fetch <port>    N sequential fetch() calls to 127.0.0.1:<port>
//   node client-loop.cjs ioredis         N sequential GETs through ioredis
//   node client-loop.cjs redis|redis4    N sequential GETs through node-redis 6 / 4
// BENCH_CALLS sets N (after a warm-up of N/5), BENCH_CONCURRENCY how many calls are in
// flight at once (1: one after the other; Redis clients pipeline concurrent commands on
// one connection, which leaves less I/O per command around the instrumentation's cost).
// Best of 3 batches (the machine is shared). Prints one line:
//   CALLS {"n":..,"cpuNs":..,"wallNs":..}  (process CPU and wall time per call)
const api = require('@opentelemetry/api');

const mode = process.argv[2];
const port = Number(process.argv[3]);
const N = Number(process.env.BENCH_CALLS || 5000);
const CONC = Number(process.env.BENCH_CONCURRENCY || 1);

async function client() {
  if (mode === 'fetch') {
    const url = `http://127.0.0.1:${port}/items/42`;
    return {
      call: async () => {
        const r = await fetch(url);
        await r.text();
      },
      close: async () => {},
    };
  }
  if (mode === 'ioredis') {
    const Redis = require('ioredis');
    const c = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await c.connect();
    await c.set('bench:key', 'value');
    return { call: () => c.get('bench:key'), close: () => c.quit() };
  }
  const { createClient } = require(mode === 'redis4' ? 'redis4' : 'redis');
  const c = createClient({ socket: { host: '127.0.0.1', port: 6379 } });
  await c.connect();
  await c.set('bench:key', 'value');
  return { call: () => c.get('bench:key'), close: () => c.quit() };
}

async function lane(call, n) {
  for (let i = 0; i < n; i++) await call();
}
const loop = (call, n) => Promise.all(Array.from({ length: CONC }, () => lane(call, Math.ceil(n / CONC))));

async function main() {
  const c = await client();
  const tracer = api.trace.getTracer('bench');
  // The operation around the calls: a span the sampler decides on, like a SERVER span.
  const run = (n) =>
    new Promise((resolve, reject) => tracer.startActiveSpan('operation', (span) => loop(c.call, n).then(() => (span.end(), resolve()), reject)));
  await run(Math.ceil(N / 5));
  let best = { cpuNs: Infinity, wallNs: Infinity };
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await run(N);
    const wallNs = Number(process.hrtime.bigint() - t0) / N;
    const cu = process.cpuUsage(c0);
    const cpuNs = ((cu.user + cu.system) * 1000) / N;
    if (cpuNs < best.cpuNs) best = { cpuNs, wallNs };
  }
  process.stdout.write(`CALLS ${JSON.stringify({ n: N, conc: CONC, ...best })}\n`);
  await c.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
