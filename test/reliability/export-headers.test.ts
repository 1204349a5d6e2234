/**
 * OTEL_EXPORTER_OTLP_HEADERS entries that cannot be sent as a header (a space
 * in the name, a CR/LF in the value; for gRPC also upper-case-only rules,
 * `-bin` names and non-ASCII values). Node and grpc-js refuse such a header
 * on every request, so one bad entry used to make every export fail for the
 * life of the process. Now the entry is dropped at startup with one warning
 * naming the variable and the entry (never the value, often an API key), and
 * the spans reach the collector with the other entries.
 */
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

const SECRET = 'sekrit-4242';
const agentWarnings = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('[otel-agent]') && l.includes('OTEL_EXPORTER_OTLP'));

describe.each(VARIANTS)('OTLP header entries that cannot be sent (%s)', (ext) => {
  it.each([
    {
      protocol: 'http/protobuf',
      // `bad name`: a space is not allowed in a header name; `x-crlf`: its decoded value holds CR LF.
      headers: `x-api-key=${SECRET},bad name=${SECRET},x-crlf=a%0D%0Ab${SECRET}`,
      dropped: ['"bad name"', '"x-crlf"'],
    },
    {
      protocol: 'grpc',
      // gRPC metadata: `-bin` names take bytes; values must be printable ASCII (é is not).
      headers: `x-api-key=${SECRET},x-trace-bin=${SECRET},x-accent=%C3%A9${SECRET}`,
      dropped: ['"x-trace-bin"', '"x-accent"'],
    },
  ])('$protocol: drops the bad entries with one warning, exports with the good one', async ({ protocol, headers, dropped }) => {
    const service = `headers-${protocol.replace('/', '-')}-${ext}`;
    const r = await runFixture({
      fixture: `core/lifecycle.${ext}`,
      args: ['drain'],
      endpoint: protocol === 'grpc' ? rx.grpcUrl : rx.url,
      env: { OTEL_SERVICE_NAME: service, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_HEADERS: headers },
    });
    expect(r.code, r.stderr).toBe(0);

    // The request's spans arrived (CLIENT -> SERVER -> fs), sent with the entry that was fine.
    const mine = rx.spans().filter((s) => s.resource['service.name'] === service);
    expect(mine.map((s) => s.kind).sort()).toEqual(['CLIENT', 'INTERNAL', 'SERVER']);
    const sent = rx.requests().filter((q) => q.transport === (protocol === 'grpc' ? 'grpc' : 'http/protobuf') && q.headers['x-api-key'] === SECRET);
    expect(sent.length).toBeGreaterThan(0);
    for (const q of sent) for (const name of ['bad name', 'x-crlf', 'x-trace-bin', 'x-accent']) expect(q.headers[name]).toBeUndefined();

    // One warning, naming the variable and each dropped entry, never a value.
    const warnings = agentWarnings(r.stderr);
    expect(warnings, r.stderr).toHaveLength(1);
    expect(warnings[0]).toContain('OTEL_EXPORTER_OTLP_HEADERS');
    for (const d of dropped) expect(warnings[0]).toContain(d);
    expect(r.stderr).not.toContain(SECRET);
  });
});
