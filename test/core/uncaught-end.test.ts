/**
 * An uncaught exception thrown in an async callback inside a request (pg, fs):
 * the process ends exactly as bare node's, and the request's spans are
 * delivered, ended with the exception. With the app's own 'uncaughtException'
 * handler the process lives on: the exception is an event, the request ends
 * when its response does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { startFixture, VARIANTS, type FixtureResult } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

async function run(
  ext: string,
  mode: string,
  agent: boolean,
  service: string,
  after?: (port: number) => Promise<void>,
): Promise<FixtureResult & { answer?: string }> {
  const f = startFixture({
    fixture: `exit/crash.${ext}`,
    args: [mode],
    mode: agent ? 'import' : 'none',
    endpoint: rx.url,
    timeoutMs: 15_000,
    env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000' },
  });
  const port = Number((await f.ready).split(' ')[1]);
  let answer: string | undefined;
  const got = fetch(`http://127.0.0.1:${port}/work`).then(
    (r) => r.text().then((t) => `${r.status} ${t}`),
    () => 'no answer',
  );
  if (after) {
    answer = await got;
    await after(port);
    f.child.kill('SIGTERM');
  }
  const r = await f.result;
  return { ...r, answer: answer ?? (await got) };
}

/**
 * Node's crash output (banner, source line, caret, message, version), paths
 * masked. Stack frames are left out: the fs and pg instrumentations' context
 * wrappers add frames to async callbacks' stacks (a separate issue).
 */
const crash = (s: string): string[] =>
  s
    .split('\n')
    .filter((l) => l && !l.startsWith('[otel-agent]') && !l.startsWith('    at '))
    .map((l) => l.replace(/\(.*\)|file:\/\/\S+|\/\S+/g, 'X'));

const mine = (service: string): RecvSpan[] => rx.spans().filter((s) => s.resource['service.name'] === service);

describe.each(VARIANTS)('an uncaught exception ends the process (%s)', (ext) => {
  it.each(['pg', 'fs'])('thrown in a %s callback inside a request: SERVER span ended with it and delivered, exit as bare node', async (mode) => {
    const service = `uncaught-${mode}-${ext}`;
    const bare = await run(ext, mode, false, service + '-bare');
    const r = await run(ext, mode, true, service);
    expect(r.code, r.stderr).toBe(bare.code);
    expect(r.signal).toBe(bare.signal);
    expect(crash(r.stderr)).toEqual(crash(bare.stderr));
    await rx.waitForSpans((s) => s.some((x) => x.resource['service.name'] === service && x.kind === 'SERVER'), 5000).catch(() => undefined);
    const spans = mine(service);
    const server = spans.filter((s) => s.kind === 'SERVER');
    expect(server, JSON.stringify(spans.map((s) => s.name))).toHaveLength(1);
    const s = server[0]!;
    expect(s.status.code).toBe('ERROR');
    expect(s.attributes['error.type']).toBe('Error');
    const events = spans.flatMap((x) =>
      x.events.filter((e) => e.name === 'exception').map((e) => ({ span: x.name, message: e.attributes['exception.message'] })),
    );
    // One exception event, on the span active where it was thrown (the request's: pg's and fs's spans have ended by then).
    expect(events).toEqual([{ span: s.name, message: `boom in ${mode} callback` }]);
    if (mode === 'pg') {
      const query = spans.filter((x) => x.kind === 'CLIENT' && x.parentSpanId === s.spanId);
      expect(query.length).toBeGreaterThanOrEqual(1);
    }
  });
});

describe.each(VARIANTS)("the app's own uncaughtException handler keeps it running (%s)", (ext) => {
  it('the request ends when its response does, with its real status; the exception is an event on it; nothing extra printed', async () => {
    const service = `uncaught-kept-${ext}`;
    const bare = await run(ext, 'fs-kept', false, service + '-bare', async () => undefined);
    const r = await run(ext, 'fs-kept', true, service, async () => undefined);
    expect(r.answer).toBe('200 fine after all');
    expect(r.answer).toBe(bare.answer);
    expect(r.stdout.replace(/READY \d+/, '')).toBe(bare.stdout.replace(/READY \d+/, ''));
    expect(r.stderr.split('\n').filter((l) => l.startsWith('[otel-agent]'))).toEqual([]);
    expect(r.stderr).toBe(bare.stderr);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: bare.code, signal: bare.signal });
    await rx.waitForSpans((s) => s.some((x) => x.resource['service.name'] === service && x.kind === 'SERVER'), 5000).catch(() => undefined);
    const server = mine(service).filter((s) => s.kind === 'SERVER');
    expect(server).toHaveLength(1);
    const s = server[0]!;
    expect(s.attributes['http.response.status_code']).toBe(200);
    expect(s.status.code).toBe('UNSET');
    // Ended by the response (after the app's 20 ms timer), not by the exception.
    expect(s.durationMs).toBeGreaterThanOrEqual(20);
    expect(s.events.filter((e) => e.name === 'exception').map((e) => e.attributes['exception.message'])).toEqual(['boom in fs callback']);
  });
});
