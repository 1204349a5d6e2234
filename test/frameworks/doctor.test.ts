/**
 * `otel-agent doctor` lists each web framework it finds with its version and whether this agent
 * traces it there; the ranges it prints are the ones the instrumentation classes declare.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, VARIANTS } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { appDir, doctor } from '../doctor/run-doctor';
import { SUPPORTED as FASTIFY } from '../../src/instrumentations/fastify/instrumentation';
import { KOA_ROUTER_SUPPORTED, KOA_SUPPORTED, LEGACY_ROUTER_SUPPORTED } from '../../src/instrumentations/koa/instrumentation';
import { SUPPORTED as HAPI } from '../../src/instrumentations/hapi/instrumentation';

const v = (name: string): string => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const PACKAGES = ['fastify', 'koa', '@koa/router', 'koa-router', '@hapi/hapi'];

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

it('lists Fastify, Koa with both routers, and Hapi, each at its version and supported', async () => {
  const app = appDir({ dependencies: Object.fromEntries(PACKAGES.map((p) => [p, `^${v(p)}`])), link: PACKAGES });
  try {
    const r = await doctor(['--json'], { cwd: app.dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url } });
    const j = r.json!;
    expect(j, r.stdout + r.stderr).toBeDefined();
    const find = (name: string) => j.packages.instrumentations.find((i) => i.instrumentation === name)!;
    const mod = (name: string, ranges: string[]) => expect.objectContaining({ name, version: v(name), ranges, supported: true });
    expect(find('fastify')).toMatchObject({ enabled: true, status: 'supported', usedByApp: true, modules: [mod('fastify', FASTIFY)] });
    expect(find('koa')).toMatchObject({
      enabled: true,
      status: 'supported',
      modules: [mod('koa', KOA_SUPPORTED), mod('@koa/router', KOA_ROUTER_SUPPORTED), mod('koa-router', LEGACY_ROUTER_SUPPORTED)],
    });
    expect(find('hapi')).toMatchObject({ enabled: true, status: 'supported', modules: [mod('@hapi/hapi', HAPI)] });
    // The ranges are closed: the next major is not claimed.
    for (const ranges of [FASTIFY, KOA_SUPPORTED, KOA_ROUTER_SUPPORTED, LEGACY_ROUTER_SUPPORTED, HAPI]) expect(ranges.every((x) => /<\d+$/.test(x))).toBe(true);
  } finally {
    app.cleanup();
  }
});

describe.each(VARIANTS)('an app on Fastify 3 (%s)', (ext) => {
  it('is listed as unsupported, and the app run shows fastify loaded but not instrumented', async () => {
    const app = appDir({
      dependencies: { fastify: '3.29.5' },
      fake: { fastify: { version: '3.29.5', main: 'module.exports = function fastify() { return {}; };\n' } },
      fixtures: [`frameworks/old-fastify.${ext}`],
    });
    try {
      const r = await doctor([`old-fastify.${ext}`, '--json'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: `doctor-fastify3-${ext}` },
      });
      const j = r.json!;
      expect(j, r.stdout + r.stderr).toBeDefined();
      const f = j.packages.instrumentations.find((i) => i.instrumentation === 'fastify')!;
      expect(f.status).toBe('unsupported');
      expect(f.modules).toEqual([expect.objectContaining({ name: 'fastify', version: '3.29.5', supported: false, ranges: FASTIFY })]);
      expect(j.run!.report!.modules).toContainEqual(
        expect.objectContaining({
          module: 'fastify',
          version: '3.29.5',
          status: 'skipped',
          reason: `version 3.29.5 is outside the supported range ${FASTIFY[0]}`,
        }),
      );
      // The app ran as without the agent.
      expect(j.run!.exitCode).toBe(0);
    } finally {
      app.cleanup();
    }
  });
});
