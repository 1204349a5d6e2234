/**
 * Bundled apps give the same spans as the same app run from node_modules (issue #20).
 *
 * The fixture apps (test/fixtures/bundlers/: Express + pg + redis + an outgoing fetch; a kafkajs
 * producer) are bundled in the test by the real esbuild, webpack and Rollup with the agent's
 * plugin, CommonJS and ES module output, minified or not, source maps on or off, then run under
 * `node --import @x/otel-agent`. Each run's span trees (names, kinds, scopes, statuses,
 * parent/child, attributes; no ids, timings or ephemeral ports) must equal the unbundled run's.
 * A bundle built without the plugin is said to be one at startup, and loses the package spans.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { FIXTURES, ROOT, runFixture } from '../harness/fixture';
import { requireServer } from '../harness/servers';
import { startKafkaBroker, type KafkaBroker } from '../servers/kafka-broker';
import { bundle, type BundleJob, type Bundler } from './bundle';
import { outline, shapeOf, type Shape } from './span-shape';

const HAVE_PG = await requireServer('postgres');
const HAVE_REDIS = await requireServer('redis');
const SRC = join(FIXTURES, 'bundlers');
/** Inside the repository, so that bundles built with mode: 'external' find the repo's node_modules. */
const OUT = join(ROOT, `.bundles-test-${process.pid}`);

let rx: OtlpReceiver;
let broker: KafkaBroker;
let runs = 0;

beforeAll(async () => {
  rx = await startOtlpReceiver();
  broker = await startKafkaBroker();
  mkdirSync(OUT, { recursive: true });
});
afterAll(async () => {
  await Promise.all([rx?.close(), broker?.close()]);
  rmSync(OUT, { recursive: true, force: true });
});

interface Run {
  shape: Shape[];
  spans: RecvSpan[];
  stdout: string;
  stderr: string;
}

/** Runs an app (a fixture or a bundle) under the agent and returns its spans' shape once its traces are in. */
async function runApp(file: string, done: (spans: RecvSpan[]) => boolean, o: { sourcemap?: boolean; env?: Record<string, string> } = {}): Promise<Run> {
  const service = `bundled-${++runs}`;
  const r = await runFixture({
    fixture: file,
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: service, KAFKA_BROKERS: broker.brokers.join(','), ...o.env },
    nodeArgs: o.sourcemap ? ['--enable-source-maps'] : [],
    timeoutMs: 60_000,
  });
  expect(r.code, `${file} failed:\n${r.stderr}`).toBe(0);
  expect(r.stdout).toContain('DONE');
  const mine = (): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);
  await rx.waitForSpans(() => done(mine()), 15_000).catch(() => undefined);
  const port = Number(/PORT (\d+)/.exec(r.stdout)?.[1] ?? 0);
  const spans = mine();
  return { spans, shape: shapeOf(spans, { stablePorts: [5432, 6379, broker.port], runPorts: port ? [port] : [] }), stdout: r.stdout, stderr: r.stderr };
}

/** The shop's request has come back through the outgoing fetch and its SERVER span. */
const shopDone = (spans: RecvSpan[]): boolean =>
  spans.some((s) => s.kind === 'SERVER' && s.name === 'GET /orders/:id') && spans.some((s) => s.name === 'GET /stock/:id');
const producerDone = (spans: RecvSpan[]): boolean => spans.filter((s) => s.kind === 'PRODUCER').length >= 3;

/** The structural comparison, with both outlines in the message so a failure says which span differs first. */
function expectSameShape(actual: Run, expected: Run, what: string): void {
  expect(actual.shape, `${what}\n--- bundled:\n${outline(actual.shape)}--- unbundled:\n${outline(expected.shape)}`).toEqual(expected.shape);
}

function job(bundler: Bundler, src: string, format: 'cjs' | 'esm', extra: Partial<BundleJob> = {}): BundleJob {
  const tag = [bundler, src.replace('.', '-'), format, extra.minify ? 'min' : '', extra.sourcemap ? 'map' : '', extra.plugin === false ? 'noplugin' : '']
    .filter(Boolean)
    .join('-');
  return { bundler, entry: join(SRC, src), format, outDir: join(OUT, tag), outName: `app.${format === 'esm' ? 'mjs' : 'cjs'}`, ...extra };
}

describe.skipIf(!HAVE_PG || !HAVE_REDIS)('Express + pg + redis + fetch, bundled', () => {
  const baseline = new Map<string, Run>();
  beforeAll(async () => {
    for (const src of ['shop.mjs', 'shop.cjs']) baseline.set(src, await runApp(join(SRC, src), shopDone));
  }, 120_000);

  it('the unbundled runs are the reference: every instrumented package shows, in one tree', () => {
    for (const [src, run] of baseline) {
      const names = run.spans.map((s) => `${s.kind} ${s.name} [${s.scope.name}]`);
      expect(names, src).toEqual(
        expect.arrayContaining([
          'SERVER GET /orders/:id [@x/otel-agent/http]',
          'CLIENT SELECT [@x/otel-agent/pg]',
          'CLIENT SET [@x/otel-agent/redis]',
          'CLIENT GET [@x/otel-agent/redis]',
          'CLIENT GET http://127.0.0.1:<port>/stock/:id [@x/otel-agent/undici]'.replace('<port>', /PORT (\d+)/.exec(run.stdout)![1]!),
          'SERVER GET /stock/:id [@x/otel-agent/http]',
        ]),
      );
      // One request tree: SERVER /orders/:id holds the pg, redis and fetch spans.
      const server = run.shape
        .flatMap(function walk(s): Shape[] {
          return [s, ...s.children.flatMap(walk)];
        })
        .find((s) => s.kind === 'SERVER' && s.name === 'GET /orders/:id')!;
      expect(server.children.map((c) => `${c.kind} ${c.name}`)).toEqual(expect.arrayContaining(['CLIENT SELECT', 'CLIENT SET', 'CLIENT GET']));
    }
    // Same app, both module systems: the same spans.
    expectSameShape(baseline.get('shop.cjs')!, baseline.get('shop.mjs')!, 'shop.cjs vs shop.mjs, unbundled');
  });

  const CASES: [Bundler, string, 'cjs' | 'esm', Partial<BundleJob>][] = [
    ['esbuild', 'shop.mjs', 'cjs', {}],
    ['esbuild', 'shop.mjs', 'esm', { minify: true, sourcemap: true }],
    ['esbuild', 'shop.cjs', 'cjs', { minify: true }],
    ['webpack', 'shop.cjs', 'cjs', {}],
    ['webpack', 'shop.mjs', 'esm', { sourcemap: true }],
    ['rollup', 'shop.mjs', 'cjs', {}],
    ['rollup', 'shop.mjs', 'esm', { sourcemap: true }],
  ];
  for (const [bundler, src, format, extra] of CASES) {
    const label = `${bundler}: ${src} -> ${format}${extra.minify ? ', minified' : ''}${extra.sourcemap ? ', source maps' : ''}`;
    it(`${label}: the same span trees as unbundled`, async () => {
      const file = await bundle(job(bundler, src, format, extra));
      const run = await runApp(file, shopDone, { sourcemap: extra.sourcemap });
      expect(run.stderr).not.toMatch(/built without the agent's build plugin/);
      expectSameShape(run, baseline.get(src)!, label);
    }, 240_000);
  }

  it("esbuild with mode: 'external': the packages are left out, listed, and traced from node_modules", async () => {
    const said: string[] = [];
    const file = await bundle(job('esbuild', 'shop.mjs', 'cjs', { outName: 'external.cjs', plugin: { mode: 'external', log: (l) => said.push(l) } }));
    expect(said.join('\n')).toMatch(/left out of the bundle.*express@5\.\d+\.\d+.*pg@8\.\d+\.\d+.*redis@\d/);
    // Nothing of pg is inside: it is required from node_modules at run time.
    expect(readFileSync(file, 'utf8')).not.toMatch(/node_modules\/pg\//);
    const run = await runApp(file, shopDone);
    expectSameShape(run, baseline.get('shop.mjs')!, 'external');
  }, 120_000);

  for (const bundler of ['esbuild', 'webpack'] as const) {
    it(`${bundler}: a package the build config marks external stays external, and is traced from node_modules`, async () => {
      const file = await bundle(job(bundler, 'shop.cjs', 'cjs', { outName: 'user-external.cjs', externals: ['pg'] }));
      const text = readFileSync(file, 'utf8');
      // Neither pg's code nor its appended lines are inside; express's are.
      expect(text).not.toContain('"pg/lib/client.js"');
      expect(text).toContain('"express"');
      const run = await runApp(file, shopDone);
      expectSameShape(run, baseline.get('shop.cjs')!, `${bundler} with pg external`);
    }, 120_000);
  }

  it('without the plugin: one warning at startup naming the bundled packages, and their spans are missing', async () => {
    const file = await bundle(job('esbuild', 'shop.mjs', 'cjs', { plugin: false }));
    const run = await runApp(file, (spans) => spans.some((s) => s.name === 'GET /stock/:id'));
    const warnings = run.stderr.split('\n').filter((l) => l.includes("built without the agent's build plugin"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/is an esbuild bundle .*express, pg, pg-pool, redis.* not traced.*@x\/otel-agent\/esbuild/);
    // Builtins are still traced (http, fetch); the packages inside are not.
    expect(run.spans.some((s) => s.kind === 'SERVER')).toBe(true);
    expect(run.spans.filter((s) => /^@x\/otel-agent\/(pg|redis)$/.test(s.scope.name))).toEqual([]);
  }, 120_000);
});

describe('kafkajs producer, bundled', () => {
  let base: Run;
  beforeAll(async () => {
    base = await runApp(join(SRC, 'producer.mjs'), producerDone);
  }, 60_000);

  it('the unbundled run is the reference: PRODUCER spans from the kafkajs instrumentation', () => {
    expect(base.spans.filter((s) => s.kind === 'PRODUCER').map((s) => `${s.name} [${s.scope.name}]`)).toEqual(
      expect.arrayContaining(['send orders [@opentelemetry/instrumentation-kafkajs]', 'send audit [@opentelemetry/instrumentation-kafkajs]']),
    );
  });

  const CASES: [Bundler, string, 'cjs' | 'esm', Partial<BundleJob>][] = [
    ['esbuild', 'producer.mjs', 'esm', { sourcemap: true }],
    ['webpack', 'producer.cjs', 'cjs', { minify: true }],
    ['rollup', 'producer.mjs', 'cjs', {}],
  ];
  for (const [bundler, src, format, extra] of CASES) {
    const label = `${bundler}: ${src} -> ${format}${extra.minify ? ', minified' : ''}${extra.sourcemap ? ', source maps' : ''}`;
    it(`${label}: the same span trees as unbundled`, async () => {
      const file = await bundle(job(bundler, src, format, extra));
      const run = await runApp(file, producerDone, { sourcemap: extra.sourcemap });
      expectSameShape(run, base, label);
    }, 240_000);
  }
});

describe('an OTEL_AGENT_EXTRA_INSTRUMENTATIONS package, bundled', () => {
  const EXTRA = '@opentelemetry/instrumentation-generic-pool';
  const env = { OTEL_AGENT_EXTRA_INSTRUMENTATIONS: EXTRA };
  const poolDone = (spans: RecvSpan[]): boolean => spans.some((s) => s.scope.name === EXTRA) && spans.some((s) => s.kind === 'SERVER');
  let base: Run;
  beforeAll(async () => {
    base = await runApp(join(SRC, 'pool.mjs'), poolDone, { env });
  }, 60_000);

  it('the unbundled run is the reference: the extra instrumentation traces generic-pool inside the request', () => {
    const server = base.shape
      .flatMap(function walk(s): Shape[] {
        return [s, ...s.children.flatMap(walk)];
      })
      .find((s) => s.kind === 'SERVER')!;
    expect(server.children.map((c) => c.scope)).toContain(EXTRA);
  });

  const CASES: [Bundler, 'cjs' | 'esm', Partial<BundleJob>, string][] = [
    // The plugin asks the instrumentation package which modules it patches.
    ['esbuild', 'cjs', { plugin: { extraInstrumentations: [EXTRA] } }, 'extraInstrumentations'],
    // Or they are named.
    ['webpack', 'esm', { plugin: { modules: ['generic-pool'] } }, 'modules'],
  ];
  for (const [bundler, format, extra, how] of CASES) {
    it(`${bundler} -> ${format}, the modules given by \`${how}\`: the same span trees as unbundled`, async () => {
      const file = await bundle(job(bundler, 'pool.mjs', format, { ...extra, outName: `pool-${how}.${format === 'esm' ? 'mjs' : 'cjs'}` }));
      const run = await runApp(file, poolDone, { env });
      expectSameShape(run, base, `${bundler} ${how}`);
    }, 120_000);
  }

  it('without them, the plugin does not wrap generic-pool and its spans are missing (the comparison can fail)', async () => {
    const file = await bundle(job('esbuild', 'pool.mjs', 'cjs', { plugin: { extraInstrumentations: [] }, outName: 'pool-none.cjs' }));
    const run = await runApp(file, (spans) => spans.some((s) => s.kind === 'SERVER'), { env });
    expect(run.spans.filter((s) => s.scope.name === EXTRA)).toEqual([]);
    expect(run.shape).not.toEqual(base.shape);
  }, 120_000);
});
