import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const paths = (before: number) =>
  rx
    .requests()
    .slice(before)
    .map((r) => r.path);

describe.each(VARIANTS)('metrics and logs pipelines (%s)', (ext) => {
  it('by default metrics follow the traces to OTLP and logs are not set up', async () => {
    const before = rx.requests().length;
    const r = await runFixture({ fixture: `core/logging.${ext}`, endpoint: rx.url, env: {} });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect([...new Set(paths(before))].sort()).toEqual(['/v1/metrics', '/v1/traces']);
  });

  it('OTEL_METRICS_EXPORTER=none: only traces are sent', async () => {
    const before = rx.requests().length;
    const r = await runFixture({ fixture: `core/logging.${ext}`, endpoint: rx.url, env: { OTEL_METRICS_EXPORTER: 'none' } });
    expect(r.code, r.stderr).toBe(0);
    expect([...new Set(paths(before))]).toEqual(['/v1/traces']);
  });

  it('on by default, a backend without metrics (404) is one line, and traces go on', async () => {
    const before = rx.requests().length;
    const r = await runFixture({
      fixture: `core/logging.${ext}`,
      endpoint: rx.url,
      // The receiver's /v1/metrics would take them: a metrics endpoint that answers 404, as Jaeger's does.
      env: { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${rx.url}/no/such/v1/metrics` },
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /does not accept metrics \(HTTP 404 Not Found\); metrics, on by default with OTLP traces, stop for this process \(OTEL_METRICS_EXPORTER=none/,
    );
    expect(paths(before)).toContain('/v1/traces');
  });

  it("OTEL_METRICS_EXPORTER=otlp exports the instrumentations' metrics to /v1/metrics", async () => {
    const before = rx.requests().length;
    // The export timeout is capped at the interval (the SDK requires it): 50 ms made the first
    // export (module load, first connection) time out on a loaded machine. The app's exit flush sends them anyway.
    const r = await runFixture({
      fixture: `core/logging.${ext}`,
      endpoint: rx.url,
      env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: '1000' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    await rx.waitForSpans(
      () =>
        rx
          .requests()
          .slice(before)
          .some((q) => q.path === '/v1/metrics'),
      5000,
    );
    expect(paths(before)).toContain('/v1/metrics');
  });

  it('OTEL_LOGS_EXPORTER=otlp sends pino records to /v1/logs', async () => {
    const before = rx.requests().length;
    const r = await runFixture({ fixture: `core/logging.${ext}`, endpoint: rx.url, env: { OTEL_LOGS_EXPORTER: 'otlp' } });
    expect(r.code, r.stderr).toBe(0);
    await rx.waitForSpans(
      () =>
        rx
          .requests()
          .slice(before)
          .some((q) => q.path === '/v1/logs'),
      5000,
    );
    expect(paths(before)).toContain('/v1/logs');
    // The app's own log line is untouched apart from the correlation fields.
    const line = JSON.parse(r.stdout.trim().split('\n')[0]!) as Record<string, unknown>;
    expect(line.msg).toBe('order handled');
    expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });
});
