/**
 * The package as a user gets it: `npm pack`, the tarball installed into an
 * empty project, and an app run from that project with `node --import
 * @x/otel-agent`. Checks what lands on disk (how much, which files) and that
 * the installed copy, with only its declared dependencies, traces and exports
 * over every protocol, with no package of the repository's node_modules in reach.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan, one } from '../harness/otlp-receiver';
import { FIXTURES, ROOT, runFixture } from '../harness/fixture';
import { folderSize, MB, npm, requireRegistry } from './npm';

/** The goal from the install-size work: the agent and all its dependencies, installed. */
const MAX_INSTALLED = 15 * MB;

let rx: OtlpReceiver;
let work = '';
let project = '';
let packed: string[] = [];
let online = false;

beforeAll(async () => {
  rx = await startOtlpReceiver();
  online = await requireRegistry('installing the packed agent into a temp project', ROOT);
  if (!online) return;
  work = mkdtempSync(join(tmpdir(), 'otel-pack-'));
  // --ignore-scripts: pack the dist/ the other fixture tests run against, without `prepare` rebuilding it.
  const pack = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], ROOT);
  expect(pack.code, pack.stderr).toBe(0);
  const info = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  packed = info[0]!.files.map((f) => f.path).sort();
  project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'installed-app', version: '1.0.0', private: true }));
  const install = await npm(['install', '--prefer-offline', join(work, info[0]!.filename)], project);
  expect(install.code, install.stderr).toBe(0);
  for (const ext of ['mjs', 'cjs']) copyFileSync(join(FIXTURES, `package/installed-app.${ext}`), join(project, `installed-app.${ext}`));
}, 300_000);

afterAll(async () => {
  await rx?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the built agent, its licence, README and package.json, and nothing else', ({ skip }) => {
    if (!online) return skip();
    const instr = packed.filter((p) => p.startsWith('dist/instr/'));
    expect(packed.filter((p) => !p.startsWith('dist/instr/'))).toEqual([
      'LICENSE',
      'README.md',
      'dist/agent.cjs',
      'dist/cli.cjs',
      'dist/config-file.cjs',
      'dist/esbuild.cjs',
      'dist/esbuild.mjs',
      'dist/metrics.cjs',
      'dist/register.cjs',
      'dist/register.mjs',
      'dist/rollup.cjs',
      'dist/rollup.mjs',
      'dist/signals.cjs',
      'dist/vendor/api.cjs',
      'dist/vendor/grpc.cjs',
      'dist/vendor/instrumentation.cjs',
      'dist/webpack-loader.cjs',
      'dist/webpack.cjs',
      'dist/webpack.mjs',
      'package.json',
    ]);
    // One bundled file per instrumentation (their list is the registry's, not this test's).
    expect(instr.length).toBeGreaterThan(10);
    for (const p of instr) expect(p).toMatch(/^dist\/instr\/[a-z0-9-]+\.cjs$/);
    expect(instr).toContain('dist/instr/http.cjs');
  });

  it(`installs, with all its dependencies, in at most ${MAX_INSTALLED / MB} MB`, ({ skip }) => {
    if (!online) return skip();
    const modules = join(project, 'node_modules');
    const size = folderSize(modules);
    console.log(`[install] node_modules: ${(size.bytes / MB).toFixed(1)} MB in files, ${(size.diskBytes / MB).toFixed(1)} MB on disk, ${size.files} files`);
    expect(size.bytes).toBeLessThanOrEqual(MAX_INSTALLED);
    expect(size.diskBytes).toBeLessThanOrEqual(MAX_INSTALLED);
    // The OpenTelemetry packages and gRPC are bundled in dist/: none of them is installed.
    expect(readdirSync(modules)).not.toContain('@opentelemetry');
    expect(readdirSync(modules)).not.toContain('@grpc');
    const pkg = JSON.parse(readFileSync(join(modules, '@x/otel-agent/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(modules, dep, 'package.json')), dep).toBe(true);
  });
});

const ofService = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);

describe.each([
  { protocol: 'http/protobuf', url: () => rx.url },
  { protocol: 'grpc', url: () => rx.grpcUrl },
] as const)('an app in that project, exporting over $protocol', ({ protocol, url }) => {
  it.for([
    { ext: 'mjs', mode: 'import', end: 'drain' },
    // process.exit() with the spans still in the batch (a one-minute delay): delivered at exit.
    { ext: 'cjs', mode: 'require', end: 'exit' },
  ] as const)('$ext app, --$mode, ending by $end: client and server spans arrive', async ({ ext, mode, end }, { skip }) => {
    if (!online) return skip();
    const service = `installed-${protocol.replace('/', '-')}-${ext}`;
    const r = await runFixture({
      fixture: join(project, `installed-app.${ext}`),
      cwd: project,
      mode,
      args: [end],
      endpoint: url(),
      env: { OTEL_SERVICE_NAME: service, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, ...(end === 'exit' ? { OTEL_BSP_SCHEDULE_DELAY: '60000' } : {}) },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    // The agent the app loaded is the installed copy, not the repository.
    expect(r.stdout).toContain(`AGENT ${pathToFileURL(join(project, 'node_modules/@x/otel-agent/dist/'))}`);
    const spans = await rx.waitForSpans(() => ofService(service).length >= 2, 10_000).then(() => ofService(service));
    const server = one(
      spans.filter((s) => s.kind === 'SERVER'),
      'GET /installed/:id',
    );
    const client = one(
      spans.filter((s) => s.kind === 'CLIENT'),
      /^GET /,
    );
    expect(server.parentSpanId).toBe(client.spanId);
    expect(server.traceId).toBe(client.traceId);
    expect(spans).toHaveLength(2);
    expect(rx.requests().some((q) => q.transport === protocol && q.spanCount > 0)).toBe(true);
  });
});

describe('an app in that project, console exporter', () => {
  it('prints the trace as a tree on stdout', async ({ skip }) => {
    if (!online) return skip();
    const r = await runFixture({ fixture: join(project, 'installed-app.mjs'), cwd: project, env: { OTEL_TRACES_EXPORTER: 'console' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/installed\/:id {2}client {2}200 {2}[\d.]+ ms {2}trace [0-9a-f]{32}$/m);
    expect(r.stdout).toMatch(/^└─ GET \/installed\/:id {2}server {2}200 {2}[\d.]+ ms$/m);
  });
});

describe('the build plugins from that project (docs/bundlers.md)', () => {
  it('@x/otel-agent/esbuild, /webpack and /rollup load by require and by import, with no bundler installed', async ({ skip }) => {
    if (!online) return skip();
    const script = [
      "const { existsSync } = require('node:fs');",
      "const { dirname, join } = require('node:path');",
      "const e = require('@x/otel-agent/esbuild'), w = require('@x/otel-agent/webpack'), r = require('@x/otel-agent/rollup');",
      "const loader = join(dirname(require.resolve('@x/otel-agent/webpack')), 'webpack-loader.cjs');",
      'Promise.all([import("@x/otel-agent/esbuild"), import("@x/otel-agent/webpack"), import("@x/otel-agent/rollup")]).then(([em, wm, rm]) => {',
      '  console.log(JSON.stringify({ esbuild: e.otelAgent().name, rollup: r.otelAgent().name, webpack: typeof new w.OtelAgentWebpackPlugin().apply, loader: existsSync(loader),',
      '    esm: [em.default === e.otelAgent, wm.OtelAgentWebpackPlugin === w.OtelAgentWebpackPlugin, rm.otelAgent === r.otelAgent] }));',
      '});',
    ].join('\n');
    const child = spawn(process.execPath, ['-e', script], { cwd: project, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    expect(existsSync(join(project, 'node_modules/esbuild'))).toBe(false);
    expect(JSON.parse(stdout)).toEqual({ esbuild: '@x/otel-agent', rollup: '@x/otel-agent', webpack: 'function', loader: true, esm: [true, true, true] });
  });
});

describe('otel-agent doctor from that project', () => {
  it('checks a gRPC endpoint with the bundled gRPC client: accepted', async ({ skip }) => {
    if (!online) return skip();
    const cli = join(project, 'node_modules/.bin/otel-agent');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.grpcUrl,
    };
    const child = spawn(process.execPath, [cli, 'doctor', '--json', '--no-run'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const json = JSON.parse(stdout) as { endpoints: unknown[] };
    expect(json.endpoints, stderr).toEqual([expect.objectContaining({ exporter: 'otlp', protocol: 'grpc', reachable: true, accepts: true, status: 'OK' })]);
    expect(code, stdout).toBe(0);
  });
});
