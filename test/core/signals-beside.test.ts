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
