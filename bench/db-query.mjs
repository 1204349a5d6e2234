// What a database instrumentation costs per query, in CPU time: one process
// per configuration runs N `pool.query()` calls (the bench app's call, one
// connection, awaited one after the other) inside a parent context that is
// sampled or not, and reports its CPU time per query; configurations are
// interleaved round by round. The difference to bare node is the
// instrumentation's cost (plus, sampled, the span's: start, attributes, end;
// OTEL_TRACES_EXPORTER=none, so no export work is counted).
//
//   node bench/db-query.mjs [--queries=N] [--rounds=N] [--alt=name:path/to/dist,...] [--driver=pg|mysql2]
//
// Needs PostgreSQL at 127.0.0.1:5432 (db test), or MariaDB/MySQL at 127.0.0.1:3306 for mysql2.
// The parent context is set with @opentelemetry/api (this script, not an app, does that).
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, def) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
const QUERIES = Number(opt('queries', 20000));
const ROUNDS = Number(opt('rounds', 3));
const DRIVER = opt('driver', 'pg');
const alts = Object.fromEntries(
  String(opt('alt', ''))
    .split(',')
    .filter(Boolean)
    .map((s) => [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1)]),
);

if (process.env.DB_QUERY_CHILD) {
  const { createRequire } = await import('node:module');
  const require = createRequire(join(ROOT, 'package.json'));
  const { context, trace, ROOT_CONTEXT, TraceFlags } = require('@opentelemetry/api');
  const sampled = process.env.DB_QUERY_CHILD === 'sampled';
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '1'.repeat(32),
    spanId: '2'.repeat(16),
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
  });
  let pool;
  let run;
  if (DRIVER === 'mysql2') {
    const mysql = require('mysql2/promise');
    pool = mysql.createPool({ host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test', connectionLimit: 1 });
    run = (i) => pool.query('SELECT ? AS id, CONCAT(?, ?) AS name', [i, 'user ', i]);
  } else {
    const { Pool } = require('pg');
    pool = new Pool({ host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres', max: 1 });
    run = (i) => pool.query("SELECT $1::int AS id, 'user ' || $1 AS name", [i]);
  }
  await context.with(parent, async () => {
    for (let i = 0; i < 500; i++) await run(i);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < QUERIES; i++) await run(i);
    const c = process.cpuUsage(c0);
    const wall = Number(process.hrtime.bigint() - t0);
    process.stdout.write(JSON.stringify({ cpuNs: ((c.user + c.system) * 1000) / QUERIES, wallNs: wall / QUERIES }) + '\n');
  });
  await pool.end();
  process.exit(0);
}

const configs = {
  bare: [],
  ...Object.fromEntries(Object.entries(alts).map(([n, d]) => [n, ['--require', join(d, 'register.cjs')]])),
  agent: ['--require', join(ROOT, 'dist/register.cjs')],
};
const results = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of ['unsampled', 'sampled']) {
    for (const [name, args] of Object.entries(configs)) {
      const out = execFileSync(process.execPath, [...args, fileURLToPath(import.meta.url), ...argv], {
        env: { ...process.env, DB_QUERY_CHILD: mode, OTEL_TRACES_EXPORTER: 'none', OTEL_LOG_LEVEL: 'none' },
        encoding: 'utf8',
      });
      const m = JSON.parse(out.trim().split('\n').pop());
      ((results[mode] ??= {})[name] ??= []).push(m.cpuNs);
    }
  }
  process.stderr.write(`[db-query] round ${r + 1}/${ROUNDS}\n`);
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`${DRIVER}: ${QUERIES} queries x ${ROUNDS} rounds, CPU ns per query (median, min..max); delta vs bare\n`);
console.log('| parent | config | CPU ns/query | vs bare |\n|---|---|---:|---:|');
for (const [mode, byName] of Object.entries(results)) {
  const bare = median(byName.bare);
  for (const [name, v] of Object.entries(byName)) {
    const m = median(v);
    console.log(
      `| ${mode} | ${name} | ${m.toFixed(0)} (${Math.min(...v).toFixed(0)}..${Math.max(...v).toFixed(0)}) | ${name === 'bare' ? '' : `+${(m - bare).toFixed(0)}`} |`,
    );
  }
}
