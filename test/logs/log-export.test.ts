/**
 * Log records as a backend receives them, with the logs' own export settings: pino's record
 * inside a traced request goes to the logs endpoint with its protocol and headers, carries the
 * request's trace and span ids, its severity and its structured fields; the traces keep theirs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';

let a: OtlpReceiver;
let b: OtlpReceiver;
beforeEach(async () => {
  [a, b] = await Promise.all([startOtlpReceiver(), startOtlpReceiver()]);
});
afterEach(async () => {
  await Promise.all([a.close(), b.close()]);
});

const paths = (rx: OtlpReceiver): string[] => [...new Set(rx.requests().map((r) => r.path))].sort();

describe.each(VARIANTS)('log record export (%s)', (ext) => {
  it('LOGS_ endpoint, protocol and headers apply to logs only; records are correlated', async () => {
    const r = await runFixture({
      fixture: `core/logging.${ext}`,
      endpoint: a.url,
      env: {
        OTEL_LOGS_EXPORTER: 'otlp',
        OTEL_BLRP_SCHEDULE_DELAY: '20',
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${b.url}/v1/logs`,
        OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-logs=l1',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-traces=t1',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    // Metrics follow the traces' endpoint by default, not the logs' one.
    expect(paths(a)).toEqual(['/v1/metrics', '/v1/traces']);
    expect(paths(b)).toEqual(['/v1/logs']);
    for (const q of b.requests()) {
      expect(q.transport).toBe('http/json');
      expect(q.headers['x-logs']).toBe('l1');
      expect(q.headers['x-traces']).toBeUndefined();
    }
    expect(a.requests().every((q) => q.headers['x-logs'] === undefined)).toBe(true);

    const rec = b.logs().find((l) => l.body === 'order handled');
    expect(
      rec,
      JSON.stringify(b.logs(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    ).toBeDefined();
    expect(rec!.severityNumber).toBe(9); // INFO
    expect(rec!.severityText).toBe('info');
    expect(rec!.attributes.order).toBe(42);
    // Made inside the request's handler: it points at the SERVER span the traces receiver got.
    const server = a.spans().find((s) => s.kind === 'SERVER')!;
    expect(rec!.traceId).toBe(server.traceId);
    expect(rec!.spanId).toBe(server.spanId);
  });

  it('OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT bounds log records, not spans', async () => {
    const r = await runFixture({
      fixture: `core/logging.${ext}`,
      endpoint: a.url,
      env: { OTEL_LOGS_EXPORTER: 'otlp', OTEL_BLRP_SCHEDULE_DELAY: '20', OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '0' },
    });
    expect(r.code, r.stderr).toBe(0);
    const rec = a.logs().find((l) => l.body === 'order handled');
    expect(rec).toBeDefined();
    expect(rec!.attributes).toEqual({});
    const server = a.spans().find((s) => s.kind === 'SERVER')!;
    expect(Object.keys(server.attributes).length).toBeGreaterThan(3);
  });

  it('winston records are sent (through @opentelemetry/winston-transport) with severity, fields and ids', async () => {
    const r = await runFixture({
      fixture: `logs/winston-send.${ext}`,
      endpoint: a.url,
      env: { OTEL_LOGS_EXPORTER: 'otlp', OTEL_BLRP_SCHEDULE_DELAY: '20' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('winston-transport is not available');
    const rec = a.logs().find((l) => l.body === 'order failed');
    expect(rec).toBeDefined();
    expect(rec!.severityNumber).toBe(13); // WARN
    expect(rec!.severityText).toBe('warn');
    expect(rec!.attributes.order).toBe(7);
    const server = a.spans().find((s) => s.kind === 'SERVER')!;
    expect(rec!.traceId).toBe(server.traceId);
    expect(rec!.spanId).toBe(server.spanId);
    // The app's own line still goes to stdout, correlated.
    expect(JSON.parse(r.stdout.trim().split('\n')[0]!)).toMatchObject({ message: 'order failed', trace_id: server.traceId });
  });

  it('an error logged with its own credentials exports its type, message and stack, not the credentials', async () => {
    const r = await runFixture({
      fixture: `logs/error-secrets.${ext}`,
      endpoint: a.url,
      env: { OTEL_LOGS_EXPORTER: 'otlp', OTEL_BLRP_SCHEDULE_DELAY: '20' },
    });
    expect(r.code, r.stderr).toBe(0);
    const recs = a.logs();
    expect(recs.map((l) => l.body).sort()).toEqual(['pino failed', 'upstream refused', 'winston failed']);
    for (const rec of recs) {
      expect(rec.attributes['exception.message']).toBe('upstream refused');
      expect(String(rec.attributes['exception.stacktrace'])).toContain('Error: upstream refused');
      // Frames name files relative to the app's directory, never the host's absolute paths.
      expect(String(rec.attributes['exception.stacktrace'])).toMatch(/(?:^|[\s(])test[\\/]fixtures[\\/]/m);
      expect(String(rec.attributes['exception.stacktrace'])).not.toContain(process.cwd());
      const wire = JSON.stringify(rec.attributes);
      expect(wire).not.toContain('s3cret-token');
      expect(wire).not.toContain('hunter2');
    }
    // What is not a credential stays: the spread error's config, minus its authorization header.
    const spread = recs.find((l) => l.body === 'upstream refused')!;
    expect(spread.attributes.config).toEqual({ url: '/orders', headers: { authorization: 'REDACTED', accept: 'json' } });
    expect(spread.attributes.password).toBe('REDACTED');
    expect(recs.find((l) => l.body === 'pino failed')!.attributes.order).toBe(1);
  });

  it.each(['exit', 'sigterm'])('a record logged just before the process ends (%s) arrives', async (how) => {
    const r = await runFixture({
      fixture: `logs/exit-now.${ext}`,
      endpoint: a.url,
      // A long batch delay: only the exit flush can deliver the record.
      env: { EXIT_HOW: how, OTEL_LOGS_EXPORTER: 'otlp', OTEL_BLRP_SCHEDULE_DELAY: '60000' },
    });
    // The process ends as it would without the agent.
    if (how === 'exit') expect(r.code, r.stderr).toBe(3);
    else expect(r.signal, r.stderr).toBe('SIGTERM');
    expect(a.logs().map((l) => [l.body, l.attributes.how])).toEqual([['last words', how]]);
  });
});
