// The "rate" section: at which sustained span rate does the export pipeline
// start dropping? bench/apps/span-loop.cjs paced by BENCH_RATE (chunks of
// 1,000 spans on timers, as an app's own work would be), about four seconds
// of spans per rate, exported to the bench's sink, which decodes every span.
// Reported per rate: spans dropped (the agent's own count), spans that
// arrived, and whether the loop kept its pace (a loop that cannot keep up is
// measuring the machine, not the exporter).
import { join } from 'node:path';
import { baseEnv, median, sleep, startProc, table } from './lib.mjs';

export const RATES = [25_000, 50_000, 100_000, 150_000];
const SECONDS = 4;

async function rateOnce({ node, entry, cfg, sink, rate, cwd }) {
  await sink.reset();
  const n = rate * SECONDS;
  const p = startProc(node, [...cfg.args(false), entry], { env: baseEnv({ ...cfg.env, BENCH_SPANS: String(n), BENCH_RATE: String(rate) }), cwd });
  const l = await p.line('SPANS', 120_000);
  await p.stop(30_000);
  await sleep(200);
  const k = await sink.stats();
  const r = JSON.parse(l.slice(6));
  return { rate, n: r.n, seconds: r.totalNs / 1e9, dropped: r.stats?.dropped ?? null, failed: r.stats?.failed ?? null, arrived: k.spans };
}

/** `ids`: the configurations to run (this agent; others only if they export to the sink by OTLP). */
export async function runRate({ configs, ids, sink, rounds, appsDir, cwd, log }) {
  const res = Object.fromEntries(ids.map((id) => [id, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const rate of RATES) {
      for (const id of ids) {
        try {
          res[id].push(await rateOnce({ node: process.execPath, entry: join(appsDir, 'span-loop.cjs'), cfg: configs[id], sink, rate, cwd }));
        } catch (e) {
          log(`rate ${id} ${rate}/s: ${e.message}`);
          res[id].push({ rate, error: e.message });
        }
      }
    }
    log(`rate round ${round}/${rounds} done`);
  }
  return res;
}

const pct = (x) => `${(100 * x).toFixed(x > 0 && x < 0.001 ? 3 : 1)}%`;

export function rateSection(R, configs, rounds) {
  const rows = [];
  for (const [id, runs] of Object.entries(R)) {
    for (const rate of RATES) {
      const ok = runs.filter((r) => r.rate === rate && !r.error);
      if (!ok.length) {
        rows.push([configs[id]?.label ?? id, `${rate / 1000}k/s`, '–', '–', '–', '–']);
        continue;
      }
      // Only this agent counts what it drops; for the others, what did not arrive.
      const counted = ok[0].dropped !== null;
      const dropped = ok.map((r) => (counted ? r.dropped : r.n - r.arrived) / r.n);
      const pace = median(ok.map((r) => r.n / r.seconds));
      const missing = ok.map((r) => (r.dropped === null ? NaN : r.n - r.dropped - (r.failed ?? 0) - r.arrived));
      rows.push([
        configs[id]?.label ?? id,
        `${rate / 1000}k/s`,
        `${Math.round(pace / 1000)}k/s`,
        `${pct(median(dropped))} (${pct(Math.min(...dropped))}..${pct(Math.max(...dropped))})${counted ? '' : ', not arrived (not counted)'}`,
        String(median(ok.map((r) => r.arrived))),
        missing.every(Number.isFinite) ? String(Math.max(...missing)) : '–',
      ]);
    }
  }
  return [
    `### Sustained span rate: where export starts dropping`,
    ``,
    `\`bench/apps/span-loop.cjs\` with \`BENCH_RATE\`: ${SECONDS} s of spans at each rate (chunks of 1,000 on timers), exported over OTLP http/protobuf to the local sink, which decodes every span; ${rounds} round(s). "achieved" is the spans per second the loop kept up (started to flushed); "dropped" is the agent's own count (queue full) over the spans started, median (min..max); "missing" = started − dropped − failed − arrived, worst round (must be 0).`,
    ``,
    table(['configuration', 'rate asked', 'achieved', 'dropped (counted)', 'arrived at sink (median)', 'missing'], rows),
  ].join('\n');
}

/** Target rows: no drops at 100k spans/s. */
export function rateTargets(R, add) {
  const runs = R.agent?.filter((r) => r.rate === 100_000 && !r.error) ?? [];
  if (!runs.length) return;
  const worst = Math.max(...runs.map((r) => (r.dropped ?? 0) / r.n));
  add('span rate: 100k spans/s sustained with OTLP export', '0 dropped', `${pct(worst)} dropped (worst round)`, worst === 0);
}
