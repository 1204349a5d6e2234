/**
 * `otel-agent doctor` lists the messaging clients with their supported ranges
 * (read from the bundled instrumentations) and, in the app run, that they
 * were patched.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness/fixture';
import { appDir, doctor } from '../doctor/run-doctor';

const version = (p: string): string => (JSON.parse(readFileSync(join(ROOT, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;

describe('doctor and the messaging clients', () => {
  it('lists nats and mqtt as supported and reports them patched', async () => {
    const pkgs = ['nats', 'mqtt', '@nats-io/transport-node'];
    const app = appDir({ dependencies: Object.fromEntries(pkgs.map((p) => [p, `^${version(p)}`])), link: pkgs, fixtures: ['messaging/doctor-app.cjs'] });
    try {
      const r = await doctor(['doctor-app.cjs', '--json'], { cwd: app.dir, env: { OTEL_TRACES_EXPORTER: 'none' } });
      const j = r.json!;
      expect(j, r.stdout + r.stderr).toBeDefined();
      const of = (n: string) => j.packages.instrumentations.find((i) => i.instrumentation === n)!;
      expect(of('nats').status).toBe('supported');
      expect(of('nats').modules).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'nats', version: version('nats'), supported: true, ranges: ['>=2.0.0 <3'] }),
          expect.objectContaining({ name: '@nats-io/transport-node', version: version('@nats-io/transport-node'), supported: true }),
        ]),
      );
      expect(of('mqtt')).toMatchObject({
        status: 'supported',
        modules: [expect.objectContaining({ name: 'mqtt', version: version('mqtt'), supported: true })],
      });
      expect(j.run!.report!.modules).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ module: 'nats', status: 'patched', instrumentation: 'nats' }),
          expect.objectContaining({ module: 'mqtt', status: 'patched', instrumentation: 'mqtt' }),
        ]),
      );
    } finally {
      app.cleanup();
    }
  });
});
