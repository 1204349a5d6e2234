import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM file without types
import { supportsSyncHooks } from 'import-in-the-middle/supports-sync-hooks.mjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { FIXTURES, ROOT, runFixture, VARIANTS } from '../harness/fixture';
import { appDir, closedPort } from '../doctor/run-doctor';

const version = (p: string): string => (JSON.parse(readFileSync(join(ROOT, p), 'utf8')) as { version: string }).version;
const AGENT = version('package.json');
const PINO = version('node_modules/pino/package.json');
const PG = version('node_modules/pg/package.json');
const API = version('node_modules/@opentelemetry/api/package.json');
const PINO_INSTR = version('node_modules/@opentelemetry/instrumentation-pino/package.json');
const dots = (v: string): string => v.replace(/\./g, '\\.');

// Which ESM hook flavour this Node gets (in-thread sync hooks need 22.22.3+ / 24.11.1+), decided the way the agent decides.
const SYNC_HOOKS = supportsSyncHooks();
const agentLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('[otel-agent]'));

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

describe.each(VARIANTS)('OTEL_LOG_LEVEL=info (%s)', (ext) => {
  it('prints exactly one startup line: resolved service, redacted exporter, sampler, propagators, hooks', async () => {
    const service = `from-resource-${ext}`;
    const withCreds = rx.url.replace('http://', 'http://user:pw-secret-1@');
    const r = await runFixture({
      fixture: `doctor/app.${ext}`,
      endpoint: withCreds,
      env: {
        OTEL_LOG_LEVEL: 'info',
        OTEL_SERVICE_NAME: undefined,
        OTEL_RESOURCE_ATTRIBUTES: `service.name=${service},deployment.environment=test`,
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cr3t-token',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = agentLines(r.stderr);
    // A healthy run at info says one thing: what the agent set up. Nothing per span, no exit summary.
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^\\[otel-agent\\] @x/otel-agent ${AGENT.replace(/\./g, '\\.')} on Node ${process.versions.node.replace(/\./g, '\\.')}: ` +
          `service "${service}", exporter OTLP http/protobuf ${rx.url.replace(/\./g, '\\.')}/v1/traces \\(headers: authorization=<redacted>\\), ` +
          `sampler parentbased_always_on, propagators tracecontext,baggage, hooks CJS \\(require\\) \\+ ESM \\(${SYNC_HOOKS ? 'in-thread sync hooks' : 'loader thread'}\\), ` +
          `instrumentations (\\d+) of \\1 enabled$`,
      ),
    );
    expect(r.stderr).not.toContain('s3cr3t');
    expect(r.stderr).not.toContain('pw-secret-1');
    // The name printed is the one the spans carry.
    const mine = rx.spans().filter((s) => s.resource['service.name'] === service);
    expect(mine.some((s) => s.kind === 'SERVER')).toBe(true);
  });

  it('names what is off in the startup line', async () => {
    const r = await runFixture({
      fixture: `doctor/app.${ext}`,
      env: { OTEL_LOG_LEVEL: 'info', OTEL_TRACES_EXPORTER: 'none', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fs,pino', OTEL_AGENT_ESM_HOOKS: 'off' },
    });
    expect(r.code, r.stderr).toBe(0);
    const [line] = agentLines(r.stderr);
    expect(line).toContain('service "fixture", exporter none (OTEL_TRACES_EXPORTER=none)');
    expect(line).toContain('hooks CJS (require) + no ESM hooks (OTEL_AGENT_ESM_HOOKS=off)');
    expect(line).toMatch(/instrumentations (\d+) of (\d+) enabled \(off: fs, pino\)$/);
  });
});

describe.each(VARIANTS)('OTEL_LOG_LEVEL=debug: one line per instrumented module (%s)', (ext) => {
  const how = ext === 'mjs' ? 'import' : 'require';

  it('patched: the module, its version, how it was loaded, by which instrumentation (package and version)', async () => {
    const r = await runFixture({ fixture: `doctor/app.${ext}`, env: { OTEL_LOG_LEVEL: 'debug', OTEL_TRACES_EXPORTER: 'none' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        `\\[otel-agent\\] debug: module "http" \\(Node builtin\\) loaded by ${how} at \\+\\d+ ms: patched by instrumentation "http" \\(@x/otel-agent/http ${dots(AGENT)}\\)\\n`,
      ),
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `\\[otel-agent\\] debug: module "pino" ${dots(PINO)} loaded by ${how} at \\+\\d+ ms: patched by instrumentation "pino" \\(@opentelemetry/instrumentation-pino ${dots(PINO_INSTR)}\\)\\n`,
      ),
    );
  });

  it('disabled: says which variable turned it off', async () => {
    const r = await runFixture({
      fixture: `doctor/app.${ext}`,
      env: { OTEL_LOG_LEVEL: 'debug', OTEL_TRACES_EXPORTER: 'none', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pino' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`debug: module "pino" ${PINO} loaded by ${how} at +`);
    expect(r.stderr).toMatch(
      /module "pino" \S+ loaded by \w+ at \+\d+ ms: not patched: instrumentation "pino" is disabled by OTEL_NODE_DISABLED_INSTRUMENTATIONS\n/,
    );
    expect(r.stderr).not.toMatch(/module "pino".*patched by/);
  });

  it('version out of range: skipped, with the version and the supported range; the app runs on', async () => {
    const app = appDir({
      dependencies: { kafkajs: '0.1.0' },
      fake: { kafkajs: { version: '0.1.0', main: 'exports.Kafka = class Kafka {};\n' } },
      fixtures: [`doctor/kafka-app.${ext}`],
    });
    try {
      const r = await runFixture({
        // The app file sits next to its own node_modules; the agent is still resolved from the repo (cwd).
        fixture: join(app.dir, `kafka-app.${ext}`),
        env: { OTEL_LOG_LEVEL: 'debug', OTEL_TRACES_EXPORTER: 'none' },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('kafkajs loaded: function');
      expect(r.stderr).toMatch(
        new RegExp(
          `debug: module "kafkajs" 0\\.1\\.0 loaded by ${how} at \\+\\d+ ms: skipped by instrumentation "kafkajs": version 0\\.1\\.0 is outside the supported range >=0\\.3\\.0 <3\\n`,
        ),
      );
    } finally {
      app.cleanup();
    }
  });

  // CommonJS only: an ESM import always yields a namespace object, so this fake's null never reaches the patch there.
  it.runIf(ext === 'cjs')('a patch that throws: recorded as failed, one warning, the app gets the module unpatched', async () => {
    const app = appDir({
      dependencies: { pino: '9.0.0' },
      fake: { pino: { version: '9.0.0', main: 'module.exports = null;\n' } },
      fixtures: [`doctor/load-module.${ext}`],
    });
    try {
      const r = await runFixture({
        fixture: join(app.dir, `load-module.${ext}`),
        args: ['pino'],
        env: { OTEL_LOG_LEVEL: 'debug', OTEL_TRACES_EXPORTER: 'none' },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('loaded pino: null');
      expect(agentLines(r.stderr).filter((l) => l.includes('warning:') && l.includes('pino'))).toHaveLength(1);
      expect(r.stderr).toMatch(/debug: module "pino" 9\.0\.0 loaded by require at \+\d+ ms: not patched: the patch threw: .*null/);
    } finally {
      app.cleanup();
    }
  });

  it('another OpenTelemetry SDK started first: one precise warning, and its wrappers are named', async () => {
    const r = await runFixture({
      fixture: `doctor/pg-app.${ext}`,
      nodeArgs: ['--require', join(FIXTURES, 'doctor/other-sdk-preload.cjs')],
      env: { OTEL_LOG_LEVEL: 'debug', OTEL_TRACES_EXPORTER: 'none' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('pg loaded: function');
    const warnings = agentLines(r.stderr).filter((l) => l.includes('warning:'));
    expect(warnings).toEqual([
      `[otel-agent] warning: another OpenTelemetry SDK registered the global tracer provider first (OtherSdkProvider via @opentelemetry/api ${API}); ` +
        "the instrumentations' and the app's spans go to that SDK, not to this agent's exporters. " +
        'Load one OpenTelemetry SDK per process: remove the other setup, or set OTEL_SDK_DISABLED=true for this agent',
    ]);
    expect(r.stderr).toMatch(
      new RegExp(
        `debug: module "pg" ${PG.replace(/\./g, '\\.')} loaded by ${how} at \\+\\d+ ms: patched by instrumentation "pg" \\(@x/otel-agent/pg ${dots(AGENT)}\\); ` +
          `pg/lib/client\\.js: prototype\\.\\w+ was already wrapped by another instrumentation`,
      ),
    );
  });
});

describe.each(VARIANTS)('exit summary and rate-limited warnings (%s)', (ext) => {
  it('prints the one-line summary at exit when spans were lost', async () => {
    const port = await closedPort();
    const r = await runFixture({
      fixture: `doctor/many-spans.${ext}`,
      endpoint: `http://127.0.0.1:${port}`,
      env: { OTEL_LOG_LEVEL: 'info', FIXTURE_REQUESTS: '5', OTEL_EXPORTER_OTLP_TIMEOUT: '300' },
    });
    expect(r.code, r.stderr).toBe(0);
    const summary = agentLines(r.stderr).filter((l) => l.includes('spans:'));
    expect(summary).toEqual(['[otel-agent] spans: 10 started, 0 exported, 0 dropped (queue full), 10 lost in ' + summary[0]!.split(' lost in ')[1]]);
    expect(summary[0]).toMatch(/lost in \d+ failed export\(s\)$/);
  });

  it('200 spans against a refused endpoint: a bounded handful of lines, never one per span or per batch', async () => {
    const port = await closedPort();
    const r = await runFixture({
      fixture: `doctor/many-spans.${ext}`,
      endpoint: `http://127.0.0.1:${port}`,
      env: {
        OTEL_LOG_LEVEL: 'info',
        FIXTURE_REQUESTS: '100',
        OTEL_BSP_SCHEDULE_DELAY: '1',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
        OTEL_BSP_MAX_QUEUE_SIZE: '20',
        OTEL_EXPORTER_OTLP_TIMEOUT: '300',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('requests done: 100');
    const lines = agentLines(r.stderr);
    const warnings = lines.filter((l) => l.includes('warning:'));
    // One export-failure warning and at most one queue-full warning per minute.
    expect(warnings.filter((l) => l.includes('could not export spans'))).toHaveLength(1);
    expect(warnings.filter((l) => l.includes('span queue full')).length).toBeLessThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(4); // + startup line + exit summary
    const m = /spans: (\d+) started, (\d+) exported, (\d+) dropped \(queue full\), (\d+) lost in \d+ failed export\(s\)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const [started, exported, dropped, lost] = m!.slice(1).map(Number);
    expect(started).toBe(200);
    expect(exported).toBe(0);
    expect(dropped! + lost!).toBe(200);
  });
});
