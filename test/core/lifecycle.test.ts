import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, byName, one } from '../harness/otlp-receiver';
import { runFixture, startFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

/** The request every lifecycle fixture makes: CLIENT -> SERVER -> fs, one trace. */
function expectOneRequestTrace(spans: ReturnType<OtlpReceiver['spans']>, service: string) {
  const mine = spans.filter((s) => s.resource['service.name'] === service);
  const server = one(
    mine.filter((s) => s.kind === 'SERVER'),
    /^GET \/orders\/:id$/,
  );
  const client = one(
    mine.filter((s) => s.kind === 'CLIENT'),
    /^GET/,
  );
  const fs = one(mine, 'fs readFileSync');
  expect(server.parentSpanId).toBe(client.spanId);
  expect(fs.parentSpanId).toBe(server.spanId);
  expect(new Set([server.traceId, client.traceId, fs.traceId]).size).toBe(1);
  return { server, client, fs };
}

describe.each(VARIANTS)('exit paths deliver every ended span (%s)', (ext) => {
  const fixture = `core/lifecycle.${ext}`;

  it('when the event loop drains', async () => {
    const service = `drain-${ext}`;
    const r = await runFixture({ fixture, args: ['drain'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' } });
    expect(r.code, r.stderr).toBe(0);
    // The batch delay is a minute: only the exit flush can have delivered these.
    expectOneRequestTrace(rx.spans(), service);
  });

  it('when the app calls process.exit(3), keeping the exit code', async () => {
    const service = `exit-${ext}`;
    const r = await runFixture({ fixture, args: ['exit'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' } });
    expect(r.code, r.stderr).toBe(3);
    expectOneRequestTrace(rx.spans(), service);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('on %s with no app handler, still dying by that signal', async (sig) => {
    const service = `${sig}-${ext}`;
    const f = startFixture({ fixture, args: ['signal'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' } });
    await f.ready;
    f.child.kill(sig);
    const r = await f.result;
    expect(r.signal, r.stderr).toBe(sig);
    expect(r.code).toBeNull();
    expectOneRequestTrace(rx.spans(), service);
  });

  it('on SIGTERM handled by the app, which cleans up and exits 0', async () => {
    const service = `sigterm-app-${ext}`;
    const f = startFixture({ fixture, args: ['sigterm-handler'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' } });
    await f.ready;
    f.child.kill('SIGTERM');
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('app cleanup done');
    expectOneRequestTrace(rx.spans(), service);
  });

  it('on an uncaught exception: exit code 1 kept, exception recorded on the active span', async () => {
    const service = `uncaught-${ext}`;
    const r = await runFixture({ fixture, args: ['uncaught'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('boom from handler');
    const mine = rx.spans().filter((s) => s.resource['service.name'] === service);
    const boom = one(
      mine.filter((s) => s.kind === 'SERVER'),
      'GET /boom',
    );
    expect(boom.status.code).toBe('ERROR');
    expect(boom.status.message).toBe('boom from handler');
    const ev = boom.events.find((e) => e.name === 'exception');
    expect(ev?.attributes['exception.message']).toBe('boom from handler');
    expect(byName(mine, /^GET \/orders/)).toHaveLength(1);
  });
});

describe.each(VARIANTS)('exit is bounded when the collector hangs (%s)', (ext) => {
  it.each(['drain', 'exit'] as const)('%s: the app ends as it would have, the flush gives up after OTEL_AGENT_FLUSH_TIMEOUT', async (mode) => {
    const hung = await startOtlpReceiver();
    hung.setBehavior('hang');
    try {
      const r = await runFixture({
        fixture: `core/lifecycle.${ext}`,
        args: [mode],
        endpoint: hung.url,
        // Exports in flight when the app finishes must not keep it alive for the 10 s export timeout;
        // the runner kills a fixture after 20 s, so a hang here fails the test instead of passing slowly.
        timeoutMs: 20_000,
        env: { OTEL_AGENT_FLUSH_TIMEOUT: '300', OTEL_BSP_SCHEDULE_DELAY: '1', OTEL_LOG_LEVEL: 'info' },
      });
      expect(r.signal).toBeNull();
      expect(r.code, r.stderr).toBe(mode === 'exit' ? 3 : 0);
      // The exit summary tells the user spans were lost, and why.
      expect(r.stderr).toMatch(/spans: \d+ started, 0 exported, 0 dropped \(queue full\), 3 lost/);
      expect(hung.requests().length).toBeGreaterThan(0);
    } finally {
      await hung.close();
    }
  });
});

describe.each(VARIANTS)('a batch in flight when the app finishes (%s)', (ext) => {
  it('is delivered once: the app waits for the answer (bounded), the exit flush does not resend it', async () => {
    const slow = await startOtlpReceiver();
    slow.setBehavior({ delayMs: 300 });
    try {
      const r = await runFixture({
        fixture: `core/lifecycle.${ext}`,
        args: ['drain'],
        endpoint: slow.url,
        env: { OTEL_BSP_SCHEDULE_DELAY: '1', FIXTURE_REQUESTS: '3' },
      });
      expect(r.code, r.stderr).toBe(0);
      const ids = slow.spans().map((s) => s.spanId);
      expect(ids).toHaveLength(9);
      expect(new Set(ids).size).toBe(9);
    } finally {
      await slow.close();
    }
  });
});
