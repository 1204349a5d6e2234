/**
 * Log records from console calls (OTEL_AGENT_CONSOLE_LOGS, opt-in) and from bunyan, as a
 * backend receives them: body, severity, the request's trace and span ids, an error's
 * exception.* without the credentials its own properties carry; console output unchanged.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});
beforeEach(() => rx.clear());

describe.each(VARIANTS)('console and bunyan records (%s)', (ext) => {
  it('OTEL_AGENT_CONSOLE_LOGS=true sends console calls as log records, printed as before', async () => {
    const r = await runFixture({
      fixture: `logs/console-send.${ext}`,
      endpoint: rx.url,
      env: { OTEL_LOGS_EXPORTER: 'otlp', OTEL_AGENT_CONSOLE_LOGS: 'true' },
    });
    expect(r.code, r.stderr).toBe(0);
    // What the app printed is what it prints without the agent.
    expect(r.stdout).toBe('starting\norder 7 loaded\n');
    expect(r.stderr).toContain("low stock { sku: 'A-1' }\n");
    expect(r.stderr).toContain('s3cret-token'); // the app's own output is the app's business
    const recs = rx.logs().filter((l) => l.scope === '@x/otel-agent/console');
    expect(recs.map((l) => [l.body, l.severityNumber, l.severityText, l.attributes['log.iostream']])).toEqual([
      ['starting', 9, 'info', 'stdout'],
      ['order 7 loaded', 9, 'log', 'stdout'],
      ["low stock { sku: 'A-1' }", 13, 'warn', 'stderr'],
      [expect.stringMatching(/^call failed Error: upstream refused\n\s+at /), 17, 'error', 'stderr'],
    ]);
    // Outside any span: no ids; inside the handler: the SERVER span's.
    expect([recs[0]!.traceId, recs[0]!.spanId]).toEqual(['', '']);
    const server = rx.spans().find((s) => s.kind === 'SERVER')!;
    for (const rec of recs.slice(1)) expect([rec.traceId, rec.spanId]).toEqual([server.traceId, server.spanId]);
    const err = recs[3]!;
    expect(err.attributes['exception.type']).toBe('Error');
    expect(err.attributes['exception.message']).toBe('upstream refused');
    expect(String(err.attributes['exception.stacktrace'])).toContain('console-send');
    expect(JSON.stringify(recs, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('s3cret-token');
  });

  it('console calls are not sent by default', async () => {
    const r = await runFixture({ fixture: `logs/console-send.${ext}`, endpoint: rx.url, env: { OTEL_LOGS_EXPORTER: 'otlp' } });
    expect(r.code, r.stderr).toBe(0);
    expect(rx.spans().length).toBeGreaterThan(0);
    expect(rx.logs()).toEqual([]);
  });

  it('a bunyan record inside a request is sent with its severity, fields and ids', async () => {
    const r = await runFixture({ fixture: `logs/bunyan-send.${ext}`, endpoint: rx.url, env: { OTEL_LOGS_EXPORTER: 'otlp' } });
    expect(r.code, r.stderr).toBe(0);
    // bunyan still prints its JSON line, with the ids correlation adds.
    const line = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    expect(line.msg).toBe('order failed');
    const rec = rx.logs().find((l) => l.body === 'order failed');
    expect(
      rec,
      JSON.stringify(rx.logs(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    ).toBeDefined();
    expect(rec!.severityNumber).toBe(13); // WARN
    expect(rec!.attributes.order).toBe(7);
    const server = rx.spans().find((s) => s.kind === 'SERVER')!;
    expect([rec!.traceId, rec!.spanId]).toEqual([server.traceId, server.spanId]);
    expect(line.trace_id).toBe(server.traceId);
  });
});
