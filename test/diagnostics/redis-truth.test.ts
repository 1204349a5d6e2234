/**
 * The diagnostics say what really happened to each Redis module: which
 * instrumentations (package and version) patched it, and for node-redis 4+
 * that the `redis` package itself is not patched because its calls are
 * traced through `@redis/client`: never "skipped, outside the supported
 * range" while its commands are traced. Checked on the debug output and in
 * `otel-agent doctor`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { ROOT, runFixture, VARIANTS } from '../harness/fixture';
import { requireServer } from '../harness/servers';
import { appDir, doctor } from '../doctor/run-doctor';

const version = (p: string): string => (JSON.parse(readFileSync(join(ROOT, p), 'utf8')) as { version: string }).version;
const AGENT = version('package.json');
const REDIS = version('node_modules/redis/package.json');
const CLIENT = version('node_modules/@redis/client/package.json');
const IOREDIS = version('node_modules/ioredis/package.json');
const UP_REDIS = version('node_modules/@opentelemetry/instrumentation-redis/package.json');
const UP_IOREDIS = version('node_modules/@opentelemetry/instrumentation-ioredis/package.json');
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const moduleLines = (stderr: string, name: string): string[] => stderr.split('\n').filter((l) => l.includes(`debug: module "${name}" `));

const available = await requireServer('redis');

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

describe.skipIf(!available).each(VARIANTS)('OTEL_LOG_LEVEL=debug on the current Redis clients (%s)', (ext) => {
  const how = ext === 'mjs' ? 'import' : 'require';

  it(`node-redis ${REDIS}: @redis/client patched by upstream and the batch layer, with versions; redis covered, not skipped`, async () => {
    const service = `truth-redis-${ext}`;
    const r = await runFixture({
      fixture: `db/redis-ready.${ext}`,
      args: ['redis'],
      endpoint: rx.url,
      env: { OTEL_LOG_LEVEL: 'debug', OTEL_SERVICE_NAME: service, DB_SECRET: 'v' },
    });
    expect(r.code, r.stderr).toBe(0);
    // The commands are traced...
    expect(rx.spans().filter((s) => s.resource['service.name'] === service && s.name === 'SET')).toHaveLength(1);
    // ...and the debug output says so.
    expect(moduleLines(r.stderr, '@redis/client')).toEqual([
      expect.stringMatching(
        new RegExp(
          `module "@redis/client" ${esc(CLIENT)} loaded by require at \\+\\d+ ms: patched by instrumentation "redis" ` +
            `\\(@opentelemetry/instrumentation-redis ${esc(UP_REDIS)}, @x/otel-agent/redis-batch ${esc(AGENT)}\\)$`,
        ),
      ),
    ]);
    expect(moduleLines(r.stderr, 'redis')).toEqual([
      expect.stringMatching(
        new RegExp(
          `module "redis" ${esc(REDIS)} loaded by ${how} at \\+\\d+ ms: traced by instrumentation "redis" through @redis/client ${esc(CLIENT)} \\(patched\\); ` +
            `redis ${esc(REDIS)} itself is not patched: @opentelemetry/instrumentation-redis ${esc(UP_REDIS)} patches it at >=2\\.6\\.0 <4$`,
        ),
      ),
    ]);
    expect(r.stderr).not.toMatch(/skipped|outside the supported range/);
  });

  it(`ioredis ${IOREDIS}: patched by upstream and the handshake/batch layer, with versions`, async () => {
    const r = await runFixture({
      fixture: `db/redis-ready.${ext}`,
      args: ['ioredis'],
      env: { OTEL_LOG_LEVEL: 'debug', OTEL_TRACES_EXPORTER: 'none', DB_SECRET: 'v' },
    });
    expect(r.code, r.stderr).toBe(0);
    const [line, ...more] = moduleLines(r.stderr, 'ioredis');
    expect(more).toEqual([]);
    expect(line).toMatch(new RegExp(`module "ioredis" ${esc(IOREDIS)} loaded by ${how} at \\+\\d+ ms: patched by instrumentation "ioredis" \\(`));
    expect(line).toContain(`@opentelemetry/instrumentation-ioredis ${UP_IOREDIS}`);
    expect(line).toContain(`@x/otel-agent/ioredis-batch ${AGENT}`);
    expect(r.stderr).not.toMatch(/skipped|outside the supported range/);
  });
});

describe.skipIf(!available)('otel-agent doctor on a node-redis 6 app', () => {
  it('reports @redis/client patched (by whom, which versions), redis covered, and no problem about them', async () => {
    const app = appDir({ dependencies: { redis: `^${REDIS}` }, link: ['redis'], fixtures: ['db/redis-ready.cjs'] });
    try {
      const r = await doctor(['redis-ready.cjs', '--json', '--', 'redis'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: 'doctor-redis', DB_SECRET: 'v' },
      });
      const j = r.json!;
      expect(j, r.stdout + r.stderr).toBeDefined();
      const mods = j.run!.report!.modules.filter((m) => m.instrumentation === 'redis');
      expect(mods).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            module: '@redis/client',
            version: CLIENT,
            status: 'patched',
            patchedBy: [`@opentelemetry/instrumentation-redis ${UP_REDIS}`, `@x/otel-agent/redis-batch ${AGENT}`],
          }),
          expect.objectContaining({ module: 'redis', version: REDIS, status: 'covered', coveredBy: `@redis/client ${CLIENT}` }),
        ]),
      );
      expect(mods.filter((m) => m.status === 'skipped')).toEqual([]);
      expect(j.findings.filter((f) => /redis/.test(f.message))).toEqual([]);
      const human = await doctor(['redis-ready.cjs', '--', 'redis'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: 'doctor-redis', DB_SECRET: 'v' },
      });
      expect(human.stdout).toContain(`patched by "redis" (@opentelemetry/instrumentation-redis ${UP_REDIS}, @x/otel-agent/redis-batch ${AGENT})`);
      expect(human.stdout).toContain(`traced by "redis" through @redis/client ${CLIENT}; redis ${REDIS} itself is not patched`);
      expect(human.stdout).not.toMatch(/NOT patched|outside the supported range/);
    } finally {
      app.cleanup();
    }
  });
});
