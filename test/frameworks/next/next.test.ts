/**
 * Next.js: `next build` once, then `next start` under the agent (loaded with
 * --import and with --require through NODE_OPTIONS, as a user of `next start`
 * does). Next.js sets http.route on the span active when it takes a request,
 * ours: the agent's SERVER span is named `GET /api/users/[id]`, carries that
 * http.route (and so does the duration metric), and Next's own spans, its
 * second SERVER-kind span first, nest under it.
 *
 * The build takes about 25 s on a 2-core machine; the test allows 4 minutes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../../harness/fixture';
import { childrenOf, startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../../harness/otlp-receiver';
import { send, spansOf } from '../../http/helpers';
import { appDir, doctor } from '../../doctor/run-doctor';

const NEXT = join(ROOT, 'node_modules/next/dist/bin/next');
// Inside the repo, so the app resolves next/react from the repo's node_modules.
const APP = join(ROOT, '.cache', `next-app-${process.pid}`);
const ROUTE = '/api/users/[id]';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  rmSync(APP, { recursive: true, force: true });
  mkdirSync(APP, { recursive: true });
  cpSync(join(FIXTURES, 'frameworks/next'), APP, { recursive: true });
  const b = spawnSync(process.execPath, [NEXT, 'build'], {
    cwd: APP,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NEXT_TELEMETRY_DISABLED: '1' },
    encoding: 'utf8',
    timeout: 230_000,
  });
  if (b.status !== 0) throw new Error(`next build failed (${b.status}):\n${b.stdout}\n${b.stderr}`);
}, 240_000);
afterAll(async () => {
  await rx.close();
  rmSync(APP, { recursive: true, force: true });
});

interface NextRun {
  spans: RecvSpan[];
  statuses: number[];
  stdout: string;
  code: number | null;
}

async function run(how: 'import' | 'require', service: string, paths: string[], env: Record<string, string> = {}, waitFor?: string): Promise<NextRun> {
  const agent = how === 'import' ? `--import ${join(ROOT, 'dist/register.mjs')}` : `--require ${join(ROOT, 'dist/register.cjs')}`;
  const child = spawn(process.execPath, [NEXT, 'start', '-H', '127.0.0.1', '-p', '0'], {
    cwd: APP,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NEXT_TELEMETRY_DISABLED: '1',
      NODE_OPTIONS: agent,
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`next start printed no address:\n${stdout}\n${stderr}`)), 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
      if (m && /Ready/.test(stdout)) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    });
    void exited.then(() => rej(new Error(`next start exited:\n${stdout}\n${stderr}`)));
  });
  const statuses: number[] = [];
  try {
    for (const p of paths) statuses.push((await send(`http://127.0.0.1:${port}${p}`)).status);
    // Next.js ends the process itself on SIGTERM (process.exit), so what is printed periodically is waited for first.
    for (let i = 0; waitFor !== undefined && !stdout.includes(waitFor) && i < 100; i++) await new Promise((r) => setTimeout(r, 100));
  } finally {
    child.kill('SIGTERM');
  }
  const code = await exited;
  return { spans: spansOf(rx, service), statuses, stdout, code };
}

const ours = (spans: RecvSpan[]) => spans.filter((s) => s.scope.name === '@x/otel-agent/http' && s.kind === 'SERVER');

describe.each(['import', 'require'] as const)('next start, agent loaded with --%s', (how) => {
  it('names our SERVER span by the route Next.js matched, with Next.js spans under it', async () => {
    const r = await run(how, `next-${how}`, ['/api/users/alice', '/api/users/bob', '/api/boom/x', '/nope/anything']);
    expect(r.statuses).toEqual([200, 200, 500, 404]);
    // Next.js exits 143 on SIGTERM with or without the agent.
    expect(r.code).toBe(143);
    const servers = ours(r.spans);
    expect(servers.map((s) => s.name).sort()).toEqual(['GET', `GET /api/boom/[id]`, `GET ${ROUTE}`, `GET ${ROUTE}`]);

    const alice = servers.find((s) => s.attributes['url.path'] === '/api/users/alice')!;
    expect(alice.attributes['http.route']).toBe(ROUTE);
    expect(alice.parentSpanId).toBe('');
    // Next.js's own request span is a second SERVER-kind span, a child of ours.
    const nextSpan = childrenOf(r.spans, alice).find((s) => s.kind === 'SERVER')!;
    expect(nextSpan, 'Next.js request span under ours').toBeDefined();
    expect(nextSpan.attributes['next.route']).toBe(ROUTE);
    const exec = childrenOf(r.spans, nextSpan).find((s) => s.name.startsWith('executing api route'))!;
    expect(exec.name).toBe(`executing api route (pages) ${ROUTE}`);
    // The route handler's own work is in the same trace, under Next's span for it.
    expect(childrenOf(r.spans, exec).map((s) => s.name)).toContain('fs readFileSync');

    const boom = servers.find((s) => s.attributes['url.path'] === '/api/boom/x')!;
    expect(boom.attributes).toMatchObject({ 'http.route': '/api/boom/[id]', 'http.response.status_code': 500 });
    expect(boom.status.code).toBe('ERROR');

    const nope = servers.find((s) => s.attributes['url.path'] === '/nope/anything')!;
    expect(nope.name).toBe('GET');
    expect(nope.attributes['http.route']).toBeUndefined();

    for (const s of r.spans) for (const v of ['alice', 'bob', 'nope', 'anything']) expect(s.name, s.name).not.toContain(v);
  });
});

describe('next start and the duration metric', () => {
  it('carries the route Next.js set', async () => {
    const r = await run(
      'import',
      'next-metrics',
      ['/api/users/alice', '/api/users/bob'],
      { OTEL_METRICS_EXPORTER: 'console', OTEL_METRIC_EXPORT_INTERVAL: '500' },
      'http.server.request.duration',
    );
    expect(r.statuses).toEqual([200, 200]);
    expect(r.stdout).toContain(`'http.route': '${ROUTE}'`);
    expect(r.stdout).not.toMatch(/alice|bob/);
  });
});

describe('doctor and next', () => {
  it.each([
    ['16.4.6', 'supported'],
    ['15.5.29', 'unsupported'],
  ])('lists next %s as %s', async (version, status) => {
    const app = appDir({ dependencies: { next: `^${version}` }, fake: { next: { version, main: 'module.exports = {};' } } });
    try {
      const r = await doctor(['--json'], { cwd: app.dir });
      const n = r.json!.packages.instrumentations.find((i) => i.instrumentation === 'nextjs')!;
      expect(n, r.stdout + r.stderr).toBeDefined();
      expect(n.status).toBe(status);
      expect(n.modules).toEqual([expect.objectContaining({ name: 'next', version, supported: status === 'supported' })]);
    } finally {
      app.cleanup();
    }
  });
});
