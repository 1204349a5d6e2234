/**
 * Express 4 and 5 apps (CommonJS and ES module): the HTTP SERVER span is named by the route
 * Express matched, through nested routers, mounts and sub-apps, with http.route on the span and
 * on the duration metric; a request no route matched is named by its method alone; a handler's
 * error is recorded once on the SERVER span when the answer is a 5xx.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIANTS } from '../../harness/fixture';
import { byName, childrenOf, one, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../../harness/otlp-receiver';
import { send } from '../../http/helpers';
import { ensureExpress4, startMetricsSink, withApp } from '../run-app';

let rx: OtlpReceiver;
beforeAll(async () => {
  ensureExpress4();
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const servers = (spans: RecvSpan[]): RecvSpan[] => spans.filter((s) => s.kind === 'SERVER');
const CASES = [4, 5].flatMap((major) => VARIANTS.map((ext) => [major, ext] as const));

describe.each(CASES)('express %i (%s)', (major, ext) => {
  const fixture = `frameworks/express${major}/app.${ext}`;

  it('names SERVER spans by the matched route, through routers, mounts, sub-apps, arrays and regexes', async () => {
    const probe = `/nope-${randomBytes(6).toString('hex')}/deeper`;
    const statuses: Record<string, number> = {};
    const run = await withApp(rx, { fixture, service: `express-routes-${major}-${ext}` }, async (base) => {
      for (const p of [
        '/users/123',
        '/users/alice',
        '/users',
        '/orgs/acme/repos/widget',
        '/admin/stats',
        '/admin/legacy',
        '/a',
        '/b',
        '/files/x/y.txt',
        probe,
      ]) {
        statuses[p] = (await send(base + p)).status;
      }
    });
    expect(statuses[probe]).toBe(404);
    expect(
      Object.entries(statuses)
        .filter(([p]) => p !== probe)
        .every(([, s]) => s === 200),
    ).toBe(true);
    const byPath = (p: string) => servers(run.spans).find((s) => s.attributes['url.path'] === p)!;
    const expected: Record<string, string> = {
      '/users/123': '/users/:id',
      '/users/alice': '/users/:id',
      '/users': '/users',
      '/orgs/acme/repos/widget': '/orgs/:org/repos/:repo',
      '/admin/stats': '/admin/stats',
      '/admin/legacy': '/admin/legacy',
      '/a': '/a,/b',
      '/b': '/a,/b',
      '/files/x/y.txt': String(/^\/files\/(.+)$/),
    };
    for (const [p, route] of Object.entries(expected)) {
      const s = byPath(p);
      expect(s.name, p).toBe(`GET ${route}`);
      expect(s.attributes['http.route'], p).toBe(route);
      expect(s.attributes['http.response.status_code']).toBe(200);
    }
    // No route matched: the method alone, no http.route, and the path only in url.path.
    const miss = byPath(probe);
    expect(miss.name).toBe('GET');
    expect(miss.attributes).not.toHaveProperty('http.route');
    for (const s of run.spans) expect(s.name).not.toMatch(/alice|acme|widget|nope|123/);
    expect(run.stderr).toBe('');
  });

  it('records the error a handler threw, rejected or passed to next() once, on the SERVER span, with the status Express answered', async () => {
    const run = await withApp(rx, { fixture, service: `express-errors-${major}-${ext}` }, async (base) => {
      expect((await send(`${base}/boom`)).status).toBe(500);
      if (major >= 5) expect((await send(`${base}/async-boom/7`)).status).toBe(500);
      expect((await send(`${base}/api/fail/9`)).status).toBe(503);
      expect((await send(`${base}/api/bad/1`)).status).toBe(400);
    });
    const cases: [string, string, number][] = [
      ['GET /boom', 'TypeError', 500],
      ['GET /api/fail/:code', 'UpstreamError', 503],
    ];
    if (major >= 5) cases.push(['GET /async-boom/:id', 'RangeError', 500]);
    for (const [name, type, status] of cases) {
      const s = one(run.spans, name);
      expect(s.kind).toBe('SERVER');
      expect(s.attributes['http.response.status_code'], name).toBe(status);
      expect(s.status.code, name).toBe('ERROR');
      expect(s.attributes['error.type'], name).toBe(type);
      const exceptions = s.events.filter((e) => e.name === 'exception');
      expect(exceptions, name).toHaveLength(1);
      expect(exceptions[0]!.attributes['exception.type']).toBe(type);
    }
    // An error the app answered with a 4xx is the client's: no exception, no error.type.
    const bad = one(run.spans, 'GET /api/bad/:id');
    expect(bad.attributes['http.response.status_code']).toBe(400);
    expect(bad.status.code).toBe('UNSET');
    expect(bad.attributes).not.toHaveProperty('error.type');
    expect(bad.events.filter((e) => e.name === 'exception')).toHaveLength(0);
  });
});

describe('express: metrics, the disable switch and handler spans', () => {
  it('puts http.route on the http.server.request.duration points (OTEL_METRICS_EXPORTER=otlp)', async () => {
    const sink = await startMetricsSink();
    try {
      await withApp(
        rx,
        {
          fixture: 'frameworks/express5/app.mjs',
          service: 'express-metrics',
          env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: sink.url, OTEL_METRIC_EXPORT_INTERVAL: '200' },
        },
        async (base) => {
          await send(`${base}/users/alice`);
          await send(`${base}/orgs/acme/repos/widget`);
          await send(`${base}/nope/anything`);
          // At least one export interval with the points in it.
          await new Promise((r) => setTimeout(r, 600));
        },
      );
      const routes = new Set(
        sink
          .points()
          .filter((p) => p.name === 'http.server.request.duration')
          .map((p) => p.attributes['http.route']),
      );
      expect(routes).toContain('/users/:id');
      expect(routes).toContain('/orgs/:org/repos/:repo');
      // The 404 has no route; nothing carries a path value.
      expect(routes).toContain(undefined);
      for (const r of routes) expect(String(r)).not.toMatch(/alice|acme|nope/);
    } finally {
      await sink.close();
    }
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=express leaves the SERVER span to the path guess, without http.route', async () => {
    const run = await withApp(
      rx,
      { fixture: 'frameworks/express5/app.cjs', service: 'express-off', env: { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'express' } },
      async (base) => {
        await send(`${base}/users/123`);
        await send(`${base}/orgs/acme/repos/widget`);
      },
    );
    const s = servers(run.spans);
    expect(s.map((x) => x.name).sort()).toEqual(['GET /orgs/acme/repos/widget', 'GET /users/:id', 'POST /quit']);
    expect(s.every((x) => x.attributes['http.route'] === undefined)).toBe(true);
  });

  it.each([4, 5])('express %i: none by default; OTEL_AGENT_WEB_SPANS=handlers / all add INTERNAL handler / middleware spans', async (major) => {
    const drive = async (base: string) => {
      await send(`${base}/users/alice`);
      await send(`${base}/boom`);
    };
    const fixture = `frameworks/express${major}/app.cjs`;
    const none = await withApp(rx, { fixture, service: `express-spans-none-${major}` }, drive);
    expect(none.spans.filter((s) => s.kind === 'INTERNAL')).toEqual([]);

    const handlers = await withApp(rx, { fixture, service: `express-spans-handlers-${major}`, env: { OTEL_AGENT_WEB_SPANS: 'handlers' } }, drive);
    const server = one(handlers.spans, 'GET /users/:id');
    expect(childrenOf(handlers.spans, server).map((s) => `${s.kind} ${s.name}`)).toEqual(['INTERNAL request handler - /users/:id']);
    // A throwing handler's span: ERROR with error.type, like every framework's; the exception event only on the SERVER span.
    const boomServer = one(handlers.spans, 'GET /boom');
    const [boom] = childrenOf(handlers.spans, boomServer);
    expect(boom?.name).toBe('request handler - /boom');
    expect(boom?.status.code).toBe('ERROR');
    expect(boom?.attributes['error.type']).toBe('TypeError');
    expect(boom?.events).toEqual([]);

    const all = await withApp(rx, { fixture, service: `express-spans-all-${major}`, env: { OTEL_AGENT_WEB_SPANS: 'all' } }, drive);
    const server2 = one(all.spans, 'GET /users/:id');
    const kids = childrenOf(all.spans, server2).map((s) => s.name);
    expect(kids).toContain('request handler - /users/:id');
    expect(kids).toContain('middleware - jsonParser');
    expect(byName(all.spans, /alice/)).toEqual([]);
  });
});
