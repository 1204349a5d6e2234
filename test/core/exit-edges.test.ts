/**
 * Exit paths the exit-time sender (a Worker) gets in the way of: an app whose
 * async_hooks init hook calls process.exit(), and Node's permission model
 * without --allow-worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, startFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const env = (service: string) => ({ OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' });
const mine = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);
const agentLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('[otel-agent]'));
/** Reads the app and the agent; no worker threads. */
const PERMISSION = ['--permission', '--allow-fs-read=*'];

describe.each(VARIANTS)('process.exit() from an async_hooks init hook (%s)', (ext) => {
  it("the app's own exit listener runs, the exit code is kept, its spans arrive", async () => {
    const service = `hook-exit-${ext}`;
    const bare = await runFixture({ fixture: `exit/hook-exit.${ext}`, mode: 'none', endpoint: rx.url, env: env(service + '-bare') });
    const r = await runFixture({ fixture: `exit/hook-exit.${ext}`, endpoint: rx.url, env: env(service) });
    expect(bare.stdout).toBe('app exit listener ran with 4\n');
    // Before the fix the exit sender's Worker fired the hook, whose nested exit skipped the app's listener.
    expect(r.stdout, r.stderr).toBe(bare.stdout);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: bare.code, signal: bare.signal });
    const spans = mine(service);
    expect(spans.filter((s) => s.kind === 'SERVER')).toHaveLength(1);
    expect(spans.filter((s) => s.kind === 'CLIENT')).toHaveLength(1);
  });
});

describe.each(VARIANTS)('node --permission without --allow-worker (%s)', (ext) => {
  const fixture = `exit/permission.${ext}`;

  it('the loop drains: spans are delivered asynchronously, exit code as bare node', async () => {
    const service = `perm-drain-${ext}`;
    const bare = await runFixture({ fixture, args: ['drain'], mode: 'none', nodeArgs: PERMISSION, endpoint: rx.url, env: env(service + '-bare') });
    const r = await runFixture({ fixture, args: ['drain'], nodeArgs: PERMISSION, endpoint: rx.url, env: env(service) });
    expect(r.code, r.stderr).toBe(bare.code);
    expect(agentLines(r.stderr)).toEqual([]);
    const spans = mine(service);
    expect(spans.filter((s) => s.kind === 'SERVER')).toHaveLength(1);
    expect(spans.filter((s) => s.kind === 'CLIENT')).toHaveLength(1);
  });

  it('SIGTERM with no app handler: spans are delivered, the process still dies by the signal', async () => {
    const service = `perm-signal-${ext}`;
    const end = async (agent: boolean, name: string) => {
      const f = startFixture({
        fixture,
        args: ['signal'],
        mode: agent ? 'import' : 'none',
        nodeArgs: PERMISSION,
        endpoint: rx.url,
        env: env(name),
        timeoutMs: 15_000,
      });
      await f.ready;
      f.child.kill('SIGTERM');
      return f.result;
    };
    const bare = await end(false, service + '-bare');
    const r = await end(true, service);
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: bare.code, signal: bare.signal });
    expect(agentLines(r.stderr)).toEqual([]);
    const spans = mine(service);
    expect(spans.filter((s) => s.kind === 'SERVER')).toHaveLength(1);
    expect(spans.filter((s) => s.kind === 'CLIENT')).toHaveLength(1);
  });

  it('process.exit(): nothing can deliver; one warning says how many spans were lost and why', async () => {
    const service = `perm-exit-${ext}`;
    const r = await runFixture({ fixture, args: ['exit'], nodeArgs: PERMISSION, endpoint: rx.url, env: env(service) });
    expect(r.code).toBe(5);
    const lines = agentLines(r.stderr);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[otel-agent\] warning: .*--allow-worker.*\b2 span\(s\) lost\b/);
    expect(mine(service)).toEqual([]);
  });
});
