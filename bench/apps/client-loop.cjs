// Per-call cost of an outgoing client call, inside one operation whose span is
// active (a request's, as in a real service): sampled or not is the sampler's
// decision (always_on / always_off), so the same loop measures both paths.
//   node client-loop.cjs fetch <port>    N sequential fetch() calls to 127.0.0.1:<port>
//   node client-loop.cjs ioredis         N sequential GETs through ioredis
//   node client-loop.cjs redis|redis4    N sequential GETs through node-redis 6 / 4
// BENCH_CALLS sets N (after a warm-up of N/5). Prints one line:
//   CALLS {"n":..,"cpuNs":..,"wallNs":..}  (process CPU and wall time per call)
const api = require('@opentelemetry/api');

const mode = process.argv[2];
const port = Number(process.argv[3]);
const N = Number(process.env.BENCH_CALLS || 5000);

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

async function loop(call, n) {
  for (let i = 0; i < n; i++) await call();
}

async function main() {
  const c = await client();
  const tracer = api.trace.getTracer('bench');
  // The operation around the calls: a span the sampler decides on, like a SERVER span.
  const run = (n) =>
    new Promise((resolve, reject) => tracer.startActiveSpan('operation', (span) => loop(c.call, n).then(() => (span.end(), resolve()), reject)));
  await run(Math.ceil(N / 5));
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run(N);
  const wallNs = Number(process.hrtime.bigint() - t0) / N;
  const cu = process.cpuUsage(c0);
  process.stdout.write(`CALLS ${JSON.stringify({ n: N, cpuNs: ((cu.user + cu.system) * 1000) / N, wallNs })}\n`);
  await c.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
