// What the undici/fetch instrumentation itself costs per call, without the
// network: publishes one request's lifecycle on undici's diagnostics channels
// (create, sendHeaders, headers, trailers), as Node's fetch does, N times
// inside one active operation span (sampled or not is the sampler's decision).
// Best of 5 batches (the machine is shared); prints
//   CALLS {"n":..,"cpuNs":..,"wallNs":..}
const dc = require('node:diagnostics_channel');
const api = require('@opentelemetry/api');

const N = Number(process.env.BENCH_CALLS || 20000);
// Activates the agent's undici instrumentation (it loads on first use of the global).
void globalThis.fetch;
const create = dc.channel('undici:request:create');
const sendHeaders = dc.channel('undici:client:sendHeaders');
const headers = dc.channel('undici:request:headers');
const trailers = dc.channel('undici:request:trailers');
const socket = { remoteAddress: '127.0.0.1', remotePort: 8080, alpnProtocol: false };
const response = { statusCode: 200, headers: [Buffer.from('content-type'), Buffer.from('application/json')], statusText: 'OK' };

function request() {
  return {
    origin: 'http://127.0.0.1:8080',
    path: '/items/42?verbose=1',
    method: 'GET',
    headers: 'accept: */*\r\nuser-agent: node\r\n',
    addHeader(k, v) {
      this.headers += `${k}: ${v}\r\n`;
      return this;
    },
  };
}

function batch(n) {
  for (let i = 0; i < n; i++) {
    const req = request();
    if (create.hasSubscribers) create.publish({ request: req });
    if (sendHeaders.hasSubscribers) sendHeaders.publish({ request: req, headers: req.headers, socket });
    if (headers.hasSubscribers) headers.publish({ request: req, response });
    if (trailers.hasSubscribers) trailers.publish({ request: req, trailers: [] });
  }
}

const tracer = api.trace.getTracer('bench');
tracer.startActiveSpan('operation', (span) => {
  batch(N);
  let best = { cpuNs: Infinity, wallNs: Infinity };
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    batch(N);
    const wallNs = Number(process.hrtime.bigint() - t0) / N;
    const cu = process.cpuUsage(c0);
    const cpuNs = ((cu.user + cu.system) * 1000) / N;
    if (cpuNs < best.cpuNs) best = { cpuNs, wallNs };
  }
  span.end();
  process.stdout.write(`CALLS ${JSON.stringify({ n: N, ...best })}\n`);
});
