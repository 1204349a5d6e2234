/**
 * `otel-agent doctor` lists who installed the app's SIGTERM/SIGINT/SIGHUP
 * listeners (signal-exit v3/v4, exit-hook, the app itself) and what the agent
 * did when the doctor's SIGTERM came; the app's spans reach the receiver
 * beside each of them, and an app whose SIGTERM handler keeps it alive is a
 * problem, not "No problems found".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { VARIANTS } from '../harness/fixture';
import { appDir, doctor } from './run-doctor';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const LINKED = ['signal-exit', 'signal-exit3', 'exit-hook'];

async function run(ext: string, service: string, wants: string[], extra: string[] = []) {
  const app = appDir({ dependencies: {}, link: LINKED, fixtures: [`doctor/signals.${ext}`] });
  try {
    return await doctor([`signals.${ext}`, '--timeout', '3', ...extra, '--', ...wants], {
      cwd: app.dir,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: service, OTEL_AGENT_FLUSH_TIMEOUT: '1000' },
    });
  } finally {
    app.cleanup();
  }
}

// The app's warm-up request, made as soon as it listens (3 s is room for a slow, loaded machine).
const warmups = async (service: string) => {
  const mine = (all: ReturnType<OtlpReceiver['spans']>) =>
    all.filter((s) => s.resource['service.name'] === service && s.kind === 'SERVER' && s.name === 'GET /warmup');
  await rx.waitForSpans((all) => mine(all).length > 0, 2000).catch(() => undefined);
  return mine(rx.spans());
};

describe.each(VARIANTS)('doctor: signal listeners (%s)', (ext) => {
  it('beside signal-exit v4, v3 and exit-hook: lists them, the agent flushes, SIGTERM still ends the app', async () => {
    const service = `doctor-sig-lib-${ext}`;
    const r = await run(ext, service, ['signal-exit', 'signal-exit3', 'exit-hook'], ['--json']);
    const j = r.json!;
    expect(j, r.stdout + r.stderr).toBeDefined();
    const rep = j.run!.report!;
    const term = rep.signals!.listeners.filter((l) => l.signal === 'SIGTERM');
    expect(term.map((l) => l.owner)).toEqual(expect.arrayContaining(['the agent', 'signal-exit 4.1.0', 'signal-exit 3.0.7', 'exit-hook 5.1.0']));
    expect(term.find((l) => l.owner === 'signal-exit 4.1.0')!.kind).toBe('signal-exit v4');
    expect(term.find((l) => l.owner === 'signal-exit 3.0.7')!.kind).toBe('signal-exit v3');
    const seen = rep.signals!.seen.find((s) => s.signal === 'SIGTERM')!;
    // exit-hook's listener decides (it exits), signal-exit's are counted as signal-exit's.
    expect(seen).toMatchObject({ signalExitV3: 1, signalExitV4: 1, others: 1, agentActed: false });
    expect(j.findings).toContainEqual(expect.objectContaining({ level: 'note', message: expect.stringContaining('signal listeners besides the agent') }));
    expect(j.findings.filter((f) => f.level === 'problem')).toEqual([]);
    expect(rep.final).toBe(true);
    expect(j.run!.signal === 'SIGTERM' || j.run!.exitCode !== null).toBe(true);
    expect(await warmups(service)).toHaveLength(1);
  });

  it('signal-exit v4 alone: the agent acts, the app dies by SIGTERM, spans delivered; the human report says so', async () => {
    const service = `doctor-sig-v4-${ext}`;
    const r = await run(ext, service, ['signal-exit']);
    expect(r.stdout).toMatch(/SIGTERM\s+.*signal-exit 4\.1\.0/);
    expect(r.stdout).toContain('SIGTERM arrived: the agent flushed and let it end the process (beside signal-exit)');
    expect(r.stdout).toContain('No problems found');
    expect(await warmups(service)).toHaveLength(1);
  });

  it("the app's own handler that exits: listed as the app's, the exit flush delivers", async () => {
    const service = `doctor-sig-app-${ext}`;
    const r = await run(ext, service, ['app-exits'], ['--json']);
    const rep = r.json!.run!.report!;
    expect(rep.signals!.listeners.filter((l) => l.signal === 'SIGTERM').map((l) => l.owner)).toEqual([
      'the agent',
      expect.stringMatching(new RegExp(`^the app \\(signals\\.${ext}:\\d+\\)$`)),
    ]);
    expect(r.json!.run!.exitCode).toBe(0);
    expect(r.json!.findings.filter((f) => f.level === 'problem')).toEqual([]);
    expect(await warmups(service)).toHaveLength(1);
  });

  it('a SIGTERM handler that keeps the app alive is a problem', async () => {
    const service = `doctor-sig-stays-${ext}`;
    const r = await run(ext, service, ['app-stays'], ['--json']);
    expect(r.json!.run!.signal).toBe('SIGKILL');
    expect(r.json!.findings).toContainEqual(expect.objectContaining({ level: 'problem', message: expect.stringContaining('SIGTERM did not end the app') }));
    expect(r.code).toBe(1);
  });
});
