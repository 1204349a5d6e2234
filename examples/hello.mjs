// A tiny ESM app with no tracing code: an HTTP server that reads a file and
// calls another endpoint, and a client that calls it once, then exits.
//   OTEL_TRACES_EXPORTER=console node --import @x/otel-agent examples/hello.mjs
import http from 'node:http';
import { readFile } from 'node:fs/promises';

const server = http.createServer(async (req, res) => {
  if (req.url === '/prices') return res.end('{"apple":1}');
  await readFile(new URL(import.meta.url));
  const prices = await fetch(`http://127.0.0.1:${server.address().port}/prices`).then((r) => r.json());
  res.end(JSON.stringify({ order: req.url.split('/').pop(), prices }));
});

server.listen(0, '127.0.0.1', async () => {
  const res = await fetch(`http://127.0.0.1:${server.address().port}/orders/42`);
  console.log('response:', await res.text());
  server.close();
});
