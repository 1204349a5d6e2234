// Server bench app, plain CommonJS with no tracing code.
//   node server.cjs hello             answers "hello world"
//   node server.cjs outgoing <port>   calls the upstream on <port> once and reads a file, then answers
//   node server.cjs fetch-redis <port> fetch()es the upstream on <port>, then one GET through node-redis
//                                      and one through ioredis (Redis on 127.0.0.1:6379), then answers
// The bench drives it over stdin (so its own probes make no HTTP requests):
//   "mark"  -> remember CPU time and request count now
//   "stats" -> one JSON line: CPU µs and requests since mark, RSS, heap
const http = require('node:http');
const fs = require('node:fs');

const mode = process.argv[2] ?? 'hello';
const upstreamPort = Number(process.argv[3]);
let served = 0;

function outgoing(req, res) {
  http
    .get({ host: '127.0.0.1', port: upstreamPort, path: '/items/42' }, (up) => {
      let body = '';
      up.setEncoding('utf8');
      up.on('data', (c) => (body += c));
      up.on('end', () => {
        fs.readFile(__filename, (err, file) => {
          served++;
          if (err) {
            res.statusCode = 500;
            return res.end();
          }
          res.setHeader('content-type', 'application/json');
          res.end(`{"item":${body},"size":${file.length}}`);
        });
      });
    })
    .on('error', () => {
      served++;
      res.statusCode = 502;
      res.end();
    });
}

let redisClients;
async function fetchRedis(req, res) {
  try {
    const up = await fetch(`http://127.0.0.1:${upstreamPort}/items/42`);
    const body = await up.text();
    const [a, b] = await Promise.all([redisClients.redis.get('bench:key'), redisClients.ioredis.get('bench:key')]);
    served++;
    res.setHeader('content-type', 'application/json');
    res.end(`{"item":${body},"a":${JSON.stringify(a)},"b":${JSON.stringify(b)}}`);
  } catch {
    served++;
    res.statusCode = 502;
    res.end();
  }
}

const server = http.createServer(
  mode === 'fetch-redis'
    ? fetchRedis
    : mode === 'outgoing'
      ? outgoing
      : (req, res) => {
          served++;
          res.setHeader('content-type', 'text/plain');
          res.end('hello world');
        },
);
server.keepAliveTimeout = 60_000;

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
process.stdin.on('end', () => process.exit(0));
async function listen() {
  if (mode === 'fetch-redis') {
    const { createClient } = require('redis');
    const Redis = require('ioredis');
    const redis = createClient({ socket: { host: '127.0.0.1', port: 6379 } });
    await redis.connect();
    const ioredis = new Redis({ host: '127.0.0.1', port: 6379 });
    await redis.set('bench:key', 'value');
    redisClients = { redis, ioredis };
  }
  server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
}
listen();
