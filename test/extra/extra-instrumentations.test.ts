/**
 * OTEL_AGENT_EXTRA_INSTRUMENTATIONS with two real packages from the npm
 * registry, installed into an app directory of their own (not the repo's
 * node_modules, which happen to hold copies too through a devDependency): the
 * knex instrumentation against PostgreSQL through knex and pg, and the
 * generic-pool instrumentation. CJS and ESM. The app directory is installed
 * once per fixture package.json (npm's cache keeps it cheap) in the temp dir.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childrenOf, one, startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { FIXTURES, ROOT, runFixture, VARIANTS } from '../harness/fixture';
import { requireServer } from '../harness/servers';

const HAVE_PG = await requireServer('postgres');
const KNEX = '@opentelemetry/instrumentation-knex';
const POOL = '@opentelemetry/instrumentation-generic-pool';
const SRC = join(FIXTURES, 'extra');

let rx: OtlpReceiver;
let app: string;

/** The app directory: the fixture's package.json installed with npm, plus a package that throws when loaded. */
function installApp(): string {
  const pkg = readFileSync(join(SRC, 'package.json'));
  // Outside the repo, so nothing the app lacks can be found in the repo's node_modules by walking up.
  const dir = join(tmpdir(), `otel-agent-extra-app-${createHash('sha256').update(pkg).digest('hex').slice(0, 12)}`);
  if (!existsSync(join(dir, 'node_modules', KNEX, 'package.json'))) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), pkg);
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'], {
      cwd: dir,
      stdio: 'pipe',
      timeout: 180_000,
    });
  }
  const broken = join(dir, 'node_modules', 'broken-instrumentation');
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, 'package.json'), JSON.stringify({ name: 'broken-instrumentation', version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(broken, 'index.js'), "throw new Error('broken on purpose');\n");
  // A package patching a module the agent patches too (pg): both must be switched on by the same load.
  const second = join(dir, 'node_modules', 'second-pg-instrumentation');
  mkdirSync(second, { recursive: true });
  writeFileSync(join(second, 'package.json'), JSON.stringify({ name: 'second-pg-instrumentation', version: '1.0.0', main: 'index.js' }));
  writeFileSync(
    join(second, 'index.js'),
    [
      "const { InstrumentationBase, InstrumentationNodeModuleDefinition } = require('@opentelemetry/instrumentation');",
      'class SecondPgInstrumentation extends InstrumentationBase {',
      "  constructor(config = {}) { super('second-pg-instrumentation', '1.0.0', config); }",
      "  init() { return [new InstrumentationNodeModuleDefinition('pg', ['*'], (m) => m)]; }",
      '}',
      'module.exports = { SecondPgInstrumentation };',
      '',
    ].join('\n'),
  );
  for (const f of ['app.cjs', 'app.mjs']) copyFileSync(join(SRC, f), join(dir, f));
  return dir;
}

beforeAll(async () => {
  rx = await startOtlpReceiver();
  app = installApp();
}, 200_000);
afterAll(async () => {
  await rx?.close();
});

const run = (ext: string, service: string, extra: string, cwd = app, entry = join(app, `app.${ext}`)) =>
  runFixture({
    fixture: entry,
    cwd,
    // By path: the app directory is not inside this package, so `@x/otel-agent` would not resolve from it.
    mode: 'none',
    nodeArgs: ['--import', pathToFileURL(join(ROOT, 'dist/register.mjs')).href],
    endpoint: rx.url,
    timeoutMs: 30_000,
    env: { OTEL_SERVICE_NAME: service, OTEL_AGENT_EXTRA_INSTRUMENTATIONS: extra, OTEL_LOG_LEVEL: 'debug', OTEL_BSP_SCHEDULE_DELAY: '60000' },
  });

describe.skipIf(!HAVE_PG).each(VARIANTS)('OTEL_AGENT_EXTRA_INSTRUMENTATIONS (%s)', (ext) => {
  it("loads knex and generic-pool instrumentations from the app's node_modules, lazily, with the agent's tracer", async () => {
    const service = `extra-${ext}`;
    const r = await run(ext, service, `${KNEX},${POOL},second-pg-instrumentation`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('DONE 200');
    expect(r.stderr).not.toContain('warning');
    // Found in the app's directory, not in the agent's.
    expect(r.stderr).toContain(`"${KNEX}" (${join(app, 'node_modules', KNEX)}`);
    expect(r.stderr).toContain(`"${POOL}" (${join(app, 'node_modules', POOL)}`);
    // Switched on by the app's first load of the module, and what each patched, at debug.
    const how = ext === 'mjs' ? 'import' : 'require';
    expect(r.stderr).toContain(`instrumentation "${KNEX}" loaded on ${how} of "knex"`);
    expect(r.stderr).toContain(`instrumentation "${POOL}" loaded on ${how} of "generic-pool"`);
    // knex requires pg: the agent's pg instrumentation and the second one share that trigger.
    expect(r.stderr).toContain('instrumentation "pg" loaded on require of "pg"');
    expect(r.stderr).toContain('instrumentation "second-pg-instrumentation" loaded on require of "pg"');
    expect(r.stderr).toMatch(new RegExp(`module "knex" \\S+ loaded by ${how} at \\+\\d+ ms: patched by instrumentation "${KNEX}"`));
    expect(r.stderr).toMatch(new RegExp(`module "generic-pool" \\S+ loaded by ${how} at \\+\\d+ ms: patched by instrumentation "${POOL}"`));

    const spans = rx.spans().filter((s) => s.resource['service.name'] === service);
    const server = one(
      spans.filter((s) => s.kind === 'SERVER'),
      /^GET/,
    );
    // generic-pool's span: ESM needs the import-in-the-middle hand-over (esm-redirect.ts) for this one.
    const acquire = one(spans, 'generic-pool.acquire');
    expect(acquire.parentSpanId).toBe(server.spanId);
    const query = one(spans, 'select test');
    expect(query.kind).toBe('CLIENT');
    expect(query.parentSpanId).toBe(server.spanId);
    expect(query.traceId).toBe(server.traceId);
    expect(query.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.namespace': 'test', 'db.operation.name': 'select' });
    // The agent's own pg span nests under knex's: one trace, one tracer provider.
    expect(childrenOf(spans, query).map((s) => [s.kind, s.name])).toEqual([['CLIENT', 'SELECT']]);
  });

  it('one warning per package that is missing, broken or no instrumentation; the app runs on', async () => {
    const service = `extra-bad-${ext}`;
    const r = await run(ext, service, `nope-not-installed,broken-instrumentation,generic-pool,${POOL}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('DONE 200');
    const warnings = r.stderr.split('\n').filter((l) => l.includes('warning'));
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toContain('"nope-not-installed" is not installed where the app can load it');
    expect(warnings[1]).toContain('"broken-instrumentation" could not be loaded (broken on purpose)');
    expect(warnings[2]).toContain('"generic-pool" exports no OpenTelemetry instrumentation class');
    // The one that loads still works.
    const spans = rx.spans().filter((s) => s.resource['service.name'] === service);
    expect(spans.map((s) => s.name)).toContain('generic-pool.acquire');
    expect(spans.map((s) => s.name)).not.toContain('select test');
  });
});

describe('OTEL_AGENT_EXTRA_INSTRUMENTATIONS resolution', () => {
  it("does not take the package from the agent's own node_modules", async () => {
    // An app directory without the package (the agent's node_modules has a copy): a warning, no knex spans.
    const dir = mkdtempSync(join(tmpdir(), 'extra-empty-'));
    try {
      writeFileSync(join(dir, 'app.cjs'), "console.log('DONE 200');\n");
      const r = await run('cjs', 'extra-empty', KNEX, dir, join(dir, 'app.cjs'));
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`"${KNEX}" is not installed where the app can load it (looked from ${dir})`);
      expect(existsSync(join(ROOT, 'node_modules', KNEX))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
