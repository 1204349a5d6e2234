import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM file without types
import { supportsSyncHooks } from 'import-in-the-middle/supports-sync-hooks.mjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { ROOT, VARIANTS } from '../harness/fixture';
import { VARS } from '../../src/env';
import { appDir, closedPort, doctor } from './run-doctor';

// Which ESM hook flavour this Node gets (in-thread sync hooks need 22.22.3+ / 24.11.1+), decided the way the agent decides.
const SYNC_HOOKS = supportsSyncHooks();
const PINO = (JSON.parse(readFileSync(join(ROOT, 'node_modules/pino/package.json'), 'utf8')) as { version: string }).version;

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

describe.each(VARIANTS)('doctor on a healthy setup (%s app)', (ext) => {
  it('finds no problem, reports what was patched in the app, and its test span reaches the endpoint', async () => {
    const service = `doctor-healthy-${ext}`;
    const app = appDir({ dependencies: { pino: `^${PINO}` }, link: ['pino'], fixtures: [`doctor/app.${ext}`] });
    try {
      const r = await doctor([`app.${ext}`, '--json'], { cwd: app.dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: service } });
      const j = r.json!;
      expect(j, r.stdout + r.stderr).toBeDefined();
      expect(j.findings.filter((f) => f.level === 'problem')).toEqual([]);
      expect(r.code).toBe(0);
      expect(j.ok).toBe(true);

      expect(j.config.resolved.serviceName).toBe(service);
      const ep = j.endpoints[0]!;
      expect(ep).toMatchObject({ exporter: 'otlp', protocol: 'http/protobuf', url: `${rx.url}/v1/traces`, reachable: true, accepts: true, status: 200 });
      expect(typeof ep.totalMs).toBe('number');

      const pino = j.packages.instrumentations.find((i) => i.instrumentation === 'pino')!;
      expect(pino.status).toBe('supported');
      expect(pino.modules).toEqual([expect.objectContaining({ name: 'pino', version: PINO, supported: true, ranges: [expect.stringMatching(/^>=/)] })]);
      expect(j.packages.instrumentations.find((i) => i.instrumentation === 'http')!.status).toBe('builtin');
      expect(j.packages.instrumentations.find((i) => i.instrumentation === 'kafkajs')!.status).toBe('not-installed');

      const run = j.run!;
      expect(run.exitCode).toBe(0);
      expect(run.timedOut).toBe(false);
      const rep = run.report!;
      expect(rep.final).toBe(true);
      expect(rep.serviceName).toBe(service);
      expect(rep.hooks).toEqual({ cjs: true, esm: SYNC_HOOKS ? 'sync' : 'async' });
      const how = ext === 'mjs' ? 'import' : 'require';
      expect(rep.modules).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ module: 'http', builtin: true, how, status: 'patched', instrumentation: 'http' }),
          expect.objectContaining({ module: 'pino', version: PINO, how, status: 'patched', instrumentation: 'pino' }),
        ]),
      );
      expect(rep.testSpan).toMatchObject({ exported: true });

      // The receiver really got it, with the app's resource, next to the app's own spans.
      const mine = rx.spans().filter((s) => s.resource['service.name'] === service);
      const test = mine.filter((s) => s.name === 'otel-agent doctor');
      expect(test).toHaveLength(1);
      expect(test[0]!.traceId).toBe(rep.testSpan!.traceId);
      expect(test[0]!.attributes['otel_agent.doctor']).toBe(true);
      expect(mine.some((s) => s.kind === 'SERVER' && s.name.startsWith('GET'))).toBe(true);
    } finally {
      app.cleanup();
    }
  });
});

describe.each(VARIANTS)('doctor on a server app that keeps running (%s)', (ext) => {
  it('stops it after --timeout and still gets the final report', async () => {
    const service = `doctor-server-${ext}`;
    const app = appDir({ dependencies: {}, fixtures: [`doctor/server.${ext}`] });
    try {
      const r = await doctor([`server.${ext}`, '--timeout', '1.5', '--json'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: service },
      });
      expect(r.json!.findings.filter((f) => f.level === 'problem')).toEqual([]);
      expect(r.code).toBe(0);
      const run = r.json!.run!;
      expect(run.timedOut).toBe(true);
      expect(run.signal).toBe('SIGTERM');
      expect(run.report!.final).toBe(true);
      expect(run.report!.modules).toContainEqual(expect.objectContaining({ module: 'http', status: 'patched', how: ext === 'mjs' ? 'import' : 'require' }));
      expect(run.report!.testSpan!.exported).toBe(true);
      // The warm-up request's spans were flushed on SIGTERM too.
      const mine = rx.spans().filter((s) => s.resource['service.name'] === service);
      expect(mine.filter((s) => s.kind === 'SERVER' && s.name === 'GET /warmup')).toHaveLength(1);
    } finally {
      app.cleanup();
    }
  });
});

describe('doctor on the other OTLP protocols', () => {
  it('gRPC: TCP connect, then an empty Export call accepted', async () => {
    const app = appDir({ dependencies: {} });
    try {
      const r = await doctor(['--json'], { cwd: app.dir, env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: rx.grpcUrl } });
      expect(r.code, r.stdout).toBe(0);
      expect(r.json!.endpoints).toEqual([expect.objectContaining({ exporter: 'otlp', protocol: 'grpc', reachable: true, accepts: true, status: 'OK' })]);
    } finally {
      app.cleanup();
    }
  });

  it('gRPC protocol pointed at the HTTP port: reachable, not accepted, with a hint', async () => {
    const app = appDir({ dependencies: {} });
    try {
      const r = await doctor(['--json'], { cwd: app.dir, env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: rx.url } });
      expect(r.code).toBe(1);
      const ep = r.json!.endpoints[0]!;
      expect(ep).toMatchObject({ protocol: 'grpc', reachable: true, accepts: false });
      expect(ep.hint).toBeTruthy();
    } finally {
      app.cleanup();
    }
  });

  it('http/json: an empty JSON request accepted; a base URL given with /v1/traces is explained', async () => {
    const app = appDir({ dependencies: {} });
    try {
      const ok = await doctor(['--json'], { cwd: app.dir, env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_ENDPOINT: rx.url } });
      expect(ok.code).toBe(0);
      expect(ok.json!.endpoints[0]).toMatchObject({ protocol: 'http/json', accepts: true, status: 200 });
      expect(rx.requests().some((q) => q.transport === 'http/json' && q.spanCount === 0)).toBe(true);

      const doubled = await doctor(['--json'], { cwd: app.dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${rx.url}/v1/traces` } });
      expect(doubled.code).toBe(1);
      expect(doubled.json!.endpoints[0]).toMatchObject({ reachable: true, accepts: false, status: 404 });
      expect(doubled.json!.endpoints[0]!.hint).toContain('OTEL_EXPORTER_OTLP_ENDPOINT is a base URL');
    } finally {
      app.cleanup();
    }
  });
});

describe('doctor on a refused endpoint', () => {
  it('exits non-zero and says the endpoint is not reachable, in JSON and for people', async () => {
    const port = await closedPort();
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=very-secret-value' };
    const app = appDir({ dependencies: {} });
    try {
      const r = await doctor(['--json'], { cwd: app.dir, env });
      expect(r.code).toBe(1);
      const ep = r.json!.endpoints[0]!;
      expect(ep).toMatchObject({ reachable: false, accepts: false, url: `http://127.0.0.1:${port}/v1/traces` });
      expect(ep.error).toMatch(/ECONNREFUSED/);
      const problems = r.json!.findings.filter((f) => f.level === 'problem');
      expect(problems).toEqual([
        expect.objectContaining({ section: 'endpoint', message: expect.stringContaining(`http://127.0.0.1:${port}/v1/traces is not reachable`) }),
      ]);
      expect(r.stdout).not.toContain('very-secret-value');

      const human = await doctor([], { cwd: app.dir, env });
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(new RegExp(`✗ OTLP http/protobuf http://127\\.0\\.0\\.1:${port}/v1/traces: NOT reachable: ECONNREFUSED`));
      expect(human.stdout).toContain(`hint: nothing listens on 127.0.0.1:${port}`);
      expect(human.stdout).toContain('OTEL_EXPORTER_OTLP_HEADERS');
      expect(human.stdout).toContain('x-api-key=<redacted>');
      expect(human.stdout).not.toContain('very-secret-value');
      expect(human.stdout).toMatch(/1 problem found:\n {2}✗ \[endpoint\]/);
    } finally {
      app.cleanup();
    }
  });

  it('with an app: the test span is reported as not delivered, with the reason', async () => {
    const port = await closedPort();
    const app = appDir({ dependencies: { pino: `^${PINO}` }, link: ['pino'], fixtures: ['doctor/app.cjs'] });
    try {
      const r = await doctor(['app.cjs', '--json'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_TIMEOUT: '1000' },
      });
      expect(r.code).toBe(1);
      const rep = r.json!.run!.report!;
      expect(rep.testSpan).toMatchObject({ exported: false, error: expect.stringMatching(/ECONNREFUSED/) });
      expect(r.json!.findings).toContainEqual(
        expect.objectContaining({
          level: 'problem',
          section: 'run',
          message: expect.stringMatching(/^the test span did not reach OTLP http\/protobuf .*ECONNREFUSED/),
        }),
      );
    } finally {
      app.cleanup();
    }
  });
});

describe('doctor never prints secrets', () => {
  it('URL credentials, signed query values and header values stay out of both outputs', async () => {
    const port = await closedPort();
    const env = {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://svc-user:pw-secret-9@127.0.0.1:${port}/v1/traces?sig=q-secret-9`,
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Basic%20aGVhZGVyLXNlY3JldA==',
    };
    const app = appDir({ dependencies: {} });
    try {
      for (const args of [['--json'], []]) {
        const r = await doctor(args, { cwd: app.dir, env });
        expect(r.code).toBe(1);
        for (const secret of ['pw-secret-9', 'q-secret-9', 'aGVhZGVyLXNlY3JldA', 'Basic ']) expect(r.stdout).not.toContain(secret);
        expect(r.stdout).toContain(`http://127.0.0.1:${port}/v1/traces`);
      }
      const j = (await doctor(['--json'], { cwd: app.dir, env })).json!;
      expect(j.config.variables.find((v) => v.name === 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')!.value).toBe(
        `http://REDACTED:REDACTED@127.0.0.1:${port}/v1/traces?sig=REDACTED`,
      );
      expect(j.config.variables.find((v) => v.name === 'OTEL_EXPORTER_OTLP_HEADERS')!.value).toBe('authorization=<redacted>');
    } finally {
      app.cleanup();
    }
  });
});

describe.each(VARIANTS)('doctor on an unsupported module version (%s app)', (ext) => {
  it('lists kafkajs 0.1.0 as outside the range, and the app run shows it loaded but not patched', async () => {
    const app = appDir({
      dependencies: { kafkajs: '0.1.0' },
      fake: { kafkajs: { version: '0.1.0', main: 'exports.Kafka = class Kafka {};\n' } },
      fixtures: [`doctor/kafka-app.${ext}`],
    });
    try {
      const r = await doctor([`kafka-app.${ext}`, '--json'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: `doctor-kafka-${ext}` },
      });
      expect(r.code).toBe(1);
      const j = r.json!;
      const k = j.packages.instrumentations.find((i) => i.instrumentation === 'kafkajs')!;
      expect(k.status).toBe('unsupported');
      expect(k.usedByApp).toBe(true);
      expect(k.modules).toEqual([expect.objectContaining({ name: 'kafkajs', version: '0.1.0', supported: false, ranges: ['>=0.3.0 <3'] })]);
      expect(j.run!.report!.modules).toContainEqual(
        expect.objectContaining({
          module: 'kafkajs',
          version: '0.1.0',
          how: ext === 'mjs' ? 'import' : 'require',
          status: 'skipped',
          reason: 'version 0.1.0 is outside the supported range >=0.3.0 <3',
        }),
      );
      const problems = j.findings.filter((f) => f.level === 'problem').map((f) => `${f.section}: ${f.message}`);
      expect(problems).toEqual([
        expect.stringMatching(/^packages: kafkajs 0\.1\.0 \(supported: >=0\.3\.0 <3\) is installed at a version instrumentation "kafkajs" does not support/),
        'run: the app loaded kafkajs 0.1.0, which was not patched: version 0.1.0 is outside the supported range >=0.3.0 <3',
      ]);
      // Everything else was fine: the endpoint took the test span.
      expect(j.run!.report!.testSpan?.exported).toBe(true);
    } finally {
      app.cleanup();
    }
  });
});

describe('doctor on a bad environment value', () => {
  it('names the variable, its value and what is used instead, and exits non-zero', async () => {
    const app = appDir({ dependencies: {} });
    try {
      const r = await doctor(['--json'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_BSP_SCHEDULE_DELAY: 'soon', OTEL_SERVICE_NAME: 'doctor-badenv' },
      });
      expect(r.code).toBe(1);
      const j = r.json!;
      const row = j.config.variables.find((v) => v.name === 'OTEL_BSP_SCHEDULE_DELAY')!;
      expect(row).toMatchObject({ value: 'soon', source: 'env', warning: 'OTEL_BSP_SCHEDULE_DELAY="soon" is not a whole number; using the default (5000)' });
      expect(j.findings.filter((f) => f.level === 'problem')).toEqual([
        { level: 'problem', section: 'config', message: 'OTEL_BSP_SCHEDULE_DELAY="soon" is not a whole number; using the default (5000)' },
      ]);
      // Every variable of the table is listed, with where its value came from.
      expect(j.config.variables.map((v) => v.name)).toEqual(VARS.map((v) => v.name));
      expect(j.config.variables.find((v) => v.name === 'OTEL_SERVICE_NAME')).toMatchObject({ value: 'doctor-badenv', source: 'env' });
      expect(j.config.variables.find((v) => v.name === 'OTEL_TRACES_SAMPLER')).toMatchObject({ value: 'parentbased_always_on', source: 'default' });
      expect(j.endpoints[0]!.accepts).toBe(true);
    } finally {
      app.cleanup();
    }
  });
});
