/**
 * OTEL_CONFIG_FILE end to end: an app run under the agent with a file gets
 * what the file says (endpoint, service name, sampler, batching) and not what
 * the other variables say; a file the agent cannot use leaves the app running
 * on the environment's configuration with one warning. `otel-agent doctor
 * --config` validates a file and shows where each value came from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';
import { doctor } from '../doctor/run-doctor';

let rx: OtlpReceiver;
let dir: string;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  dir = mkdtempSync(join(tmpdir(), 'otel-agent-cfgfile-e2e-'));
});
afterAll(async () => {
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

function configFile(name: string, service: string): string {
  const p = join(dir, name);
  writeFileSync(
    p,
    `file_format: "1.1"
resource:
  attributes:
    - name: service.name
      value: ${service}
    - name: deployment.environment.name
      value: \${DEPLOY_ENV:-dev}
propagator:
  composite: [{ tracecontext: }, { baggage: }]
tracer_provider:
  processors:
    - batch:
        # A minute: only the exit flush can deliver, as the file says.
        schedule_delay: 60000
        exporter:
          otlp_http:
            endpoint: \${COLLECTOR}/v1/traces
  sampler:
    parent_based:
      root:
        always_on:
# The line saying which variables are ignored is at info.
log_level: info
`,
  );
  return p;
}

const agentLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('[otel-agent]'));

describe.each(VARIANTS)('OTEL_CONFIG_FILE (%s)', (ext) => {
  it('configures the agent from the file, ignoring the other variables', async () => {
    const service = `cfgfile-${ext}`;
    const r = await runFixture({
      fixture: `core/lifecycle.${ext}`,
      args: ['drain'],
      env: {
        OTEL_CONFIG_FILE: configFile(`good-${ext}.yaml`, service),
        COLLECTOR: rx.url,
        DEPLOY_ENV: 'staging',
        // Ignored while a file is in use: the spans must not go to this port nor carry this name.
        OTEL_SERVICE_NAME: 'from-env',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        OTEL_TRACES_SAMPLER: 'always_off',
        OTEL_LOG_LEVEL: 'info',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const spans = rx.spans().filter((s) => s.resource['service.name'] === service);
    // The fixture's request to itself (CLIENT, SERVER) and its readFileSync (INTERNAL).
    expect(spans.map((s) => s.kind).sort()).toEqual(['CLIENT', 'INTERNAL', 'SERVER']);
    expect(spans[0]!.resource['deployment.environment.name']).toBe('staging');
    expect(rx.spans().some((s) => s.resource['service.name'] === 'from-env')).toBe(false);
    const lines = agentLines(r.stderr);
    expect(
      lines.filter((l) => / (warning|error):/.test(l)),
      r.stderr,
    ).toEqual([]);
    expect(lines.filter((l) => l.includes('variables are ignored'))).toEqual([
      expect.stringContaining('so these variables are ignored: OTEL_SERVICE_NAME, OTEL_LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER'),
    ]);
  });

  it('a file it cannot use: one warning, and the app runs on the environment configuration', async () => {
    const bad = join(dir, `bad-${ext}.yaml`);
    writeFileSync(bad, 'file_format: "1.1"\ntracer_provider:\n  processors: [\n');
    const service = `cfgfile-bad-${ext}`;
    const r = await runFixture({
      fixture: `core/lifecycle.${ext}`,
      args: ['drain'],
      endpoint: rx.url,
      env: { OTEL_CONFIG_FILE: bad, OTEL_SERVICE_NAME: service },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(rx.spans().filter((s) => s.resource['service.name'] === service)).toHaveLength(3);
    const warnings = agentLines(r.stderr).filter((l) => l.includes('warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`OTEL_CONFIG_FILE=${bad} line `);
    expect(warnings[0]).toMatch(/; using the environment variables instead$/);
  });
});

describe('otel-agent doctor --config', () => {
  it('shows each value the file set with its line, and no problem for a good file', async () => {
    const p = configFile('doctor-good.yaml', 'doctor-cfg');
    const r = await doctor(['--no-run', '--config', p], { env: { COLLECTOR: rx.url } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('set in the configuration file:');
    expect(r.stdout).toMatch(
      new RegExp(
        `OTEL_BSP_SCHEDULE_DELAY\\s+60000\\s+\\(${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:14 tracer_provider\\.processors\\[0\\]\\.batch\\.schedule_delay\\)`,
      ),
    );
    expect(r.stdout).toContain('service doctor-cfg;');
  });

  it('reports each problem of a bad file with its line, and exits 1', async () => {
    const p = join(dir, 'doctor-bad.yaml');
    writeFileSync(p, 'file_format: "1.1"\ntracer_provider:\n  processors:\n    - batch:\n        max_queue_size: many\n  sampler:\n    xray: {}\n');
    const r = await doctor(['--no-run', '--json', '--config', p]);
    expect(r.code).toBe(1);
    const problems = r.json!.findings.filter((f) => f.level === 'problem').map((f) => f.message);
    expect(problems).toEqual(
      expect.arrayContaining([
        `${p}:5 tracer_provider.processors[0].batch.max_queue_size should be a number; ignored`,
        `${p}:7 tracer_provider.sampler.xray is not a sampler this agent has; ignored`,
      ]),
    );
  });
});
