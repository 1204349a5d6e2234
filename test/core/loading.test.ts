import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan, byName, one } from '../harness/otlp-receiver';
import { ROOT, runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const of = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);

function probe(stdout: string): { started: boolean; loadedFrom: number; dist: string[] } {
  const line = stdout.split('\n').find((l) => l.startsWith('PROBE '));
  if (!line) throw new Error('no PROBE line in: ' + stdout);
  return JSON.parse(line.slice(6));
}

describe.each(VARIANTS)('loading the agent (%s app)', (ext) => {
  it.each(['import', 'require', 'node-options'] as const)('--%s form traces the app with no code change', async (mode) => {
    if (mode === 'require' && ext === 'mjs') {
      // --require loads the CJS entry; an ESM app is still traced through the ESM hooks it installs.
    }
    const service = `load-${mode}-${ext}`;
    const r = await runFixture({ fixture: `core/lifecycle.${ext}`, mode, args: ['drain'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: service } });
    expect(r.code, r.stderr).toBe(0);
    const spans = of(service);
    const server = one(
      spans.filter((s) => s.kind === 'SERVER'),
      'GET /orders/:id',
    );
    const client = one(
      spans.filter((s) => s.kind === 'CLIENT'),
      /^GET/,
    );
    expect(server.parentSpanId).toBe(client.spanId);
    expect(one(spans, 'fs readFileSync').parentSpanId).toBe(server.spanId);
  });

  it('loaded twice (NODE_OPTIONS and --import) starts one SDK and makes one span per operation', async () => {
    const service = `double-${ext}`;
    const r = await runFixture({
      fixture: `core/lifecycle.${ext}`,
      mode: 'import',
      args: ['drain'],
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, NODE_OPTIONS: '--import @x/otel-agent', FIXTURE_REQUESTS: '3' },
    });
    expect(r.code, r.stderr).toBe(0);
    const spans = of(service);
    expect(
      byName(
        spans.filter((s) => s.kind === 'SERVER'),
        /^GET \/orders/,
      ),
    ).toHaveLength(3);
    expect(spans.filter((s) => s.kind === 'CLIENT')).toHaveLength(3);
    expect(byName(spans, 'fs readFileSync')).toHaveLength(3);
  });

  it('loaded by --import and --require together: one agent, one span per operation', async () => {
    const service = `import-require-${ext}`;
    const r = await runFixture({
      fixture: `core/lifecycle.${ext}`,
      mode: 'import',
      nodeArgs: ['--require', '@x/otel-agent'],
      args: ['drain'],
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service, FIXTURE_REQUESTS: '2' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(of(service).filter((s) => s.kind === 'SERVER')).toHaveLength(2);
    expect(of(service).filter((s) => s.kind === 'CLIENT')).toHaveLength(2);
  });

  it('two different copies of the agent in one process (e.g. a global and a local install): the second stands down', async () => {
    // A second copy of the built agent, as a second installed copy would be.
    const copy = join(ROOT, '.cache', 'agent-copy');
    rmSync(copy, { recursive: true, force: true });
    mkdirSync(copy, { recursive: true });
    cpSync(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
    const service = `two-copies-${ext}`;
    const r = await runFixture({
      fixture: `core/probe.${ext}`,
      mode: 'import',
      nodeArgs: ['--import', join(copy, 'dist', 'register.mjs')],
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service },
    });
    expect(r.code, r.stderr).toBe(0);
    const p = probe(r.stdout);
    expect(p.started).toBe(true);
    expect(p.loadedFrom).toBe(2);
    expect(r.stderr).toBe('');
  });

  it('OTEL_SDK_DISABLED=true loads nothing but the entry and makes no span', async () => {
    const service = `disabled-${ext}`;
    const r = await runFixture({ fixture: `core/probe.${ext}`, endpoint: rx.url, env: { OTEL_SDK_DISABLED: 'true', OTEL_SERVICE_NAME: service } });
    expect(r.code, r.stderr).toBe(0);
    const p = probe(r.stdout);
    expect(p.started).toBe(false);
    expect(p.dist).toEqual(['dist/register.cjs']);
    const r2 = await runFixture({
      fixture: `core/lifecycle.${ext}`,
      args: ['drain'],
      endpoint: rx.url,
      env: { OTEL_SDK_DISABLED: 'TRUE', OTEL_SERVICE_NAME: service },
    });
    expect(r2.code).toBe(0);
    expect(r2.stderr).toBe('');
    expect(of(service)).toHaveLength(0);
  });

  it('loads no instrumentation for modules the app never loads', async () => {
    const r = await runFixture({ fixture: `core/probe.${ext}`, endpoint: rx.url });
    const p = probe(r.stdout);
    expect(p.started).toBe(true);
    expect(p.dist.filter((f) => f.startsWith('dist/instr/'))).toEqual([]);
  });

  it("loading and patching a module inside a traced request adds no spans of the agent's own", async () => {
    const service = `late-${ext}`;
    const r = await runFixture({ fixture: `core/late-require.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_LOG_LEVEL: 'debug' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/module "pino" [\d.]+ loaded by (require|import).*patched/);
    const spans = of(service);
    expect(spans.map((s) => s.name).sort()).toEqual(['GET /late', expect.stringMatching(/^GET http/)].sort());
  });

  it('traces the main thread only, unless OTEL_AGENT_ENABLE_IN_WORKERS=true', async () => {
    const service = `worker-${ext}`;
    const r = await runFixture({ fixture: `core/worker.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service } });
    expect(r.code, r.stderr).toBe(0);
    const spans = of(service);
    // The worker's request reaches the main thread's server (traced), but the worker made no CLIENT span.
    expect(
      byName(
        spans.filter((s) => s.kind === 'SERVER'),
        /^GET \/from-/,
      ),
    ).toHaveLength(2);
    expect(spans.filter((s) => s.kind === 'CLIENT')).toHaveLength(1);

    const service2 = `worker-on-${ext}`;
    const r2 = await runFixture({
      fixture: `core/worker.${ext}`,
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service2, OTEL_AGENT_ENABLE_IN_WORKERS: 'true' },
    });
    expect(r2.code, r2.stderr).toBe(0);
    await rx.waitForSpans((all) => all.filter((s) => s.resource['service.name'] === service2 && s.kind === 'CLIENT').length === 2, 5000);
    const s2 = of(service2);
    const fromWorker = one(
      s2.filter((s) => s.kind === 'SERVER'),
      'GET /from-worker',
    );
    const workerClient = s2.find((s) => s.spanId === fromWorker.parentSpanId);
    expect(workerClient?.kind).toBe('CLIENT');
  });

  it('names the service after the app package.json when OTEL_SERVICE_NAME is unset', async () => {
    const r = await runFixture({ fixture: `core/named/app.${ext}`, args: ['drain'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: undefined } });
    expect(r.code, r.stderr).toBe(0);
    const spans = rx.spans().filter((s) => s.resource['service.name'] === 'shop-api');
    expect(spans.length).toBeGreaterThanOrEqual(3);
    expect(spans[0]!.resource['service.version']).toBe('1.2.3');
  });
});

describe('never breaks the host', () => {
  it('on a Node older than 22.15 the app runs untraced with one warning', async () => {
    let old: string;
    try {
      old = execFileSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      old = '';
    }
    const major = Number(old.slice(1).split('.')[0]);
    if (!existsSync('/usr/bin/node') || !(major >= 18 && major < 22)) {
      console.warn(`skipping: no Node < 22 at /usr/bin/node (found ${old || 'none'})`);
      return;
    }
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('/usr/bin/node', ['--import', '@x/otel-agent', 'test/fixtures/core/lifecycle.cjs', 'drain'], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH, OTEL_EXPORTER_OTLP_ENDPOINT: rx.url },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stderr.match(/older than 22\.15/g)).toHaveLength(1);
  });
});
