/**
 * @grpc/grpc-js across two processes: a client process (test/fixtures/grpc/client.*)
 * calling a server process (server.*) with every call type, through
 * @grpc/proto-loader (shop.v1.Orders) and a static stub (shop.v1.Stock). Asserted
 * on what the OTLP receiver got from both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, VARIANTS } from '../harness/fixture';
import { childrenOf, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { send, spansOf } from '../http/helpers';
import { appDir, doctor } from '../doctor/run-doctor';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

interface Run {
  client: RecvSpan[];
  server: RecvSpan[];
  stdout: string;
  checkout: string;
}

async function run(ext: string, tag: string, env: Record<string, string | undefined> = {}): Promise<Run> {
  const cs = `grpc-cli-${tag}-${ext}`;
  const ss = `grpc-srv-${tag}-${ext}`;
  const mode = ext === 'cjs' ? 'require' : 'import';
  const srv = startFixture({ fixture: `grpc/server.${ext}`, mode, endpoint: rx.url, env: { OTEL_SERVICE_NAME: ss, ...env } });
  const [port, web] = (await srv.ready).split(' ').slice(1).map(Number) as [number, number];
  // First, while the server is up: a gRPC call made inside a traced HTTP request.
  const checkout = (await send(`http://127.0.0.1:${web}/checkout`)).body;
  const cli = startFixture({
    fixture: `grpc/client.${ext}`,
    mode,
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: cs, TARGET: `127.0.0.1:${port}`, QUIT: '1', ...env },
  });
  const c = await cli.result;
  const s = await srv.result;
  expect(c.code, c.stderr).toBe(0);
  expect(s.code, s.stderr).toBe(0);
  expect(c.stderr + s.stderr, 'the agent printed warnings or errors').toBe('');
  return { client: spansOf(rx, cs), server: spansOf(rx, ss), stdout: c.stdout, checkout };
}

const RESULTS = [
  'RESULT get {"id":"42","stock":2}',
  'RESULT missing code=5',
  'RESULT boom code=13',
  'RESULT upload count=3',
  'RESULT list 3',
  'RESULT list-boom 1 then code=14',
  'RESULT chat X,Y',
  'RESULT stock {"count":4}',
  'RESULT md-keys x-tenant',
  'RESULT quit {"id":"quit","stock":0}',
];

const G = '@x/otel-agent/grpc';
const label = (s: RecvSpan): string => `${s.scope.name} ${s.kind} ${s.name}`;

describe.each(VARIANTS)('@grpc/grpc-js (%s)', (ext) => {
  let r: Run;
  beforeAll(async () => {
    r = await run(ext, 'all');
  });

  it('makes one CLIENT span per call of every type, and nothing for the HTTP/2 underneath', () => {
    expect(r.stdout.trim().split('\n')).toEqual(RESULTS);
    expect(r.client.map(label).sort()).toEqual(
      [
        `${G} CLIENT shop.v1.Orders/GetOrder`,
        `${G} CLIENT shop.v1.Orders/GetOrder`,
        `${G} CLIENT shop.v1.Orders/GetOrder`,
        `${G} CLIENT shop.v1.Orders/GetOrder`,
        `${G} CLIENT shop.v1.Orders/UploadItems`,
        `${G} CLIENT shop.v1.Orders/ListOrders`,
        `${G} CLIENT shop.v1.Orders/ListOrders`,
        `${G} CLIENT shop.v1.Orders/Chat`,
        `${G} CLIENT shop.v1.Stock/Check`,
      ].sort(),
    );
    // The server: one SERVER span per call received (10 from the client process, and GetOrder and its
    // Stock/Check from GET /checkout), no HTTP/2 span under any of them.
    expect(r.server.filter((s) => s.scope.name === '@x/otel-agent/http2')).toEqual([]);
    expect(r.server.filter((s) => s.kind === 'SERVER' && s.scope.name === G)).toHaveLength(12);
  });

  it('names spans package.Service/Method with the RPC attributes, and continues the client trace on the server', () => {
    const get = r.client.find((s) => s.name === 'shop.v1.Orders/GetOrder' && s.attributes['rpc.status_code'] === 'OK' && s.parentSpanId === '')!;
    expect(get.attributes).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.method': 'shop.v1.Orders/GetOrder',
      'rpc.status_code': 'OK',
      'rpc.grpc.status_code': 0,
      'server.address': '127.0.0.1',
      'network.peer.address': '127.0.0.1',
    });
    expect(typeof get.attributes['server.port']).toBe('number');
    expect(get.status.code).toBe('UNSET');
    for (const old of ['rpc.system', 'rpc.service', 'net.peer.name']) expect(get.attributes).not.toHaveProperty(old);
    const srv = r.server.find((s) => s.kind === 'SERVER' && s.parentSpanId === get.spanId)!;
    expect(srv, 'the server span is a child of the client span').toBeDefined();
    expect(srv.traceId).toBe(get.traceId);
    expect(srv.name).toBe('shop.v1.Orders/GetOrder');
    expect(srv.attributes).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.method': 'shop.v1.Orders/GetOrder',
      'rpc.status_code': 'OK',
      'server.port': get.attributes['server.port'],
    });
    // A call made inside the handler (static stub) nests under it, and its server span under that.
    const kids = childrenOf(r.server, srv).map((s) => `${s.kind} ${s.name}`);
    expect(kids.sort()).toEqual(['CLIENT shop.v1.Stock/Check', 'INTERNAL fs readFileSync']);
    const check = r.server.find((s) => s.kind === 'CLIENT' && s.parentSpanId === srv.spanId)!;
    expect(childrenOf(r.server, check).map((s) => `${s.kind} ${s.name}`)).toEqual(['SERVER shop.v1.Stock/Check']);
  });

  it('a call made inside a traced HTTP request nests under it', () => {
    expect(r.checkout).toBe('{"id":"7","stock":1}');
    const http = r.server.find((s) => s.kind === 'SERVER' && s.scope.name === '@x/otel-agent/http')!;
    expect(http.name).toBe('GET /checkout');
    const [call, ...more] = childrenOf(r.server, http);
    expect(more).toEqual([]);
    expect(`${call!.kind} ${call!.name}`).toBe('CLIENT shop.v1.Orders/GetOrder');
    const served = childrenOf(r.server, call!);
    expect(served.map((s) => `${s.kind} ${s.name}`)).toEqual(['SERVER shop.v1.Orders/GetOrder']);
    expect(
      childrenOf(r.server, served[0]!)
        .map((s) => `${s.kind} ${s.name}`)
        .sort(),
    ).toEqual(['CLIENT shop.v1.Stock/Check', 'INTERNAL fs readFileSync']);
  });

  it('streaming calls: client-, server- and bidi-streaming spans pair up across the processes', () => {
    for (const name of ['shop.v1.Orders/UploadItems', 'shop.v1.Orders/Chat']) {
      const c = r.client.find((s) => s.name === name)!;
      const s = r.server.find((x) => x.kind === 'SERVER' && x.parentSpanId === c.spanId)!;
      expect(s.name).toBe(name);
      expect(s.attributes['rpc.status_code']).toBe('OK');
    }
    const upload = r.server.find((s) => s.kind === 'SERVER' && s.name === 'shop.v1.Orders/UploadItems')!;
    // The handler's 'end' listener ran in the call's context.
    expect(childrenOf(r.server, upload).map((s) => s.name)).toEqual(['fs readFileSync']);
    const lists = r.client.filter((s) => s.name === 'shop.v1.Orders/ListOrders');
    expect(lists.map((s) => s.attributes['rpc.status_code']).sort()).toEqual(['OK', 'UNAVAILABLE']);
  });

  it('status ERROR per the gRPC table: every non-OK code on the client, only server failures on the server', () => {
    const status = (spans: RecvSpan[], kind: string, code: string) => spans.find((s) => s.kind === kind && s.attributes['rpc.status_code'] === code)!;
    const cNotFound = status(r.client, 'CLIENT', 'NOT_FOUND');
    expect(cNotFound.status.code).toBe('ERROR');
    expect(cNotFound.attributes).toMatchObject({ 'error.type': 'NOT_FOUND', 'rpc.grpc.status_code': 5 });
    const sNotFound = status(r.server, 'SERVER', 'NOT_FOUND');
    expect(sNotFound.parentSpanId).toBe(cNotFound.spanId);
    expect(sNotFound.status.code).toBe('UNSET');
    expect(sNotFound.attributes).not.toHaveProperty('error.type');
    for (const [code, n] of [
      ['INTERNAL', 13],
      ['UNAVAILABLE', 14],
    ] as const) {
      const c = status(r.client, 'CLIENT', code);
      const s = status(r.server, 'SERVER', code);
      expect(s.parentSpanId).toBe(c.spanId);
      for (const x of [c, s]) {
        expect(x.status.code).toBe('ERROR');
        expect(x.attributes).toMatchObject({ 'error.type': code, 'rpc.grpc.status_code': n });
      }
    }
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=grpc removes the gRPC spans, and no HTTP/2 span takes their place', async () => {
    const off = await run(ext, 'off', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'grpc' });
    expect(off.stdout.trim().split('\n')).toEqual(RESULTS);
    expect(off.client).toEqual([]);
    expect(off.checkout).toBe('{"id":"7","stock":1}');
    // The HTTP SERVER span stays, with no gRPC span under it; nothing of HTTP/2 appears.
    expect(off.server.filter((s) => s.scope.name.startsWith('@x/otel-agent/grpc') || s.scope.name === '@x/otel-agent/http2')).toEqual([]);
    const http = off.server.find((s) => s.name === 'GET /checkout')!;
    expect(http.kind).toBe('SERVER');
    expect(childrenOf(off.server, http).filter((s) => s.kind === 'CLIENT')).toEqual([]);
  });

  it('B3 propagation (OTEL_PROPAGATORS=b3multi) is carried in the metadata too', async () => {
    const b3 = await run(ext, 'b3', { OTEL_PROPAGATORS: 'b3multi' });
    const get = b3.client.find((s) => s.name === 'shop.v1.Orders/GetOrder' && s.attributes['rpc.status_code'] === 'OK' && s.parentSpanId === '')!;
    const srv = b3.server.find((s) => s.kind === 'SERVER' && s.parentSpanId === get.spanId);
    expect(srv?.traceId).toBe(get.traceId);
  });
});

describe('the agent exporting over gRPC', () => {
  it('never traces its own exporter, and still traces the app', async () => {
    const r = await run('cjs', 'otlp-grpc', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: rx.grpcUrl });
    const all = [...r.client, ...r.server];
    expect(all.filter((s) => /TraceService|Export|opentelemetry/i.test(s.name))).toEqual([]);
    expect(all.filter((s) => s.scope.name === '@x/otel-agent/http2')).toEqual([]);
    expect(r.client).toHaveLength(9);
    expect(rx.requests().some((q) => q.transport === 'grpc')).toBe(true);
  });
});

describe('doctor', () => {
  it('lists @grpc/grpc-js with its supported status', async () => {
    const app = appDir({ dependencies: { '@grpc/grpc-js': '^1.14.0' }, link: ['@grpc/grpc-js'] });
    try {
      const r = await doctor(['--json'], { cwd: app.dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url } });
      const g = r.json!.packages.instrumentations.find((i) => i.instrumentation === 'grpc')!;
      expect(g, r.stdout + r.stderr).toBeDefined();
      expect(g.status).toBe('supported');
      expect(g.usedByApp).toBe(true);
      expect(g.modules).toEqual([expect.objectContaining({ name: '@grpc/grpc-js', supported: true, ranges: ['^1.0.0'] })]);
      expect(r.json!.packages.instrumentations.find((i) => i.instrumentation === 'http2')!.status).toBe('builtin');
    } finally {
      app.cleanup();
    }
  });
});
