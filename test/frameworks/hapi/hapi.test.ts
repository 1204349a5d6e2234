/**
 * Hapi 21: SERVER spans named by the route's path as Hapi writes it (`/users/{id}`, plugin
 * prefixes included), a thrown Error recorded on the SERVER span of its 500, a Boom 404 not
 * recorded, handler and extension spans only when OTEL_AGENT_WEB_SPANS asks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../../harness/fixture';
import { childrenOf, startOtlpReceiver, type OtlpReceiver } from '../../harness/otlp-receiver';
import { send } from '../../http/helpers';
import { checkRoutes } from '../contract';
import { byPath, runApp, startMetricsSink, type MetricsSink } from '../fixture-app';

let rx: OtlpReceiver;
let sink: MetricsSink;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  sink = await startMetricsSink();
});
afterAll(async () => {
  await sink.close();
  await rx.close();
});

describe.each(VARIANTS)('hapi 21 (%s)', (ext) => {
  it('names SERVER spans by the route, records a thrown Error once and a Boom.notFound() not at all', async () => {
    const run = await checkRoutes(rx, {
      fixture: 'hapi',
      ext,
      service: `hapi-routes-${ext}`,
      users: '/users/{id}',
      repos: '/orgs/{org}/repos/{repo}',
      clientError: { path: '/missing/thing', route: '/missing/{what}', status: 404 },
    });
    expect(run.spans.filter((s) => s.kind === 'INTERNAL').map((s) => s.name)).toEqual([]);
  });
});

it('OTEL_AGENT_WEB_SPANS=handlers: the handler span; =all: the extension points too', async () => {
  const drive = async (base: string) => {
    await send(`${base}/users/alice`);
    await send(`${base}/boom`);
  };
  const handlers = await runApp(rx, { fixture: 'hapi', ext: 'cjs', service: 'hapi-handlers', env: { OTEL_AGENT_WEB_SPANS: 'handlers' } }, drive);
  expect(childrenOf(handlers.spans, byPath(handlers, '/users/alice')).map((s) => `${s.kind} ${s.name} ${String(s.attributes['http.route'])}`)).toEqual([
    'INTERNAL request handler - /users/{id} /users/{id}',
  ]);
  const boom = byPath(handlers, '/boom');
  const [h] = childrenOf(handlers.spans, boom);
  expect(h!.status.code).toBe('ERROR');
  expect(h!.events).toEqual([]);
  expect(boom.events.filter((e) => e.name === 'exception')).toHaveLength(1);

  const all = await runApp(rx, { fixture: 'hapi', ext: 'mjs', service: 'hapi-all', env: { OTEL_AGENT_WEB_SPANS: 'all' } }, drive);
  expect(
    childrenOf(all.spans, byPath(all, '/users/alice'))
      .map((s) => s.name)
      .sort(),
  ).toEqual(['ext - onPreAuth', 'request handler - /users/{id}']);
});

it('an unsampled request makes no span at all, with every web span switched on, and is answered the same', async () => {
  const replies: number[] = [];
  const run = await runApp(
    rx,
    { fixture: 'hapi', ext: 'cjs', service: 'hapi-unsampled', env: { OTEL_TRACES_SAMPLER: 'always_off', OTEL_AGENT_WEB_SPANS: 'all' } },
    async (base) => {
      for (const p of ['/users/alice', '/boom', '/missing/x', '/nope']) replies.push((await send(base + p)).status);
    },
  );
  expect(replies).toEqual([200, 500, 404, 404]);
  expect(run.spans).toEqual([]);
});

it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=hapi leaves the plain HTTP spans', async () => {
  const run = await runApp(
    rx,
    { fixture: 'hapi', ext: 'cjs', service: 'hapi-off', env: { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'hapi', OTEL_AGENT_WEB_SPANS: 'all' } },
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

it('puts the route on the http.server.request.duration points (OTEL_METRICS_EXPORTER=otlp)', async () => {
  await runApp(
    rx,
    {
      fixture: 'hapi',
      ext: 'cjs',
      service: 'hapi-metrics',
      env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: sink.url },
    },
    async (base) => {
      await send(`${base}/users/alice`);
      await send(`${base}/orgs/acme/repos/widget`);
    },
  );
  expect(sink.routes()).toEqual(expect.arrayContaining(['/users/{id}', '/orgs/{org}/repos/{repo}']));
});
