// Per-call cost of outgoing client calls (fetch, ioredis, node-redis GETs) with
// the agent, sampled and unsampled, against bare node and against the agent with
// that one instrumentation disabled: what the instrumentation itself costs a call.
//
//   node bench/clients.mjs [--clients=channels,fetch,ioredis,redis,redis4] [--rounds=N] [--calls=N]
//                          [--concurrency=N] [--configs=bare,off,offNo,on,onNo,...] [--alt=name:path/to/dist,...]
//
// Configurations: bare (no agent); off = agent, sampler always_off; on = agent,
// always_on; offNo / onNo = the same with the client's instrumentation in
// OTEL_NODE_DISABLED_INSTRUMENTATIONS; offM / onM = off / on with metrics
// exported (OTEL_METRICS_EXPORTER=otlp); <alt>:off / <alt>:on = another build.
// `channels` publishes fetch's diagnostics-channel messages without a network
// (bench/apps/channel-loop.cjs): the undici instrumentation's own cost, little noise.
// Each run is its own process; rounds interleave configurations. Prints a
// markdown table of process CPU ns per call (median of rounds, min..max).
// Needs Redis on 127.0.0.1:6379 for the Redis clients.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseEnv, median, startProc } from './lib.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
const argv = process.argv.slice(2);
const opt = (name, def) =>
  argv
    .find((a) => a.startsWith(`--${name}=`))
    ?.split('=')
    .slice(1)
    .join('=') ?? def;
const clients = opt('clients', 'fetch,ioredis,redis').split(',');
const rounds = Number(opt('rounds', 3));
const calls = Number(opt('calls', 5000));
const concurrency = Number(opt('concurrency', 1));
const alts = Object.fromEntries(
  opt('alt', '')
    .split(',')
    .filter(Boolean)
    .map((a) => [a.slice(0, a.indexOf(':')), resolve(a.slice(a.indexOf(':') + 1))]),
);
const INSTR = { fetch: 'undici', channels: 'undici', ioredis: 'ioredis', redis: 'redis', redis4: 'redis' };
const log = (m) => process.stderr.write(`[clients] ${m}\n`);

function configs(sinkUrl, client) {
  const agent = (extra, register = join(ROOT, 'dist', 'register.cjs')) => ({
    args: ['--require', register],
    env: { OTEL_SERVICE_NAME: 'bench', OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', ...extra },
  });
  const off = { OTEL_TRACES_SAMPLER: 'always_off' };
  const on = { OTEL_TRACES_SAMPLER: 'always_on' };
  const no = { OTEL_NODE_DISABLED_INSTRUMENTATIONS: INSTR[client] };
  const m = { OTEL_METRICS_EXPORTER: 'otlp', OTEL_AGENT_RUNTIME_METRICS: 'false' };
  const c = {
    bare: { args: [], env: {} },
    off: agent(off),
    offNo: agent({ ...off, ...no }),
    on: agent(on),
    onNo: agent({ ...on, ...no }),
    offM: agent({ ...off, ...m }),
    onM: agent({ ...on, ...m }),
  };
  for (const [name, dir] of Object.entries(alts)) {
    c[`${name}:off`] = agent(off, join(dir, 'register.cjs'));
    c[`${name}:on`] = agent(on, join(dir, 'register.cjs'));
    c[`${name}:offM`] = agent({ ...off, ...m }, join(dir, 'register.cjs'));
  }
  return c;
}
const ids = opt('configs', ['bare', 'off', 'offNo', 'on', 'onNo', ...Object.keys(alts).flatMap((a) => [`${a}:off`, `${a}:on`])].join(',')).split(',');

async function once(cfg, client, upstreamPort) {
  const p = startProc(
    process.execPath,
    [...cfg.args, join(BENCH, 'apps', client === 'channels' ? 'channel-loop.cjs' : 'client-loop.cjs'), client, String(upstreamPort)],
    {
      env: baseEnv({ ...cfg.env, BENCH_CALLS: String(calls), BENCH_CONCURRENCY: String(concurrency) }),
      cwd: ROOT,
      timeoutMs: 300_000,
    },
  );
  const l = await p.line('CALLS', 300_000);
  await p.stop();
  return JSON.parse(l.slice(6));
}

async function main() {
  const sink = startProc(process.execPath, [join(BENCH, 'sink.mjs')], { env: baseEnv() });
  const sinkUrl = `http://127.0.0.1:${(await sink.line('READY', 10_000)).split(' ')[1]}`;
  const up = startProc(process.execPath, [join(BENCH, 'apps', 'upstream.cjs')], { env: baseEnv() });
  const upstreamPort = Number((await up.line('READY')).split(' ')[1]);
  const res = {};
  try {
    for (let r = 1; r <= rounds; r++) {
      for (const client of clients) {
        const cs = configs(sinkUrl, client);
        for (const id of ids) {
          const k = `${client} ${id}`;
          try {
            (res[k] ??= []).push(await once(cs[id], client, upstreamPort));
          } catch (e) {
            log(`${k}: ${e.message.split('\n')[0]}`);
          }
        }
      }
      log(`round ${r}/${rounds} done`);
    }
  } finally {
    await up.stop();
    await sink.stop();
  }
  const lines = [`| client | config | CPU ns/call | vs bare | wall ns/call |`, `|---|---|---|---|---|`];
  for (const client of clients) {
    const bare = median((res[`${client} bare`] ?? []).map((x) => x.cpuNs));
    for (const id of ids) {
      const rs = res[`${client} ${id}`] ?? [];
      if (!rs.length) continue;
      const cpu = rs.map((x) => x.cpuNs);
      const wall = rs.map((x) => x.wallNs);
      const f = (v) => v.toFixed(0);
      lines.push(
        `| ${client} | ${id} | ${f(median(cpu))} (${f(Math.min(...cpu))}..${f(Math.max(...cpu))}) | ${id === 'bare' ? '' : `+${f(median(cpu) - bare)}`} | ${f(median(wall))} |`,
      );
    }
  }
  process.stdout.write(
    `${lines.join('\n')}\n\nnode ${process.version}, ${calls} calls per batch (best of 3 batches per run; channels: of 5), ${concurrency} in flight, ${rounds} round(s)\n`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
