/**
 * Fastify 5 (`fastify`) and Fastify 4 (the `fastify4` alias, installed as `fastify` next to its
 * fixture): SERVER spans named by the route Fastify matched, plugin prefixes included; handler
 * errors on the SERVER span; handler and hook spans only when OTEL_AGENT_WEB_SPANS asks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../../harness/fixture';
import { childrenOf, startOtlpReceiver, type OtlpReceiver } from '../../harness/otlp-receiver';
import { send } from '../../http/helpers';
import { checkRoutes } from '../contract';
import { byPath, installAlias, runApp, startMetricsSink, type MetricsSink } from '../fixture-app';

let rx: OtlpReceiver;
let sink: MetricsSink;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  sink = await startMetricsSink();
  installAlias('fastify4', 'fastify', 'fastify4');
});
afterAll(async () => {
  await sink.close();
  await rx.close();
});

const ROUTES = {
  users: '/users/:id',
  repos: '/orgs/:org/repos/:repo',
  clientError: { path: '/bad', route: '/bad', status: 400 },
  more500: [{ path: '/boom-sync', route: '/boom-sync', errorType: 'TypeError' }],
};

describe.each([
  ['fastify', 5],
  ['fastify4', 4],
] as const)('%s (Fastify %d)', (fixture, major) => {
  it.each(VARIANTS)('names SERVER spans by the matched route, records handler errors once (%s)', async (ext) => {
    const run = await checkRoutes(rx, { fixture, ext, service: `${fixture}-routes-${ext}`, ...ROUTES });
    expect(run.stdout).toMatch(new RegExp(`^READY \\d+ ${major}\\.`, 'm'));
    // Off by default: no handler or hook spans.
    expect(run.spans.filter((s) => s.kind === 'INTERNAL').map((s) => s.name)).toEqual([]);
  });

  it('OTEL_AGENT_WEB_SPANS=handlers: one INTERNAL handler span per request, under its SERVER span', async () => {
    const run = await runApp(rx, { fixture, ext: 'cjs', service: `${fixture}-handlers`, env: { OTEL_AGENT_WEB_SPANS: 'handlers' } }, async (base) => {
      await send(`${base}/orgs/acme/repos/widget`);
      await send(`${base}/boom`);
      await send(`${base}/nope`);
    });
    const repos = byPath(run, '/orgs/acme/repos/widget');
    expect(childrenOf(run.spans, repos).map((s) => `${s.kind} ${s.name} ${String(s.attributes['http.route'])}`)).toEqual([
      'INTERNAL request handler - /orgs/:org/repos/:repo /orgs/:org/repos/:repo',
    ]);
    const boom = byPath(run, '/boom');
    const [handler] = childrenOf(run.spans, boom);
    expect(handler!.name).toBe('request handler - /boom');
    expect(handler!.status.code).toBe('ERROR');
    expect(handler!.attributes['error.type']).toBe('Error');
    // The exception is an event of the SERVER span only.
    expect(handler!.events).toEqual([]);
    expect(boom.events.filter((e) => e.name === 'exception')).toHaveLength(1);
    // No route, no handler span; and no hook spans with `handlers`.
    expect(childrenOf(run.spans, byPath(run, '/nope'))).toEqual([]);
    expect(run.spans.filter((s) => s.name.startsWith('hook - '))).toEqual([]);
  });

  it('OTEL_AGENT_WEB_SPANS=all: the app hook gets its span too, beside the handler', async () => {
    const run = await runApp(rx, { fixture, ext: 'mjs', service: `${fixture}-all`, env: { OTEL_AGENT_WEB_SPANS: 'all' } }, async (base) => {
      await send(`${base}/users/alice`);
    });
    const users = byPath(run, '/users/alice');
    expect(
      childrenOf(run.spans, users)
        .map((s) => `${s.kind} ${s.name}`)
        .sort(),
    ).toEqual(['INTERNAL hook - preHandler - audit', 'INTERNAL request handler - /users/:id']);
  });

  it('an unsampled request makes no span at all, with every web span switched on, and is answered the same', async () => {
    const replies: number[] = [];
    const run = await runApp(
      rx,
      { fixture, ext: 'cjs', service: `${fixture}-unsampled`, env: { OTEL_TRACES_SAMPLER: 'always_off', OTEL_AGENT_WEB_SPANS: 'all' } },
      async (base) => {
        for (const p of ['/users/alice', '/boom', '/bad', '/nope']) replies.push((await send(base + p)).status);
      },
    );
    expect(replies).toEqual([200, 500, 400, 404]);
    expect(run.spans).toEqual([]);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=fastify leaves the plain HTTP spans', async () => {
    const run = await runApp(
      rx,
      { fixture, ext: 'cjs', service: `${fixture}-off`, env: { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fastify', OTEL_AGENT_WEB_SPANS: 'all' } },
      async (base) => {
        await send(`${base}/users/alice`);
        await send(`${base}/boom`);
      },
    );
    // The HTTP instrumentation's path guess, no route, no exception: exactly what it does alone.
    expect(byPath(run, '/users/alice').name).toBe('GET /users/alice');
    const boom = byPath(run, '/boom');
    expect(boom.attributes['error.type']).toBe('500');
    expect(boom.events).toEqual([]);
    expect(run.spans.filter((s) => s.attributes['http.route'] !== undefined || s.kind === 'INTERNAL')).toEqual([]);
  });
});

it('puts the route on the http.server.request.duration points (OTEL_METRICS_EXPORTER=otlp)', async () => {
  await runApp(
    rx,
    {
      fixture: 'fastify',
      ext: 'mjs',
      service: 'fastify-metrics',
      env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: sink.url },
    },
    async (base) => {
      await send(`${base}/users/alice`);
      await send(`${base}/orgs/acme/repos/widget`);
      await send(`${base}/nope/zzz`);
    },
  );
  const routes = sink.routes();
  expect(routes).toContain('/users/:id');
  expect(routes).toContain('/orgs/:org/repos/:repo');
  // The 404 has a point of its own, without a route.
  expect(routes).toContain(undefined);
  expect(routes.filter((r) => r !== undefined && /alice|acme|zzz/.test(r))).toEqual([]);
});
