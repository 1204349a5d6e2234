// Express 5 + PostgreSQL bench app, plain CommonJS with no tracing code:
//   GET /users/:id runs one query on a pg Pool and answers its row as JSON.
// PostgreSQL from PGHOST/PGPORT/PGDATABASE/PGUSER (default 127.0.0.1:5432, db test, user postgres).
// The bench drives it over stdin like server.cjs: "mark" -> OK, "stats" -> one STATS JSON line.
// READY is printed after a first query succeeded, so a missing database fails the start, not the run.
const express = require('express');
const { Pool } = require('pg');

const pool = new Pool({
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
  max: 10,
});
let served = 0;

const app = express();
const users = express.Router();
users.get('/:id', async (req, res) => {
  const { rows } = await pool.query("SELECT $1::int AS id, 'user ' || $1 AS name, now() AS seen", [req.params.id]);
  served++;
  res.json(rows[0]);
});
app.use('/users', users);

// The agent's pipeline counters (spans exported, dropped, failed), when it runs.
const agentStats = () => globalThis[Symbol.for('@x/otel-agent')]?.handle?.stats;

let cpu0 = process.cpuUsage();
let served0 = 0;
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const cmd = buf.slice(0, nl).trim();
    buf = buf.slice(nl + 1);
    if (cmd === 'mark') {
      cpu0 = process.cpuUsage();
      served0 = served;
      process.stdout.write('OK\n');
    } else if (cmd === 'stats') {
      const c = process.cpuUsage(cpu0);
      const m = process.memoryUsage();
      process.stdout.write(
        `STATS ${JSON.stringify({ cpuUs: c.user + c.system, requests: served - served0, total: served, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, maxRSS: process.resourceUsage().maxRSS * 1024, agent: agentStats() })}\n`,
      );
    }
  }
});
process.stdin.on('end', () => pool.end().finally(() => process.exit(0)));

pool.query('SELECT 1').then(
  () => {
    const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
    server.keepAliveTimeout = 60_000;
  },
  (e) => {
    process.stderr.write(`express-pg: PostgreSQL not reachable (${e.message})\n`);
    process.exit(1);
  },
);
