// Per-span cost: create, annotate (three attributes) and end spans through
// whatever tracer the preloaded agent registered, in chunks that yield to the
// event loop (as a real app does) so the export pipeline runs alongside. Then
// flushes and reports: wall and CPU time per span, the loop alone and up to
// "everything handed to the exporter", and the agent's own counters.
const api = require('@opentelemetry/api');
const { writeSync } = require('node:fs');

const N = Number(process.env.BENCH_SPANS || 1e6);
const CHUNK = 1000;
// BENCH_RATE (spans/s): pace the chunks to a sustained rate instead of as fast as possible,
// to find the rate at which the export pipeline starts dropping.
const RATE = Number(process.env.BENCH_RATE || 0);
// dd-trace registers no OpenTelemetry provider unless asked: use its own API.
const dd = globalThis[Symbol.for('dd-trace')] ? require('dd-trace') : undefined;
const otel = api.trace.getTracer('bench', '1.0.0');
const tracer = dd
  ? {
      startSpan: (name) => {
        const s = dd.startSpan(name);
        return { setAttribute: (k, v) => s.setTag(k, v), end: () => s.finish() };
      },
    }
  : otel;

async function flush() {
  const agent = globalThis[Symbol.for('@x/otel-agent')]?.handle;
  if (agent) return agent.flush();
  if (dd) return new Promise((r) => dd._tracer._exporter.flush(r));
  const p = api.trace.getTracerProvider();
  const d = typeof p.getDelegate === 'function' ? p.getDelegate() : p;
  if (typeof d.forceFlush === 'function') await d.forceFlush();
}

async function main() {
  const yieldNow = () => new Promise((r) => setImmediate(r));
  let loopNs = 0n;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i += CHUNK) {
    const l0 = process.hrtime.bigint();
    const end = Math.min(N, i + CHUNK);
    for (let j = i; j < end; j++) {
      const span = tracer.startSpan('work');
      span.setAttribute('work.id', j);
      span.setAttribute('work.kind', 'bench');
      span.setAttribute('work.ok', true);
      span.end();
    }
    loopNs += process.hrtime.bigint() - l0;
    if (RATE > 0) {
      // Wait until this chunk's slot at the target rate (timers, as an app's own work would).
      const due = Number(t0) / 1e6 + (end / RATE) * 1000;
      const wait = due - Number(process.hrtime.bigint()) / 1e6;
      await (wait > 1 ? new Promise((r) => setTimeout(r, wait)) : yieldNow());
    } else await yieldNow();
  }
  await flush();
  const totalNs = process.hrtime.bigint() - t0;
  const c = process.cpuUsage(c0);
  const stats = globalThis[Symbol.for('@x/otel-agent')]?.handle?.stats;
  writeSync(
    1,
    `SPANS ${JSON.stringify({ n: N, loopNs: Number(loopNs), totalNs: Number(totalNs), cpuUs: c.user + c.system, stats: stats ? { ...stats } : null })}\n`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
