import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan, one } from '../harness/otlp-receiver';
import { ROOT, runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);
const run = (ext: string, service: string, env: Record<string, string | undefined> = {}, args = ['drain']) =>
  runFixture({ fixture: `core/lifecycle.${ext}`, args, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, ...env } });

function headersSeen(stdout: string): Record<string, string> {
  const line = stdout.split('\n').find((l) => l.startsWith('HEADERS '));
  if (!line) throw new Error('no HEADERS line: ' + stdout);
  return JSON.parse(line.slice(8));
}

describe.each(VARIANTS)('export pipeline (%s)', (ext) => {
  it.each(['http/protobuf', 'http/json', 'grpc'] as const)('delivers over OTLP %s', async (protocol) => {
    const service = `proto-${protocol.replace('/', '-')}-${ext}`;
    const endpoint = protocol === 'grpc' ? rx.grpcUrl : rx.url;
    const r = await runFixture({
      fixture: `core/lifecycle.${ext}`,
      args: ['drain'],
      env: { OTEL_SERVICE_NAME: service, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(of(service)).toHaveLength(3);
    const reqs = rx.requests().filter((q) => q.transport === protocol && q.spanCount > 0);
    expect(reqs.length).toBeGreaterThan(0);
  });

  it('sends OTEL_EXPORTER_OTLP_HEADERS and gzip, and never prints header values even at debug level', async () => {
    const service = `headers-${ext}`;
    const before = rx.requests().length;
    const r = await run(ext, service, {
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cr3t-value,x-tenant=acme',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_LOG_LEVEL: 'debug',
    });
    expect(r.code, r.stderr).toBe(0);
    const mine = rx
      .requests()
      .slice(before)
      .filter((q) => q.spanCount > 0);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine[0]!.headers['authorization']).toBe('Bearer s3cr3t-value');
    expect(mine[0]!.headers['x-tenant']).toBe('acme');
    expect(mine[0]!.contentEncoding).toBe('gzip');
    expect(r.stderr).toContain('[otel-agent]');
    expect(r.stderr).not.toContain('s3cr3t');
    expect(r.stdout).not.toContain('s3cr3t');
  });

  it('prints each trace as a tree with OTEL_TRACES_EXPORTER=console', async () => {
    const r = await run(ext, `console-${ext}`, { OTEL_TRACES_EXPORTER: 'console' });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/orders\/:id  client  200  \d+\.\d ms  trace [0-9a-f]{32}$/);
    expect(lines[1]).toMatch(/^└─ GET \/orders\/:id  server  200  \d+\.\d ms$/);
    expect(lines[2]).toMatch(/^   └─ fs readFileSync  internal  \d+\.\d ms$/);
  });

  it('posts Zipkin JSON with OTEL_TRACES_EXPORTER=zipkin', async () => {
    const bodies: unknown[][] = [];
    const sink = http.createServer((req, res) => {
      let b = '';
      req.on('data', (d: Buffer) => (b += d));
      req.on('end', () => {
        bodies.push(JSON.parse(b) as unknown[]);
        res.statusCode = 202;
        res.end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/api/v2/spans`;
      const r = await run(ext, `zipkin-${ext}`, { OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: url });
      expect(r.code, r.stderr).toBe(0);
      const spans = bodies.flat() as { name: string; kind?: string; traceId: string; parentId?: string; id: string; localEndpoint: { serviceName: string } }[];
      expect(spans).toHaveLength(3);
      const server = spans.find((s) => s.kind === 'SERVER')!;
      const client = spans.find((s) => s.kind === 'CLIENT')!;
      expect(server.name).toBe('GET /orders/:id');
      expect(server.parentId).toBe(client.id);
      expect(server.localEndpoint.serviceName).toBe(`zipkin-${ext}`);
    } finally {
      sink.close();
    }
  });

  it('warns once, not per batch, when nothing answers at the endpoint, and the app is unaffected', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const r = await runFixture({
      fixture: `core/lifecycle.${ext}`,
      args: ['drain'],
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        FIXTURE_REQUESTS: '20',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '3',
        OTEL_BSP_SCHEDULE_DELAY: '1',
      },
    });
    expect(r.code).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('could not export'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`127.0.0.1:${port}/v1/traces`);
    expect(warnings[0]).toMatch(/ECONNREFUSED/);
  });
});

describe('sampling (OTEL_TRACES_SAMPLER / _ARG)', () => {
  it('always_off exports nothing', async () => {
    const r = await run('cjs', 'sampler-off', { OTEL_TRACES_SAMPLER: 'always_off', FIXTURE_REQUESTS: '5' });
    expect(r.code).toBe(0);
    expect(of('sampler-off')).toHaveLength(0);
  });

  it('traceidratio 0.25 keeps a quarter of the traces, whole traces only', async () => {
    const n = 400;
    const r = await run('cjs', 'sampler-ratio', { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25', FIXTURE_REQUESTS: String(n) });
    expect(r.code, r.stderr).toBe(0);
    const spans = of('sampler-ratio');
    const traces = new Set(spans.map((s) => s.traceId));
    // Binomial(400, 0.25): mean 100, sd ~8.7; 60..140 is beyond 4.5 sd either way.
    expect(traces.size).toBeGreaterThan(60);
    expect(traces.size).toBeLessThan(140);
    // Each kept trace is complete: the ratio decision follows the trace id, which the server inherits.
    expect(spans.filter((s) => s.kind === 'SERVER')).toHaveLength(traces.size);
    expect(spans.filter((s) => s.kind === 'CLIENT')).toHaveLength(traces.size);
  });

  it('parentbased samplers follow the caller: an unsampled incoming traceparent makes no spans', async () => {
    // The fixture's own client is the caller; with parentbased_always_off its root (the client) is dropped,
    // and the server, seeing sampled=0 on the wire, drops its span too.
    const r = await run('cjs', 'sampler-parent', { OTEL_TRACES_SAMPLER: 'parentbased_always_off', FIXTURE_PRINT_HEADERS: '1' });
    expect(r.code).toBe(0);
    expect(headersSeen(r.stdout)['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-02$/); // not sampled, random trace id
    expect(of('sampler-parent')).toHaveLength(0);
  });
});

describe('propagators on the wire (OTEL_PROPAGATORS)', () => {
  it.each([
    ['tracecontext', (h: Record<string, string>, t: string, s: string) => expect(h['traceparent']).toBe(`00-${t}-${s}-03`)], // sampled, random trace id
    ['b3', (h: Record<string, string>, t: string, s: string) => expect(h['b3']).toBe(`${t}-${s}-1`)],
    ['b3multi', (h: Record<string, string>, t: string, s: string) => expect([h['x-b3-traceid'], h['x-b3-spanid'], h['x-b3-sampled']]).toEqual([t, s, '1'])],
    ['jaeger', (h: Record<string, string>, t: string, s: string) => expect(h['uber-trace-id']).toBe(`${t}:${s}:0:1`)],
  ] as const)('%s: the outgoing request carries the client span context and the server continues it', async (prop, check) => {
    const service = `prop-${prop}`;
    const r = await run('mjs', service, { OTEL_PROPAGATORS: prop, FIXTURE_PRINT_HEADERS: '1' });
    expect(r.code, r.stderr).toBe(0);
    const spans = of(service);
    const client = one(
      spans.filter((s) => s.kind === 'CLIENT'),
      /^GET/,
    );
    const server = one(
      spans.filter((s) => s.kind === 'SERVER'),
      /^GET \/orders/,
    );
    const headers = headersSeen(r.stdout);
    check(headers, client.traceId, client.spanId);
    expect(server.traceId).toBe(client.traceId);
    expect(server.parentSpanId).toBe(client.spanId);
    if (prop !== 'tracecontext') expect(headers['traceparent']).toBeUndefined();
  });

  it('none: no context on the wire, and the server starts its own trace', async () => {
    const r = await run('cjs', 'prop-none', { OTEL_PROPAGATORS: 'none', FIXTURE_PRINT_HEADERS: '1' });
    expect(r.code).toBe(0);
    const headers = headersSeen(r.stdout);
    expect(Object.keys(headers).filter((k) => /traceparent|b3|uber/.test(k))).toEqual([]);
    const spans = of('prop-none');
    const server = one(
      spans.filter((s) => s.kind === 'SERVER'),
      /^GET \/orders/,
    );
    expect(server.parentSpanId).toBe('');
  });
});

describe('resource and limits', () => {
  it('adds OTEL_RESOURCE_ATTRIBUTES, with OTEL_SERVICE_NAME winning for service.name', async () => {
    const r = await run('cjs', 'res-svc', {
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored,deployment.environment.name=staging,team=a%20b',
      OTEL_SERVICE_NAME: 'res-svc',
    });
    expect(r.code).toBe(0);
    const s = of('res-svc')[0]!;
    expect(s.resource['deployment.environment.name']).toBe('staging');
    expect(s.resource['team']).toBe('a b');
    expect(s.resource['telemetry.sdk.language']).toBe('nodejs');
    expect(s.resource['telemetry.distro.name']).toBe('@x/otel-agent');
    expect(s.resource['process.pid']).toEqual(expect.any(Number));
    expect(s.resource['process.command_args']).toBeUndefined();
    // File names, never paths: the entry and the executable are named, their directories are not.
    expect(s.resource['process.executable.path']).toBeUndefined();
    expect(s.resource['process.executable.name']).toMatch(/^node/);
    expect(s.resource['process.command']).toMatch(/^[^/\\]+\.c?js$/);
    for (const v of Object.values(s.resource)) expect(String(v)).not.toContain(ROOT);
  });

  it('honours OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT and OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', async () => {
    const r = await run('cjs', 'limits', { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '3', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4' });
    expect(r.code).toBe(0);
    const spans = of('limits');
    expect(spans.length).toBe(3);
    for (const s of spans) {
      expect(Object.keys(s.attributes).length).toBeLessThanOrEqual(3);
      for (const v of Object.values(s.attributes)) if (typeof v === 'string') expect(v.length).toBeLessThanOrEqual(4);
    }
  });
});
