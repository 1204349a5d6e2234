/**
 * The diagnostics say what really happened to each Redis module: which
 * instrumentation (package and version) patched it, `@redis/client` and the
 * `redis` package (4+, which re-exports it) alike: never "skipped, outside
 * the supported range" while its commands are traced. Checked on the debug
 * output and in `otel-agent doctor`.
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

  it(`node-redis ${REDIS}: @redis/client and redis patched by the agent's redis instrumentation, with versions; not skipped`, async () => {
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
          `module "@redis/client" ${esc(CLIENT)} loaded by require at \\+\\d+ ms: patched by instrumentation "redis" \\(@x/otel-agent/redis ${esc(AGENT)}\\)$`,
        ),
      ),
    ]);
    expect(moduleLines(r.stderr, 'redis')).toEqual([
      expect.stringMatching(
        new RegExp(`module "redis" ${esc(REDIS)} loaded by ${how} at \\+\\d+ ms: patched by instrumentation "redis" \\(@x/otel-agent/redis ${esc(AGENT)}\\)$`),
      ),
    ]);
    expect(r.stderr).not.toMatch(/skipped|outside the supported range/);
  });

  it(`ioredis ${IOREDIS}: patched by the agent's ioredis instrumentation, with versions`, async () => {
    const r = await runFixture({
      fixture: `db/redis-ready.${ext}`,
      args: ['ioredis'],
      env: { OTEL_LOG_LEVEL: 'debug', OTEL_TRACES_EXPORTER: 'none', DB_SECRET: 'v' },
    });
    expect(r.code, r.stderr).toBe(0);
    const [line, ...more] = moduleLines(r.stderr, 'ioredis');
    expect(more).toEqual([]);
    expect(line).toMatch(new RegExp(`module "ioredis" ${esc(IOREDIS)} loaded by ${how} at \\+\\d+ ms: patched by instrumentation "ioredis" \\(`));
    expect(line).toMatch(new RegExp(`patched by instrumentation "ioredis" \\(@x/otel-agent/ioredis ${esc(AGENT)}\\)$`));
    expect(r.stderr).not.toMatch(/skipped|outside the supported range/);
  });
});

describe.skipIf(!available)('otel-agent doctor on a node-redis 6 app', () => {
  it('reports @redis/client and redis patched (by whom, which versions), and no problem about them', async () => {
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
            patchedBy: [`@x/otel-agent/redis ${AGENT}`],
          }),
          expect.objectContaining({ module: 'redis', version: REDIS, status: 'patched', patchedBy: [`@x/otel-agent/redis ${AGENT}`] }),
        ]),
      );
      expect(mods.filter((m) => m.status === 'skipped')).toEqual([]);
      expect(j.findings.filter((f) => /redis/.test(f.message))).toEqual([]);
      const human = await doctor(['redis-ready.cjs', '--', 'redis'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: 'doctor-redis', DB_SECRET: 'v' },
      });
      expect(human.stdout).toContain(`patched by "redis" (@x/otel-agent/redis ${AGENT})`);
      expect(human.stdout).not.toMatch(/NOT patched|outside the supported range/);
    } finally {
      app.cleanup();
    }
  });
});
