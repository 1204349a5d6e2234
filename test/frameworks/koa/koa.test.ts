/**
 * Koa 3 (`koa`) and Koa 2 (the `koa2` alias, installed as `koa` next to its fixture), each with
 * `@koa/router` and the legacy `koa-router`: SERVER spans named by the matched layer's path
 * (router prefix and nesting included), thrown errors recorded on the SERVER span of Koa's 500,
 * handler and middleware spans only when OTEL_AGENT_WEB_SPANS asks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../../harness/fixture';
import { childrenOf, startOtlpReceiver, type OtlpReceiver } from '../../harness/otlp-receiver';
import { send } from '../../http/helpers';
import { checkRoutes } from '../contract';
import { byPath, installAlias, runApp } from '../fixture-app';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  installAlias('koa2', 'koa', 'koa2');
});
afterAll(async () => {
  await rx.close();
});

const ROUTES = {
  users: '/users/:id',
  repos: '/orgs/:org/repos/:repo',
  clientError: { path: '/bad', route: '/bad', status: 400 },
};
const ROUTERS = ['@koa/router', 'koa-router'] as const;

describe.each([
  ['koa', 'Koa 3'],
  ['koa2', 'Koa 2'],
] as const)('%s (%s)', (fixture, _name) => {
  describe.each(ROUTERS)('with %s', (router) => {
    it.each(VARIANTS)('names SERVER spans by the matched route, records handler errors once (%s)', async (ext) => {
      const run = await checkRoutes(rx, { fixture, ext, service: `${fixture}-${router}-${ext}`, env: { ROUTER: router }, ...ROUTES });
      expect(run.spans.filter((s) => s.kind === 'INTERNAL').map((s) => s.name)).toEqual([]);
    });
  });
});

it.each(ROUTERS)('names a request by its route when router middleware answered first, and a RegExp route by its literal (%s)', async (router) => {
  const run = await runApp(rx, { fixture: 'koa', ext: 'cjs', service: `koa-guard-${router}`, env: { ROUTER: router } }, async (base) => {
    expect((await send(`${base}/users/alice?deny=1`)).status).toBe(401);
    expect((await send(`${base}/users/alice`, { method: 'DELETE' })).status).toBe(405);
    expect((await send(`${base}/files/report.pdf`)).status).toBe(200);
  });
  // A RegExp route is named by its literal.
  expect(byPath(run, '/files/report.pdf').name).toBe('GET /^\\/files\\/.+$/');
  const [denied, wrongMethod] = run.spans.filter((s) => s.kind === 'SERVER' && s.attributes['url.path'] === '/users/alice');
  expect(denied!.name).toBe('GET /users/:id');
  expect(denied!.attributes['http.route']).toBe('/users/:id');
  expect(denied!.events).toEqual([]);
  // A path with no route for its method: 405, named by the method only.
  expect(wrongMethod!.name).toBe('DELETE');
  expect(wrongMethod!.attributes).not.toHaveProperty('http.route');
});

describe.each(ROUTERS)('Koa 3 with %s, OTEL_AGENT_WEB_SPANS', (router) => {
  it('handlers: one INTERNAL handler span per routed request, under its SERVER span', async () => {
    const run = await runApp(
      rx,
      { fixture: 'koa', ext: 'cjs', service: `koa-handlers-${router}`, env: { ROUTER: router, OTEL_AGENT_WEB_SPANS: 'handlers' } },
      async (base) => {
        await send(`${base}/orgs/acme/repos/widget`);
        await send(`${base}/boom`);
        await send(`${base}/nope`);
      },
    );
    const repos = byPath(run, '/orgs/acme/repos/widget');
    expect(childrenOf(run.spans, repos).map((s) => `${s.kind} ${s.name} ${String(s.attributes['http.route'])}`)).toEqual([
      'INTERNAL request handler - /orgs/:org/repos/:repo /orgs/:org/repos/:repo',
    ]);
    const boom = byPath(run, '/boom');
    const [handler] = childrenOf(run.spans, boom);
    expect(handler!.name).toBe('request handler - /boom');
    expect(handler!.status.code).toBe('ERROR');
    expect(handler!.events).toEqual([]);
    expect(boom.events.filter((e) => e.name === 'exception')).toHaveLength(1);
    expect(childrenOf(run.spans, byPath(run, '/nope'))).toEqual([]);
  });

  it('all: app middleware spans, the handler nested inside them (Koa runs middleware around what follows)', async () => {
    const run = await runApp(
      rx,
      { fixture: 'koa', ext: 'mjs', service: `koa-all-${router}`, env: { ROUTER: router, OTEL_AGENT_WEB_SPANS: 'all' } },
      async (base) => {
        await send(`${base}/users/alice`);
      },
    );
    const users = byPath(run, '/users/alice');
    const [timing] = childrenOf(run.spans, users);
    expect(timing!.name).toBe('middleware - timing');
    const [guard] = childrenOf(run.spans, timing!);
    expect(guard!.name).toBe('middleware - guard');
    expect(childrenOf(run.spans, guard!).map((s) => s.name)).toEqual(['request handler - /users/:id']);
  });
});

it('an unsampled request makes no span at all, with every web span switched on, and is answered the same', async () => {
  const replies: number[] = [];
  const run = await runApp(
    rx,
    { fixture: 'koa', ext: 'cjs', service: 'koa-unsampled', env: { ROUTER: '@koa/router', OTEL_TRACES_SAMPLER: 'always_off', OTEL_AGENT_WEB_SPANS: 'all' } },
    async (base) => {
      for (const p of ['/users/alice', '/boom', '/bad', '/nope']) replies.push((await send(base + p)).status);
    },
  );
  expect(replies).toEqual([200, 500, 400, 404]);
  expect(run.spans).toEqual([]);
});

it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=koa leaves the plain HTTP spans', async () => {
  const run = await runApp(
    rx,
    { fixture: 'koa', ext: 'cjs', service: 'koa-off', env: { ROUTER: '@koa/router', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'koa', OTEL_AGENT_WEB_SPANS: 'all' } },
    async (base) => {
      await send(`${base}/users/alice`);
      await send(`${base}/boom`);
    },
  );
  expect(byPath(run, '/users/alice').name).toBe('GET /users/alice');
  const boom = byPath(run, '/boom');
  expect(boom.attributes['error.type']).toBe('500');
  expect(boom.events).toEqual([]);
  expect(run.spans.filter((s) => s.attributes['http.route'] !== undefined || s.kind === 'INTERNAL')).toEqual([]);
});
