/**
 * `otel-agent doctor` on an Express app: it lists express with its installed version and whether
 * that version is traced (the ranges come from the instrumentation itself), and its run of the app
 * shows express patched, or skipped, with the range, when the version is outside it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, VARIANTS } from '../../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver } from '../../harness/otlp-receiver';
import { appDir, doctor } from '../../doctor/run-doctor';

const EXPRESS = (JSON.parse(readFileSync(join(ROOT, 'node_modules/express/package.json'), 'utf8')) as { version: string }).version;

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

describe.each(VARIANTS)('doctor and express (%s app)', (ext) => {
  it(`lists express ${EXPRESS} as supported and the run shows it patched`, async () => {
    const app = appDir({ dependencies: { express: `^${EXPRESS}` }, link: ['express'], fixtures: [`frameworks/doctor-express.${ext}`] });
    try {
      const r = await doctor([`doctor-express.${ext}`, '--json'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: `doctor-express-${ext}` },
      });
      const j = r.json!;
      expect(j, r.stdout + r.stderr).toBeDefined();
      const e = j.packages.instrumentations.find((i) => i.instrumentation === 'express')!;
      expect(e.status).toBe('supported');
      expect(e.usedByApp).toBe(true);
      expect(e.modules).toContainEqual(expect.objectContaining({ name: 'express', version: EXPRESS, supported: true, ranges: ['>=4.0.0 <6'] }));
      expect(j.run!.report!.modules).toContainEqual(
        expect.objectContaining({ module: 'express', version: EXPRESS, status: 'patched', instrumentation: 'express' }),
      );
    } finally {
      app.cleanup();
    }
  });
});

describe('doctor and an express outside the range', () => {
  it('lists express 6.0.0 as unsupported, and the run shows it loaded but not patched', async () => {
    const app = appDir({
      dependencies: { express: '6.0.0' },
      fake: { express: { version: '6.0.0', main: 'module.exports = function express() {};\n' } },
      fixtures: ['frameworks/doctor-express.cjs'],
    });
    try {
      const r = await doctor(['doctor-express.cjs', '--json'], {
        cwd: app.dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: 'doctor-express6' },
      });
      const j = r.json!;
      const e = j.packages.instrumentations.find((i) => i.instrumentation === 'express')!;
      expect(e.status).toBe('unsupported');
      expect(e.modules).toContainEqual(expect.objectContaining({ name: 'express', version: '6.0.0', supported: false, ranges: ['>=4.0.0 <6'] }));
      expect(j.run!.report!.modules).toContainEqual(
        expect.objectContaining({ module: 'express', version: '6.0.0', status: 'skipped', reason: 'version 6.0.0 is outside the supported range >=4.0.0 <6' }),
      );
    } finally {
      app.cleanup();
    }
  });
});
