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

// Plain JS run inside the worker. Kept tiny; status 1 = delivered, 2 = failed.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { job, sab, timeoutMs } = workerData;
const flag = new Int32Array(sab);
let done = false;
function finish(ok, why) {
  if (done) return; done = true;
  if (!ok && why) { try { const m = Buffer.from(String(why).slice(0, 200)); new Uint8Array(sab, 8, 200).set(m); new Int32Array(sab)[1] = m.length; } catch {} }
  Atomics.store(flag, 0, ok ? 1 : 2); Atomics.notify(flag, 0);
}
try {
  const body = Buffer.from(job.body);
  if (job.kind === 'http') {
    const mod = require(job.url.startsWith('https:') ? 'node:https' : 'node:http');
    const headers = Object.assign({}, job.headers, { 'content-length': body.length });
    const req = mod.request(job.url, { method: 'POST', headers, ca: job.ca, cert: job.cert, key: job.key, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode >= 200 && res.statusCode < 300, 'HTTP ' + res.statusCode));
      res.on('error', (e) => finish(false, e.message));
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
    client.makeUnaryRequest(job.path, (b) => b, (b) => b, body, md, { deadline: Date.now() + timeoutMs }, (err) => {
      finish(!err, err && err.message); client.close();
    });
  }
} catch (e) { finish(false, e && e.message); }
`;

export function sendSync(job: SyncJob, timeoutMs: number): ExportOutcome {
  const { Worker } = process.getBuiltinModule('node:worker_threads') as typeof wtT;
  const sab = new SharedArrayBuffer(8 + 200);
  const flag = new Int32Array(sab, 0, 2);
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
  Atomics.wait(flag, 0, 0, timeoutMs);
  const status = Atomics.load(flag, 0);
  void worker.terminate().catch(() => undefined);
  if (status === 1) return { ok: true };
  if (status === 0) return { ok: false, error: `no answer within ${timeoutMs} ms at exit (OTEL_AGENT_FLUSH_TIMEOUT)` };
  const len = Atomics.load(flag, 1);
  const why = len > 0 ? Buffer.from(new Uint8Array(sab, 8, len)).toString() : 'failed';
  return { ok: false, error: why };
}
