/**
 * What every framework instrumentation promises, checked on what the OTLP receiver got from a
 * fixture app (test/fixtures/frameworks/): the route names the SERVER span and sits in
 * http.route, a request no route matched is named by its method only, a handler's throw is one
 * exception event on the SERVER span of its 500, an error the framework answers with a 4xx is not
 * recorded, and no span name carries a value from a path.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { OtlpReceiver } from '../harness/otlp-receiver';
import { send } from '../http/helpers';
import { byPath, pathValuesIn, runApp, servers, type AppRun } from './fixture-app';

export interface RouteCase {
  fixture: string;
  ext: string;
  service: string;
  env?: Record<string, string | undefined>;
  /** The framework's templates for /users/alice and /orgs/acme/repos/widget. */
  users: string;
  repos: string;
  /** A path whose handler fails with a 4xx the framework maps from an error, and its route. */
  clientError: { path: string; route: string; status: number };
  /** Further paths whose handlers throw (each answered 500), with their route and error.type. */
  more500?: { path: string; route: string; errorType: string }[];
}

export async function checkRoutes(rx: OtlpReceiver, c: RouteCase): Promise<AppRun> {
  const probe = `/nope-${randomBytes(4).toString('hex')}/x`;
  const statuses: Record<string, number> = {};
  const paths = ['/users/alice', '/orgs/acme/repos/widget', '/boom', c.clientError.path, probe, ...(c.more500 ?? []).map((m) => m.path)];
  const run = await runApp(rx, c, async (base) => {
    for (const p of paths) statuses[p] = (await send(base + p)).status;
  });
  expect(statuses).toEqual({
    '/users/alice': 200,
    '/orgs/acme/repos/widget': 200,
    '/boom': 500,
    [c.clientError.path]: c.clientError.status,
    [probe]: 404,
    ...Object.fromEntries((c.more500 ?? []).map((m) => [m.path, 500])),
  });
  expect(servers(run)).toHaveLength(paths.length);

  const users = byPath(run, '/users/alice');
  expect(users.name).toBe(`GET ${c.users}`);
  expect(users.attributes['http.route']).toBe(c.users);
  expect(users.status.code).toBe('UNSET');
  expect(users.events).toEqual([]);

  const repos = byPath(run, '/orgs/acme/repos/widget');
  expect(repos.name).toBe(`GET ${c.repos}`);
  expect(repos.attributes['http.route']).toBe(c.repos);

  for (const m of [{ path: '/boom', route: '/boom', errorType: 'Error' }, ...(c.more500 ?? [])]) {
    const boom = byPath(run, m.path);
    expect(boom.name).toBe(`GET ${m.route}`);
    expect(boom.attributes['http.route']).toBe(m.route);
    expect(boom.attributes['http.response.status_code']).toBe(500);
    expect(boom.status.code).toBe('ERROR');
    expect(boom.attributes['error.type']).toBe(m.errorType);
    // Recorded once, on the SERVER span, however many layers the error went through.
    const exceptions = run.spans.flatMap((s) => s.events.filter((e) => e.name === 'exception'));
    const mine = boom.events.filter((e) => e.name === 'exception');
    expect(mine).toHaveLength(1);
    expect(mine[0]!.attributes['exception.type']).toBe(m.errorType);
    // A stack, without the host's directory layout (OTEL_AGENT_EXCEPTION_PATHS=relative by default).
    expect(String(mine[0]!.attributes['exception.stacktrace'])).toMatch(/\n {4}at /);
    expect(String(mine[0]!.attributes['exception.stacktrace'])).not.toContain(process.cwd());
    expect(exceptions.filter((e) => e.attributes['exception.message'] === mine[0]!.attributes['exception.message'])).toHaveLength(1);
  }

  const bad = byPath(run, c.clientError.path);
  expect(bad.name).toBe(`GET ${c.clientError.route}`);
  expect(bad.attributes['http.response.status_code']).toBe(c.clientError.status);
  expect(bad.status.code).toBe('UNSET');
  expect(bad.attributes).not.toHaveProperty('error.type');
  expect(bad.events).toEqual([]);

  const nope = byPath(run, probe);
  expect(nope.name).toBe('GET');
  expect(nope.attributes).not.toHaveProperty('http.route');
  expect(nope.attributes['http.response.status_code']).toBe(404);

  expect(pathValuesIn(run, ['alice', 'acme', 'widget', probe.slice(1, 13)])).toEqual([]);
  return run;
}
