/**
 * OTEL_EXPORTER_OTLP_HEADERS / OTEL_EXPORTER_OTLP_TRACES_HEADERS with entries
 * no header can carry (a value that decodes to CR/LF, a name with a space):
 * those entries are dropped at startup with one warning naming the variable
 * and the entries (never their values), and every export still carries the
 * good entries. Without that, Node refused the whole request on every export
 * and no span ever arrived.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

// Values that must never show up in the app's stderr (they are often credentials).
const SECRET_CRLF = 'crlfsecret';
const SECRET_SPACE = 'spacesecret';
// The first good entry carries the test's service name: it tells this test's exports from the others'.
const entries = (service: string): string => `x-good-one=${service},x-bad=${SECRET_CRLF}%0D%0Ainjected: 1,bad name=${SECRET_SPACE},x-good-two=second%20good`;
const REQUESTS = 3;

describe.concurrent('export header entries that cannot be sent', () => {
  it.each([
    ['OTEL_EXPORTER_OTLP_HEADERS', 'http/protobuf', 'cjs'],
    ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'http/json', 'mjs'],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'grpc', 'mjs'],
    ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'grpc', 'cjs'],
  ] as const)('%s over %s (%s): bad entries dropped with one warning, good ones on every export', async (variable, protocol, ext) => {
    const service = `headers-${variable.length}-${protocol.replace('/', '-')}-${ext}`;
    const r = await runFixture({
      fixture: `core/lifecycle.${ext}`,
      args: ['drain'],
      endpoint: protocol === 'grpc' ? rx.grpcUrl : rx.url,
      env: {
        OTEL_SERVICE_NAME: service,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        [variable]: entries(service),
        FIXTURE_REQUESTS: String(REQUESTS),
        // One span per export: the headers are checked on many exports, not one.
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    // Every span arrived: each request is a SERVER and a CLIENT span plus the handler's fs read.
    const spans = rx.spans().filter((s) => s.resource['service.name'] === service);
    expect(spans, r.stderr).toHaveLength(REQUESTS * 3);
    const ours = rx.requests().filter((q) => q.spanCount > 0 && q.headers['x-good-one'] === service);
    // One span per export, so one export per span, each with both good entries and neither bad one.
    expect(ours.length).toBe(spans.length);
    for (const q of ours) {
      expect(q.transport).toBe(protocol);
      expect(q.headers['x-good-two']).toBe('second good');
      expect(q.headers['x-bad']).toBeUndefined();
      expect(Object.keys(q.headers).filter((k) => k.includes(' ') || k.startsWith('bad'))).toEqual([]);
    }
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    // Exactly one line, a warning, naming the variable and both bad entries, and nothing else on stderr.
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[otel-agent\] warning:/);
    expect(lines[0]).toContain(variable);
    expect(lines[0]).toContain('"x-bad"');
    expect(lines[0]).toContain('"bad name"');
    expect(lines[0]).not.toContain('x-good');
    expect(r.stderr).not.toContain(SECRET_CRLF);
    expect(r.stderr).not.toContain(SECRET_SPACE);
    expect(r.stderr).not.toContain('injected');
  });
});
