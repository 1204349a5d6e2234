// The dependency the "outgoing" server app calls: always bare node, shared by
// every configuration in a round.
const http = require('node:http');
const body = JSON.stringify({ id: 42, name: 'widget', price: 9.5 });
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
