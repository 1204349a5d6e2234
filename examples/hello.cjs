// The same app in CommonJS.
//   OTEL_TRACES_EXPORTER=console node --import @x/otel-agent examples/hello.cjs
const http = require('node:http');
const { readFile } = require('node:fs/promises');

const server = http.createServer(async (req, res) => {
  if (req.url === '/prices') return res.end('{"apple":1}');
  await readFile(__filename);
  const prices = await fetch(`http://127.0.0.1:${server.address().port}/prices`).then((r) => r.json());
  res.end(JSON.stringify({ order: req.url.split('/').pop(), prices }));
});

server.listen(0, '127.0.0.1', async () => {
  const res = await fetch(`http://127.0.0.1:${server.address().port}/orders/42`);
  console.log('response:', await res.text());
  server.close();
});
