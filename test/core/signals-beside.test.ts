import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { startFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

async function endBy(ext: string, pkg: string, sig: NodeJS.Signals, agent: boolean, service: string) {
  const f = startFixture({
    fixture: `exit/beside.${ext}`,
    args: [pkg],
    mode: agent ? 'import' : 'none',
    endpoint: rx.url,
    timeoutMs: 15_000,
    env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' },
  });
  await f.ready;
  f.child.kill(sig);
  return f.result;
}

const PACKAGES = ['signal-exit3', 'signal-exit', 'exit-hook', 'async-exit-hook', 'none'];

describe.each(VARIANTS)('signals beside exit-handling packages (%s)', (ext) => {
  describe.each(PACKAGES)('%s', (pkg) => {
    it.each(['SIGTERM', 'SIGINT'] as const)('%s: same end as bare node, same callbacks, spans delivered', async (sig) => {
      const service = `beside-${pkg}-${sig}-${ext}`;
      const bare = await endBy(ext, pkg, sig, false, service + '-bare');
      const r = await endBy(ext, pkg, sig, true, service);
      // Before the fix signal-exit made the agent defer forever: the runner's SIGKILL ended it.
      expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: bare.code, signal: bare.signal });
      expect(r.stdout.replace(/READY \d+/, '')).toBe(bare.stdout.replace(/READY \d+/, ''));
      const mine = rx.spans().filter((s) => s.resource['service.name'] === service);
      expect(mine.filter((s) => s.kind === 'SERVER')).toHaveLength(1);
      expect(mine.filter((s) => s.kind === 'CLIENT')).toHaveLength(1);
    });
  });
});

describe.each(VARIANTS)('a signal-exit v4 callback that keeps the process alive (%s)', (ext) => {
  async function twice(agent: boolean, service: string) {
    const f = startFixture({
      fixture: `exit/keep-alive.${ext}`,
      mode: agent ? 'import' : 'none',
      endpoint: rx.url,
      timeoutMs: 15_000,
      env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' },
    });
    await f.ready;
    f.child.kill('SIGTERM');
    // READY 2: the process lived on and made its second request.
    await new Promise<void>((resolve) => {
      const on = (d: Buffer | string): void => {
        if (String(d).includes('READY 2')) {
          f.child.stdout!.off('data', on);
          resolve();
        }
      };
      f.child.stdout!.on('data', on);
    });
    f.child.kill('SIGTERM');
    return f.result;
  }

  it('the next signal still flushes: spans made after the first signal arrive, the end is as bare node', async () => {
    const service = `keep-alive-${ext}`;
    const bare = await twice(false, service + '-bare');
    const r = await twice(true, service);
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: bare.code, signal: bare.signal });
    expect(r.stdout).toBe(bare.stdout);
    const names = rx
      .spans()
      .filter((s) => s.resource['service.name'] === service && s.kind === 'SERVER')
      .map((s) => s.name)
      .sort();
    // Before the fix the agent's listener was gone after the first signal: /after died unexported.
    expect(names).toEqual(['GET /after', 'GET /before']);
  });
});
