/**
 * Which spans of a process started with a TRACEPARENT continue that trace
 * (OTEL_AGENT_ENV_CONTEXT), on what the OTLP receiver got: by default a root
 * span before the process has served anything does, one after it has served a
 * request does not; `process` keeps it for every root span, `off` for none.
 * And worker threads: a request offloaded to a worker that makes an HTTP
 * call is one trace.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, one, spanTree, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx?.close();
});

const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);

async function run(ext: string, mode: string | undefined): Promise<{ first: RecvSpan; second: RecvSpan; traceId: string; spanId: string }> {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  const service = `window-${ext}-${mode ?? 'default'}`;
  const r = await runFixture({
    fixture: `context/window.${ext}`,
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: service, TRACEPARENT: `00-${traceId}-${spanId}-01`, OTEL_AGENT_ENV_CONTEXT: mode },
  });
  expect(r.code, r.stderr).toBe(0);
  await rx.waitForSpans((all) => all.filter((s) => s.resource['service.name'] === service).length >= 4, 5000);
  const spans = of(service);
  const clients = spans.filter((s) => s.kind === 'CLIENT');
  return { first: one(clients, /\/first$/), second: one(clients, /\/second$/), traceId, spanId };
}

describe.each(VARIANTS)('environment context at startup (%s)', (ext) => {
  it('default: a root span before the first served request continues it, one after does not', async () => {
    const { first, second, traceId, spanId } = await run(ext, undefined);
    expect(first.traceId).toBe(traceId);
    expect(first.parentSpanId).toBe(spanId);
    expect(second.traceId).not.toBe(traceId);
    expect(second.parentSpanId).toBe('');
  });

  it('process: every root span continues it; off: none does', async () => {
    const p = await run(ext, 'process');
    expect([p.first.traceId, p.second.traceId]).toEqual([p.traceId, p.traceId]);
    expect(p.second.parentSpanId).toBe(p.spanId);
    const o = await run(ext, 'off');
    expect(o.first.traceId).not.toBe(o.traceId);
    expect(o.first.parentSpanId).toBe('');
  });
});

describe.each(VARIANTS)('worker threads (%s)', (ext) => {
  it('a request offloaded to a worker that makes an HTTP call is one trace; workerData is untouched', async () => {
    const service = `offload-${ext}`;
    const r = await runFixture({
      fixture: `context/worker-offload.${ext}`,
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, OTEL_AGENT_ENABLE_IN_WORKERS: 'true' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('WORKER ["port"]');
    await rx.waitForSpans((all) => all.filter((s) => s.resource['service.name'] === service && s.kind === 'SERVER').length >= 2, 5000);
    const spans = of(service);
    const tree = spanTree(spans);
    const work = one(
      spans.filter((s) => s.kind === 'SERVER'),
      'GET /work',
    );
    const fromWorker = one(
      spans.filter((s) => s.kind === 'SERVER'),
      'GET /from-worker',
    );
    const workerClient = spans.find((s) => s.spanId === fromWorker.parentSpanId);
    expect(workerClient?.kind, tree).toBe('CLIENT');
    // The worker's root span is a child of the request that started the worker.
    expect(workerClient!.parentSpanId, tree).toBe(work.spanId);
    for (const s of spans) expect(s.traceId, tree).toBe(work.traceId);
  });

  it('without OTEL_AGENT_ENABLE_IN_WORKERS the worker is untraced and the app unchanged', async () => {
    const service = `offload-off-${ext}`;
    const r = await runFixture({ fixture: `context/worker-offload.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('WORKER ["port"]');
    await rx.waitForSpans((all) => all.filter((s) => s.resource['service.name'] === service && s.kind === 'SERVER').length >= 2, 5000);
    const fromWorker = one(
      of(service).filter((s) => s.kind === 'SERVER'),
      'GET /from-worker',
    );
    expect(fromWorker.parentSpanId).toBe('');
  });
});
