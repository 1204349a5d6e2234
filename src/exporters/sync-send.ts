/**
 * Delivery while the process is exiting. The 'exit' event allows only
 * synchronous work, so the body is handed to a short-lived worker thread that
 * does the network I/O while this thread blocks on Atomics.wait, bounded by the
 * flush timeout. It runs only at exit, and only when spans are still pending.
 */
import type * as wtT from 'node:worker_threads';
import type { ExportOutcome } from '../processor';

export type SyncJob =
  | {
      kind: 'http';
      url: string;
      headers: Record<string, string>;
      body: Uint8Array;
      ca?: Buffer;
      cert?: Buffer;
      key?: Buffer;
    }
  | {
      kind: 'grpc';
      address: string;
      secure: boolean;
      path: string;
      metadata: Record<string, string>;
      body: Uint8Array;
      grpcPath: string;
      ca?: Buffer;
      cert?: Buffer;
      key?: Buffer;
    };

/** Bytes of a collector's answer passed back from the worker (for OTLP partial success; real answers are tiny). */
const ANSWER_MAX = 64 * 1024;
/** Layout of the shared buffer: [0] status, [1] message length, [2] answer length, [3] unused; then message, then answer. */
const MSG_AT = 16;
const MSG_MAX = 200;
const ANSWER_AT = MSG_AT + MSG_MAX;
/**
 * After a 2xx status line, how long the exit waits for the rest of the answer
 * (only read for OTLP partial success, which comes with the status line). A
 * body that stalls must not hold the exit for all of OTEL_AGENT_FLUSH_TIMEOUT.
 */
const BODY_GRACE_MS = 250;

// Plain JS run inside the worker. Kept tiny; status 1 = delivered, 2 = failed,
// 3 = a 2xx status line came and the body is still being read (set and
// notified at once: from then on the spans are delivered whatever the body does).
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { job, sab, timeoutMs } = workerData;
const flag = new Int32Array(sab, 0, 4);
let done = false;
function put(at, max, slot, buf) { try { const b = buf.subarray(0, max); new Uint8Array(sab, at, b.length).set(b); flag[slot] = b.length; } catch {} }
function finish(ok, why, answer) {
  if (done) return; done = true;
  if (!ok && why) put(${MSG_AT}, ${MSG_MAX}, 1, Buffer.from(String(why)));
  if (ok && answer && answer.length <= ${ANSWER_MAX}) put(${ANSWER_AT}, ${ANSWER_MAX}, 2, answer);
  Atomics.store(flag, 0, ok ? 1 : 2); Atomics.notify(flag, 0);
}
try {
  const body = Buffer.from(job.body);
  if (job.kind === 'http') {
    const mod = require(job.url.startsWith('https:') ? 'node:https' : 'node:http');
    const headers = Object.assign({}, job.headers, { 'content-length': body.length });
    const req = mod.request(job.url, { method: 'POST', headers, ca: job.ca, cert: job.cert, key: job.key, timeout: timeoutMs }, (res) => {
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      if (ok && Atomics.compareExchange(flag, 0, 0, 3) === 0) Atomics.notify(flag, 0);
      const chunks = []; let size = 0;
      const end = () => finish(ok, 'HTTP ' + res.statusCode, size <= ${ANSWER_MAX} ? Buffer.concat(chunks) : undefined);
      res.on('data', (c) => { size += c.length; if (size <= ${ANSWER_MAX}) chunks.push(c); else { end(); res.destroy(); } });
      res.on('end', end); res.on('aborted', end); res.on('close', end); res.on('error', end);
    });
    req.on('timeout', () => { req.destroy(); finish(false, 'timeout'); });
    req.on('error', (e) => finish(false, e.message));
    req.end(body);
  } else {
    const grpc = require(job.grpcPath);
    const creds = job.secure ? grpc.credentials.createSsl(job.ca || null, job.key || null, job.cert || null) : grpc.credentials.createInsecure();
    const client = new grpc.Client(job.address, creds);
    const md = new grpc.Metadata();
    for (const k of Object.keys(job.metadata)) md.set(k, job.metadata[k]);
    client.makeUnaryRequest(job.path, (b) => b, (b) => b, body, md, { deadline: Date.now() + timeoutMs }, (err, value) => {
      finish(!err, err && err.message, value); client.close();
    });
  }
} catch (e) { finish(false, e && e.message); }
`;

/** Delivered (with the collector's answer, if any), or why not. */
export function sendSync(job: SyncJob, timeoutMs: number): ExportOutcome & { body?: Buffer } {
  const { Worker } = process.getBuiltinModule('node:worker_threads') as typeof wtT;
  const sab = new SharedArrayBuffer(ANSWER_AT + ANSWER_MAX);
  const flag = new Int32Array(sab, 0, 4);
  let worker: wtT.Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { job, sab, timeoutMs },
      // The worker must not load the agent again, nor print anything.
      execArgv: [],
      stdout: true,
      stderr: true,
    });
  } catch (e) {
    return { ok: false, error: `could not start the exit sender: ${(e as Error).message}` };
  }
  worker.unref();
  const start = Date.now();
  Atomics.wait(flag, 0, 0, timeoutMs);
  let status = Atomics.load(flag, 0);
  if (status === 3) {
    Atomics.wait(flag, 0, 3, Math.max(0, Math.min(BODY_GRACE_MS, timeoutMs - (Date.now() - start))));
    status = Atomics.load(flag, 0);
  }
  void worker.terminate().catch(() => undefined);
  if (status === 1) {
    const n = Atomics.load(flag, 2);
    return { ok: true, body: n > 0 ? Buffer.from(new Uint8Array(sab, ANSWER_AT, n)) : undefined };
  }
  // The collector answered 2xx and its body is still coming: the spans are delivered.
  if (status === 3) return { ok: true };
  if (status === 0) return { ok: false, error: `no answer within ${timeoutMs} ms at exit (OTEL_AGENT_FLUSH_TIMEOUT)` };
  const len = Atomics.load(flag, 1);
  const why = len > 0 ? Buffer.from(new Uint8Array(sab, MSG_AT, len)).toString() : 'failed';
  return { ok: false, error: why };
}
