/**
 * Process life with the agent loaded: child processes and worker threads
 * inheriting NODE_OPTIONS, a package manager in between, and every way an app
 * under load ends (process.exit inside a request, SIGTERM with and without
 * the app's own handler, an uncaught exception, an unhandled rejection).
 *
 * Exit codes and signals are compared with the same run without the agent,
 * and "no span ended before exit is lost" is checked exactly: the app prints
 * DONE <url> once a response has closed (after its SERVER span ended), and
 * every such request must have its span exported.
 *
 * Basics covered elsewhere, not repeated here: loading twice (NODE_OPTIONS +
 * --import, --import + --require) and workers with --import in
 * test/core/loading.test.ts; the exit paths with one request in
 * test/core/lifecycle.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { FIXTURES, ROOT, VARIANTS, type FixtureResult, type LoadMode, type RunningFixture } from '../harness/fixture';
import { continuous, killLeftovers, request, startTracked } from './load';

afterAll(killLeftovers);

let rx: OtlpReceiver;
const dirs: string[] = [];
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);
const portOf = (ready: string): number => Number(ready.split(' ')[1]);

describe.each(VARIANTS)('NODE_OPTIONS reaches child processes and worker threads: each traced once (%s)', (ext) => {
  it('a child process started by the app is traced by its own agent, once; --import alone does not reach it', async () => {
    for (const mode of ['node-options', 'import'] as const) {
      const service = `spawn-${mode}-${ext}`;
      const f = startTracked({ fixture: `reliability/spawner.${ext}`, mode, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service } });
      const port = portOf(await f.ready);
      const answers = await Promise.all([1, 2, 3].map((i) => request(port, `/spawn/${i}`)));
      const childPids = answers.map((a) => {
        expect(a.status, a.body).toBe(200);
        const m = /^CHILD (\d+) (.*)$/.exec(a.body)!;
        expect(JSON.parse(m[2]!)).toEqual({ square: Number(a.path.split('/')[2]) ** 2 });
        return Number(m[1]);
      });
      await request(port, '/shutdown');
      const r = await f.result;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      const spans = of(service);
      const parentPid = one(spans.filter((s) => s.attributes['url.path'] === '/shutdown')).resource['process.pid'];
      for (const [i, pid] of childPids.entries()) {
        const leaf = one(spans.filter((s) => s.kind === 'SERVER' && s.attributes['url.path'] === `/leaf/${i + 1}`));
        expect(leaf.resource['process.pid']).toBe(parentPid);
        const fromChild = spans.filter((s) => s.resource['process.pid'] === pid);
        if (mode === 'node-options') {
          // Exactly one span from the child (its CLIENT call), and the parent's SERVER span continues it.
          expect(fromChild.map((s) => s.kind)).toEqual(['CLIENT']);
          expect(leaf.parentSpanId).toBe(fromChild[0]!.spanId);
          expect(leaf.traceId).toBe(fromChild[0]!.traceId);
        } else {
          expect(fromChild).toEqual([]);
          expect(leaf.parentSpanId).toBe('');
        }
      }
    }
  });

  it('worker threads: untraced by default; with OTEL_AGENT_ENABLE_IN_WORKERS=true each worker is traced once even when the agent is named twice', async () => {
    for (const enabled of [false, true]) {
      const service = `workers-${enabled}-${ext}`;
      const f = startTracked({
        fixture: `reliability/spawner.${ext}`,
        mode: 'node-options',
        nodeArgs: ['--import', '@x/otel-agent'],
        endpoint: rx.url,
        env: { OTEL_SERVICE_NAME: service, OTEL_AGENT_ENABLE_IN_WORKERS: String(enabled) },
      });
      const port = portOf(await f.ready);
      const answers = await Promise.all([1, 2, 3, 4].map((i) => request(port, `/worker/${i}`)));
      for (const a of answers) expect(JSON.parse(a.body)).toEqual({ square: Number(a.path.split('/')[2]) ** 2 });
      await request(port, '/shutdown');
      const r = await f.result;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      if (enabled) await rx.waitForSpans(() => of(service).filter((s) => s.kind === 'CLIENT').length >= 4, 10_000);
      const spans = of(service);
      for (const i of [1, 2, 3, 4]) {
        const leaf = one(spans.filter((s) => s.kind === 'SERVER' && s.attributes['url.path'] === `/leaf/${i}`));
        const clients = spans.filter((s) => s.kind === 'CLIENT' && s.traceId === leaf.traceId);
        if (enabled) {
          expect(clients, `worker ${i}: one CLIENT span`).toHaveLength(1);
          expect(leaf.parentSpanId).toBe(clients[0]!.spanId);
        } else {
          expect(clients).toEqual([]);
          expect(leaf.parentSpanId).toBe('');
        }
      }
    }
  });
});

describe('a package manager in between: `npm run` with NODE_OPTIONS="--import @x/otel-agent"', () => {
  it('npm itself loads no agent and prints nothing from it; the app it starts is traced', async () => {
    let npm: string;
    try {
      npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
    } catch {
      npm = '';
    }
    if (!npm) {
      if (process.env.CI === 'true') throw new Error('npm is not on PATH');
      console.warn('\n!!! npm is not on PATH: the `npm run` test is SKIPPED\n');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'otel-npm-'));
    dirs.push(dir);
    copyFileSync(join(FIXTURES, 'reliability/child.cjs'), join(dir, 'app.cjs'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'npm-app', version: '1.0.0', private: true, scripts: { start: 'node app.cjs' } }));
    // As an installed copy would be: node_modules/@x/otel-agent in the app's directory.
    mkdirSync(join(dir, 'node_modules', '@x'), { recursive: true });
    symlinkSync(ROOT, join(dir, 'node_modules', '@x', 'otel-agent'), 'dir');

    // The app calls this (untraced) server, so its CLIENT span has something to call.
    const target = http.createServer((_req, res) => res.end(JSON.stringify({ square: 49 })));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as AddressInfo).port;
    const service = 'npm-run';
    const env: Record<string, string> = {
      // npm runs on the first `node` on PATH: make that the Node the tests run on, as `npm test` does.
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? dir,
      NODE_OPTIONS: '--import @x/otel-agent',
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      // info: every agent that starts says so in one line, so a second one (npm's) could not hide.
      OTEL_LOG_LEVEL: 'info',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    };
    const r = await new Promise<FixtureResult>((resolve) => {
      const child = spawn(npm, ['run', 'start', '--', String(port), '7'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    target.close();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const m = /CHILD (\d+) /.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const appPid = Number(m![1]);
    const startLines = r.stderr.split('\n').filter((l) => /^\[otel-agent\] @x\/otel-agent .* on Node/.test(l));
    expect(startLines, `one agent started (the app's), not npm's:\n${r.stderr}`).toHaveLength(1);
    expect(
      r.stderr
        .split('\n')
        .filter((l) => l.startsWith('[otel-agent]'))
        .every((l) => !/warning|error/.test(l)),
      r.stderr,
    ).toBe(true);
    const spans = of(service);
    expect(spans.map((s) => `${s.kind} ${s.resource['process.pid']}`)).toEqual([`CLIENT ${appPid}`]);
    expect(String(spans[0]!.resource['process.command'])).toMatch(/app\.cjs$/);
  });
});

// ---------------------------------------------------------------------------------------------
// Ending under load

interface Ending {
  name: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** Ends the app while load is running. */
  end(f: RunningFixture, port: number): Promise<void>;
}

const ENDINGS: Ending[] = [
  { name: 'process.exit(7) from inside a request', end: async (_f, port) => void (await request(port, '/exit-now/7')) },
  { name: 'SIGTERM, no app handler', end: async (f) => void f.child.kill('SIGTERM') },
  { name: 'SIGTERM, the app handles it (closes the server, exits 0)', env: { FIXTURE_SIGTERM: 'handler' }, end: async (f) => void f.child.kill('SIGTERM') },
  { name: 'an uncaught exception in a request', end: async (_f, port) => void (await request(port, '/throw')) },
  { name: 'an unhandled rejection in a request', end: async (_f, port) => void (await request(port, '/reject')) },
  {
    name: 'an unhandled rejection with --unhandled-rejections=warn (the app keeps running, then exits 0 by itself)',
    nodeArgs: ['--unhandled-rejections=warn'],
    end: async (_f, port) => {
      await request(port, '/reject');
      await request(port, '/shutdown?code=0', { method: 'POST' });
    },
  },
];

async function endUnderLoad(ext: string, mode: LoadMode, e: Ending, service: string): Promise<{ r: FixtureResult; done: string[] }> {
  const f = startTracked({
    fixture: `reliability/server.${ext}`,
    mode,
    endpoint: rx.url,
    nodeArgs: e.nodeArgs,
    env: { OTEL_SERVICE_NAME: service, FIXTURE_LOG_DONE: '1', ...e.env },
  });
  const port = portOf(await f.ready);
  const load = continuous(port, 12, (n) => `/work/${n}?hop=1`);
  // Let a few hundred requests complete, so that spans are queued, in flight and being made when the end comes.
  while (load.answered() < 300) await new Promise((r) => setTimeout(r, 20));
  await e.end(f, port);
  // An app that shuts down gracefully waits for its clients to go away, as a load balancer would make them.
  await load.stop();
  const r = await f.result;
  const done = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('DONE /work/'))
    .map((l) => l.slice(5));
  return { r, done };
}

describe.each(VARIANTS)('ending under load (%s): same exit as without the agent, no span ended before the exit is lost', (ext) => {
  it.each(ENDINGS.map((e) => [e.name, e] as const))('%s', async (_name, e) => {
    const plain = await endUnderLoad(ext, 'none', e, `plain-${ext}`);
    const service = `end-${ENDINGS.indexOf(e)}-${ext}`;
    const { r, done } = await endUnderLoad(ext, 'import', e, service);
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: plain.r.code, signal: plain.r.signal });
    expect(done.length).toBeGreaterThanOrEqual(300);
    const exported = new Set(
      of(service)
        .filter((s) => s.kind === 'SERVER')
        .map((s) => `${String(s.attributes['url.path'])}?${String(s.attributes['url.query'])}`),
    );
    const lost = done.filter((u) => !exported.has(u));
    expect(
      lost.length,
      `${lost.length} of ${done.length} requests answered before the exit have no exported span, e.g. ${lost.slice(0, 3).join(', ')}\n${r.stderr}`,
    ).toBe(0);
    // The app's own last words are still there, and the agent added none on the way out.
    const appLines = (s: string): string[] =>
      s
        .split('\n')
        .filter((l) => l && !l.startsWith('[otel-agent]'))
        .map((l) => l.replace(/^\(node:\d+\)/, '(node)'));
    expect(appLines(r.stderr).find((l) => /app (crash|rejection) from/.test(l)) ?? '').toBe(
      appLines(plain.r.stderr).find((l) => /app (crash|rejection) from/.test(l)) ?? '',
    );
    expect(r.stderr.split('\n').filter((l) => l.startsWith('[otel-agent]'))).toEqual([]);
  });
});

function one(spans: RecvSpan[]): RecvSpan {
  if (spans.length !== 1) throw new Error(`expected one span, got ${spans.length}: ${spans.map((s) => s.name).join(', ')}`);
  return spans[0]!;
}
