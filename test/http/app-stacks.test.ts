/**
 * The app's crashes and stack traces stay the app's. A request handler that
 * throws synchronously crashes the process exactly as without the agent:
 * Node's banner names the app's file and line, not the agent's rethrow, and
 * the exit code is the same; the SERVER span still reaches the collector,
 * ended with the exception. A stack captured in a handler is the one bare
 * node gives, plus at most one agent frame (the patched emit that enters the
 * request's context), so the app's own frames are not pushed out of Node's
 * 10-frame limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver, one } from '../harness/otlp-receiver';
import { ROOT, runFixture, VARIANTS } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const DIST = join(ROOT, 'dist');
/** Node's crash banner: `file:line`, the source line, the caret, a blank line, `Error: message`. */
const banner = (stderr: string): string[] =>
  stderr
    .split('\n')
    .filter((l) => !l.startsWith('[otel-agent]'))
    .slice(0, 5);
const stackOf = (stdout: string): string[] => {
  const line = stdout.split('\n').find((l) => l.startsWith('STACK '));
  expect(line, stdout).toBeDefined();
  return (JSON.parse(line!.slice('STACK '.length)) as string).split('\n');
};

describe.each(VARIANTS)('the app keeps its crashes and stack traces (%s)', (ext) => {
  const fixture = `stacks/handler.${ext}`;

  it('a synchronous throw in a handler: same banner and exit code as bare node, SERVER span ended with the exception', async () => {
    const service = `sync-throw-${ext}`;
    const bare = await runFixture({ fixture, args: ['throw'], mode: 'none' });
    const traced = await runFixture({ fixture, args: ['throw'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' } });

    expect(bare.code).toBe(1);
    expect(traced.code, traced.stderr).toBe(bare.code);
    expect(traced.signal).toBe(bare.signal);
    expect(banner(traced.stderr)).toEqual(banner(bare.stderr));
    expect(banner(bare.stderr)[0]).toContain(`stacks/handler.${ext}:`);
    // The stack printed under the banner: bare node's frames, plus at most the one agent frame.
    const frames = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('    at '));
    expect(frames(traced.stderr).filter((l) => l.includes(DIST)).length).toBeLessThanOrEqual(1);
    expect(frames(traced.stderr).filter((l) => !l.includes(DIST))).toEqual(frames(bare.stderr));

    // Only the exit flush can have sent it (the batch delay is a minute).
    const server = one(
      rx.spans().filter((s) => s.resource['service.name'] === service && s.kind === 'SERVER'),
      'GET /orders/:id',
    );
    expect(server.status.code).toBe('ERROR');
    const ev = server.events.find((e) => e.name === 'exception');
    expect(ev?.attributes['exception.message']).toBe('boom in the handler');
  });

  it("a stack captured in a handler is bare node's, plus at most one agent frame", async () => {
    const bare = stackOf((await runFixture({ fixture, args: ['stack'], mode: 'none' })).stdout);
    const traced = stackOf((await runFixture({ fixture, args: ['stack'], endpoint: rx.url, env: { OTEL_SERVICE_NAME: `stack-${ext}` } })).stdout);

    const agentFrames = traced.filter((l) => l.includes(DIST));
    expect(agentFrames.length, traced.join('\n')).toBeLessThanOrEqual(1);
    // Bare node's stack is well under the 10-frame limit, so nothing of it is pushed out.
    expect(bare.length).toBeLessThan(10);
    expect(traced.filter((l) => !l.includes(DIST))).toEqual(bare);
  });
});
