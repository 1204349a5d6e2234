// The bench's stand-in collector, run as its own process so that accepting
// spans never competes with autocannon or the app in one event loop.
//
// Listens on three ports and prints `READY <up> <hang> <closed>`:
//   up     answers every POST at once: OTLP (/v1/traces, counted span by span from
//          the protobuf or JSON body; /v1/metrics, counted by request) and dd-trace's agent API (/v0.4/traces ...),
//          GET /__sink/stats for the counts, POST /__sink/reset to zero them;
//   hang   reads each request and never answers (a collector that hangs);
//   closed a port that was bound and released, so connecting to it is refused.
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

let stats = fresh();
function fresh() {
  return { requests: 0, bytes: 0, spans: 0, otlpRequests: 0, metricsRequests: 0, ddRequests: 0, other: 0, undecodable: 0 };
}

/** Reads a protobuf varint at `pos`; returns [value, next]. */
function varint(buf, pos) {
  let v = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated varint');
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Calls `onField(field, start, end)` for each length-delimited field of the message in buf[start, end). */
function fields(buf, start, end, onField) {
  let pos = start;
  while (pos < end) {
    let tag;
    [tag, pos] = varint(buf, pos);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) [, pos] = varint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len;
      [len, pos] = varint(buf, pos);
      if (pos + len > end) throw new Error('truncated field');
      onField(field, pos, pos + len);
      pos += len;
    } else throw new Error(`wire type ${wire}`);
  }
}

/** ExportTraceServiceRequest: resource_spans=1 -> scope_spans=2 -> spans=2. */
function countProtoSpans(buf) {
  let n = 0;
  fields(buf, 0, buf.length, (f, s, e) => {
    if (f !== 1) return;
    fields(buf, s, e, (f2, s2, e2) => {
      if (f2 !== 2) return;
      fields(buf, s2, e2, (f3) => {
        if (f3 === 2) n++;
      });
    });
  });
  return n;
}

function countJsonSpans(buf) {
  const j = JSON.parse(buf.toString('utf8'));
  let n = 0;
  for (const rs of j.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += (ss.spans ?? []).length;
  return n;
}

const up = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/__sink/stats') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify(stats));
    }
    if (path === '/__sink/reset') {
      stats = fresh();
      return res.end('{}');
    }
    let body = Buffer.concat(chunks);
    stats.requests++;
    stats.bytes += body.length;
    if (path.endsWith('/v1/traces')) {
      stats.otlpRequests++;
      try {
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        stats.spans += String(req.headers['content-type']).includes('json') ? countJsonSpans(body) : countProtoSpans(body);
      } catch {
        stats.undecodable++;
      }
      res.setHeader('content-type', String(req.headers['content-type'] ?? 'application/x-protobuf'));
      return res.end();
    }
    if (path.endsWith('/v1/metrics')) {
      // Counted, not decoded: the bench measures the app, not the sink.
      stats.metricsRequests++;
      res.setHeader('content-type', String(req.headers['content-type'] ?? 'application/x-protobuf'));
      return res.end();
    }
    if (/^\/v0\.\d\/traces$/.test(path)) {
      stats.ddRequests++;
      res.setHeader('content-type', 'application/json');
      return res.end('{"rate_by_service":{}}');
    }
    stats.other++;
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
});
up.keepAliveTimeout = 60_000;

const hanging = new Set();
const hang = createServer((req) => {
  req.resume();
  hanging.add(req.socket);
  req.socket.on('close', () => hanging.delete(req.socket));
});
hang.requestTimeout = 0;
hang.headersTimeout = 0;
hang.keepAliveTimeout = 0;

function listen(s) {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s.address().port)));
}

const upPort = await listen(up);
const hangPort = await listen(hang);
const probe = createServer();
const closedPort = await listen(probe);
await new Promise((r) => probe.close(r));
process.stdout.write(`READY ${upPort} ${hangPort} ${closedPort}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
