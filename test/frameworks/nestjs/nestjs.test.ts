/**
 * NestJS on its Express and Fastify platforms, CJS and ESM apps: the SERVER
 * span is named by Nest's full route (global prefix + controller path +
 * method path, two parameters; URI versioning), a handler that throws is a 500 with its
 * exception recorded once, an HttpException 404 is not an error, an
 * unmatched path is named by its method only, and the duration metric
 * carries the same http.route. No span name carries a path value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, VARIANTS } from '../../harness/fixture';
import { childrenOf, one, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../../harness/otlp-receiver';
import { send, spansOf } from '../../http/helpers';
import { appDir, doctor } from '../../doctor/run-doctor';

/** Every span under `root`, at any depth. */
function descendantsOf(spans: RecvSpan[], root: RecvSpan): RecvSpan[] {
  const out: RecvSpan[] = [];
  for (let layer = childrenOf(spans, root); layer.length; layer = layer.flatMap((s) => childrenOf(spans, s))) out.push(...layer);
  return out;
}

const ROUTE = '/api/orgs/:org/users/:id';
const PLATFORMS = ['express', 'fastify'] as const;
const CASES = PLATFORMS.flatMap((p) => VARIANTS.map((ext) => [p, ext] as const));

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

interface NestRun {
  spans: RecvSpan[];
  stdout: string;
  statuses: number[];
}

/** Starts the fixture app, sends the requests, stops it with SIGTERM (Nest closes, the process exits 0). */
async function run(platform: string, ext: string, service: string, paths: string[], env: Record<string, string> = {}): Promise<NestRun> {
  const f = startFixture({
    fixture: `frameworks/nestjs/app.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: service, NEST_PLATFORM: platform, ...env },
  });
  const port = Number((await f.ready).split(' ')[1]);
  const statuses: number[] = [];
  try {
    for (const p of paths) statuses.push((await send(`http://127.0.0.1:${port}${p}`)).status);
  } finally {
    f.child.kill('SIGTERM');
  }
  const r = await f.result;
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return { spans: spansOf(rx, service), stdout: r.stdout, statuses };
}

const PATHS = [
  '/api/orgs/acme/users/alice',
  '/api/orgs/globex/users/bob',
  '/api/orgs/acme/users/boom/now',
  '/api/orgs/acme/users/missing/carol',
  '/api/nope/anything',
  '/api/v2/items/sku-4711',
];

describe.each(CASES)('nestjs on %s (%s)', (platform, ext) => {
  it("names the SERVER span by Nest's full route, records a handler's error once, and leaves 404s unnamed", async () => {
    const { spans, statuses } = await run(platform, ext, `nest-${platform}-${ext}`, PATHS);
    expect(statuses).toEqual([200, 200, 500, 404, 404, 200]);
    const servers = spans.filter((s) => s.kind === 'SERVER');
    expect(servers.map((s) => s.name).sort()).toEqual([
      'GET',
      `GET ${ROUTE}`,
      `GET ${ROUTE}`,
      'GET /api/orgs/:org/users/boom/now',
      'GET /api/orgs/:org/users/missing/:id',
      'GET /api/v2/items/:sku',
    ]);
    const byPath = (p: string) => servers.find((s) => s.attributes['url.path'] === p)!;

    const alice = byPath('/api/orgs/acme/users/alice');
    expect(alice.attributes['http.route']).toBe(ROUTE);
    expect(alice.status.code).toBe('UNSET');
    // The controller's work is under the request.
    expect(childrenOf(spans, alice).map((s) => s.name)).toEqual(['fs readFileSync']);

    const boom = byPath('/api/orgs/acme/users/boom/now');
    expect(boom.attributes).toMatchObject({ 'http.route': '/api/orgs/:org/users/boom/now', 'http.response.status_code': 500, 'error.type': 'Error' });
    expect(boom.status).toMatchObject({ code: 'ERROR', message: 'handler failed' });
    const exceptions = boom.events.filter((e) => e.name === 'exception');
    expect(exceptions).toHaveLength(1);
    expect(exceptions[0]!.attributes['exception.message']).toBe('handler failed');

    // A NotFoundException is the client's failure: named by its route, not an error.
    const missing = byPath('/api/orgs/acme/users/missing/carol');
    expect(missing.attributes['http.response.status_code']).toBe(404);
    expect(missing.status.code).toBe('UNSET');
    expect(missing.events).toEqual([]);
    expect(missing.attributes['error.type']).toBeUndefined();

    // No route matched: the method only, no http.route.
    const nope = byPath('/api/nope/anything');
    expect(nope.name).toBe('GET');
    expect(nope.attributes['http.route']).toBeUndefined();

    // The URI version is part of Nest's route.
    expect(byPath('/api/v2/items/sku-4711').attributes['http.route']).toBe('/api/v2/items/:sku');

    for (const s of spans) for (const v of ['acme', 'globex', 'alice', 'bob', 'carol', 'nope', 'anything', '4711']) expect(s.name, s.name).not.toContain(v);
    // Nothing of Nest's own by default (OTEL_AGENT_WEB_SPANS=none).
    expect(spans.filter((s) => s.scope.name === '@x/otel-agent/nestjs')).toEqual([]);
  });

  it('puts the route on the http.server.request.duration points', async () => {
    const { stdout } = await run(platform, ext, `nest-metrics-${platform}-${ext}`, PATHS.slice(0, 2), {
      OTEL_METRICS_EXPORTER: 'console',
      OTEL_METRIC_EXPORT_INTERVAL: '60000',
    });
    // The console exporter prints the points at exit; both requests are one point of the one route.
    expect(stdout).toContain("name: 'http.server.request.duration'");
    expect(stdout).toContain(`'http.route': '${ROUTE}'`);
    expect(stdout).not.toMatch(/acme|globex|alice/);
  });

  it('adds an INTERNAL span per controller method with OTEL_AGENT_WEB_SPANS=handlers', async () => {
    const { spans } = await run(platform, ext, `nest-handlers-${platform}-${ext}`, [PATHS[0]!, PATHS[2]!], { OTEL_AGENT_WEB_SPANS: 'handlers' });
    const server = one(spans, `GET ${ROUTE}`);
    // The platform's own handler span (Express or Fastify, same switch) sits between the two.
    const handler = one(descendantsOf(spans, server), 'UsersController.getUser');
    expect(handler.kind).toBe('INTERNAL');
    expect(handler.attributes).toEqual({ 'http.route': ROUTE, 'nestjs.controller': 'UsersController', 'nestjs.callback': 'getUser' });
    expect(childrenOf(spans, handler).map((s) => s.name)).toEqual(['fs readFileSync']);

    const boomServer = one(spans, 'GET /api/orgs/:org/users/boom/now');
    const boom = one(descendantsOf(spans, boomServer), 'UsersController.boom');
    expect(boom.status).toMatchObject({ code: 'ERROR', message: 'handler failed' });
    // Still one exception on the SERVER span.
    expect(boomServer.events.filter((e) => e.name === 'exception')).toHaveLength(1);
  });

  it('does nothing with OTEL_NODE_DISABLED_INSTRUMENTATIONS=nestjs, and the app answers the same', async () => {
    const { spans, statuses } = await run(platform, ext, `nest-off-${platform}-${ext}`, PATHS.slice(0, 3), {
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'nestjs',
      OTEL_AGENT_WEB_SPANS: 'handlers',
    });
    expect(statuses).toEqual([200, 200, 500]);
    expect(spans.filter((s) => s.scope.name === '@x/otel-agent/nestjs')).toEqual([]);
    // Nest's error filter answered: without Nest's layer the error itself is not seen.
    const boom = spans.find((s) => s.attributes['url.path'] === '/api/orgs/acme/users/boom/now')!;
    expect(boom.events.filter((e) => e.name === 'exception')).toEqual([]);
  });
});

describe('doctor and nestjs', () => {
  it.each([
    ['12.5.1', 'supported'],
    ['10.4.15', 'supported'],
    ['9.4.3', 'unsupported'],
  ])('lists @nestjs/core %s as %s', async (version, status) => {
    const app = appDir({ dependencies: { '@nestjs/core': `^${version}` }, fake: { '@nestjs/core': { version, main: 'module.exports = {};' } } });
    try {
      const r = await doctor(['--json'], { cwd: app.dir });
      const n = r.json!.packages.instrumentations.find((i) => i.instrumentation === 'nestjs')!;
      expect(n, r.stdout + r.stderr).toBeDefined();
      expect(n.status).toBe(status);
      expect(n.modules).toEqual([expect.objectContaining({ name: '@nestjs/core', version, supported: status === 'supported' })]);
    } finally {
      app.cleanup();
    }
  });
});
