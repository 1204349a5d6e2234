/**
 * The app's stack traces are the app's. A request handler that throws
 * synchronously crashes the process exactly as it does without the agent:
 * the same banner (file:line of the app's throw, the source line, the caret)
 * and the same exit code; and the request's SERVER span still arrives,
 * ended with the exception (sent by the exit flush). A stack captured inside
 * a handler carries one frame of the agent's and is otherwise the one bare
 * node gives, so the app's own frames are not pushed out of Node's 10-frame limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { ROOT, startFixture, VARIANTS, type LoadMode } from '../harness/fixture';
import { request } from '../reliability/load';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

const DIST = join(ROOT, 'dist') + '/';

/** Node's crash banner: stderr up to the first blank line after the source line of the throw. */
function banner(stderr: string): string {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.includes('throw new Error('));
  if (at < 0) return `(no throw line in stderr)\n${stderr}`;
  const end = lines.findIndex((l, i) => i > at && l.trim() === '');
  return lines.slice(0, end < 0 ? lines.length : end).join('\n');
}

const frames = (stack: string): string[] =>
  stack
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .map((l) => l.trim());

interface Run {
  stack: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** GET /stack, then GET /throw, which ends the process. */
async function crash(ext: string, mode: LoadMode, service: string): Promise<Run> {
  // A minute's batch delay: only the exit flush can send the spans.
  const f = startFixture({ fixture: `http/throw.${ext}`, mode, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' } });
  const port = Number((await f.ready).split(' ')[1]);
  const stack = (await request(port, '/stack')).body;
  const thrown = await request(port, '/throw');
  // The connection dies with the process: no answer.
  expect(thrown.status).toBe(0);
  const r = await f.result;
  return { stack, code: r.code, signal: r.signal, stderr: r.stderr };
}

describe.concurrent.each(VARIANTS)('a handler that throws synchronously (%s)', (ext) => {
  it('crashes as under bare node, and the SERVER span arrives with the exception', async () => {
    const service = `stack-traces-${ext}`;
    const [bare, traced] = await Promise.all([crash(ext, 'none', `${service}-bare`), crash(ext, 'import', service)]);
    expect(bare.code).toBe(1);
    expect(traced.code).toBe(bare.code);
    expect(traced.signal).toBe(bare.signal);
    // The banner names the fixture's own throw, with its source line and caret.
    expect(banner(bare.stderr)).toContain(`throw.${ext}:13`);
    expect(banner(traced.stderr)).toBe(banner(bare.stderr));
    // The stack printed after the banner: bare node's, plus the one agent frame explained below.
    const crashStack = (stderr: string): string[] => frames(stderr.slice(stderr.indexOf('Error: thrown by the app handler')));
    expect(
      crashStack(traced.stderr).filter((f) => !f.includes(DIST)),
      traced.stderr,
    ).toEqual(crashStack(bare.stderr));
    expect(
      crashStack(traced.stderr).filter((f) => f.includes(DIST)),
      traced.stderr,
    ).toHaveLength(1);

    // A stack the handler captures: exactly one frame from dist/, the patched Server.prototype.emit,
    // which enters the request's context around the app's listeners. It cannot be fewer: Node has no
    // hook that runs a listener inside an AsyncLocalStorage context without a frame of the caller's.
    // Without the fix there were four more (context.with, the context manager's with,
    // AsyncLocalStorage.run and the this-binding callback).
    const agentFrames = frames(traced.stack).filter((f) => f.includes(DIST));
    expect(agentFrames, traced.stack).toHaveLength(1);
    expect(agentFrames[0]).toMatch(/^at Server\.emit \(/);
    expect(
      frames(traced.stack).filter((f) => !f.includes(DIST)),
      traced.stack,
    ).toEqual(frames(bare.stack));
    // Bare node's stack is well under Node's 10-frame limit, so the agent frame pushes none of the app's out.
    expect(frames(bare.stack).length).toBeLessThan(9);

    const spans = rx.spans().filter((s) => s.resource['service.name'] === service && s.kind === 'SERVER');
    const thrown = spans.filter((s) => s.attributes['url.path'] === '/throw');
    expect(thrown.length, JSON.stringify(spans.map((s) => [s.name, s.attributes['url.path'], s.status]))).toBe(1);
    expect(thrown[0]!.status.code).toBe('ERROR');
    const ex = thrown[0]!.events.filter((e) => e.name === 'exception');
    expect(ex).toHaveLength(1);
    expect(ex[0]!.attributes['exception.message']).toBe('thrown by the app handler');
  });
});
