/**
 * Runs a framework fixture app (test/fixtures/frameworks/<dir>/app.<ext>) under the agent, lets a
 * test drive it over HTTP, and returns what the OTLP receiver got from it. Also: the copy of an
 * aliased older major (`fastify4`, `koa2`) put where the fixture's bare `require('fastify')`
 * finds it, and a metrics sink that keeps the http.route of each duration point.
 */
import { cpSync, existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FIXTURES, ROOT, startFixture } from '../harness/fixture';
import type { OtlpReceiver, RecvSpan } from '../harness/otlp-receiver';
import { send, spansOf } from '../http/helpers';

export interface AppRun {
  spans: RecvSpan[];
  stdout: string;
  stderr: string;
}

const version = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * The app must find the older major under its real name: the instrumentation is activated by the
 * bare specifier (`fastify`) and matches the package by its folder name, so a symlink to
 * node_modules/fastify4 (whose real path says `fastify4`) would not be the same as an install.
 * A copy (with its nested node_modules) is; its other dependencies resolve from the repo's.
 */
export function installAlias(alias: string, name: string, fixtureDir: string): string {
  const from = join(ROOT, 'node_modules', alias);
  const to = join(FIXTURES, 'frameworks', fixtureDir, 'node_modules', name);
  if (!existsSync(join(to, 'package.json')) || version(to) !== version(from)) cpSync(from, to, { recursive: true, dereference: true, force: true });
  return version(to);
}

export async function runApp(
  rx: OtlpReceiver,
  o: { fixture: string; ext: string; service: string; env?: Record<string, string | undefined> },
  drive: (base: string) => Promise<void>,
): Promise<AppRun> {
  const f = startFixture({
    fixture: `frameworks/${o.fixture}/app.${o.ext}`,
    mode: o.ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: o.service, ...o.env },
  });
  const port = Number((await f.ready).split(' ')[1]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await drive(base);
  } finally {
    await send(`${base}/quit`, { method: 'POST' }).catch(() => f.child.kill('SIGTERM'));
  }
  const r = await f.result;
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr, 'the agent or the app printed warnings or errors').toBe('');
  return { spans: spansOf(rx, o.service), stdout: r.stdout, stderr: r.stderr };
}

/** The SERVER spans of a run, without the final POST /quit. */
export const servers = (run: AppRun): RecvSpan[] => run.spans.filter((s) => s.kind === 'SERVER' && s.attributes['url.path'] !== '/quit');

export const byPath = (run: AppRun, path: string): RecvSpan => {
  const s = servers(run).filter((x) => x.attributes['url.path'] === path);
  expect(s, `one SERVER span for ${path}`).toHaveLength(1);
  return s[0]!;
};

/** Names no span may carry: the values in the paths the tests request. */
export function pathValuesIn(run: AppRun, values: string[]): string[] {
  return run.spans.filter((s) => values.some((v) => s.name.includes(v))).map((s) => s.name);
}

export interface MetricsSink {
  url: string;
  /** http.route of every http.server.request.duration data point received (undefined: none set). */
  routes(): (string | undefined)[];
  close(): Promise<void>;
}

/** Takes OTLP/JSON metrics (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) and keeps the duration points' routes. */
export async function startMetricsSink(): Promise<MetricsSink> {
  const routes: (string | undefined)[] = [];
  type Attr = { key: string; value: { stringValue?: string } };
  type Metric = { name: string; histogram?: { dataPoints: { attributes?: Attr[] }[] } };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      try {
        const j = JSON.parse(body) as { resourceMetrics?: { scopeMetrics?: { metrics?: Metric[] }[] }[] };
        for (const rm of j.resourceMetrics ?? [])
          for (const sm of rm.scopeMetrics ?? [])
            for (const m of sm.metrics ?? []) {
              if (m.name !== 'http.server.request.duration') continue;
              for (const p of m.histogram?.dataPoints ?? []) routes.push(p.attributes?.find((a) => a.key === 'http.route')?.value.stringValue);
            }
      } catch {
        // not ours to judge here
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`,
    routes: () => [...routes],
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
