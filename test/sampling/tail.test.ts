/**
 * Local tail mode end to end, at 1% head sampling, on what the receiver and a downstream
 * service got: failing (5xx, thrown) and slow requests arrive whole and marked, fast 200s
 * arrive only when the head sampler kept them, the traceparent sent downstream still says
 * unsampled and names the exported CLIENT span, and the bounds are counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { startFixture, VARIANTS } from '../harness/fixture';
import { send, spansOf, startDownstream, traceparent, type Downstream } from '../http/helpers';

let rx: OtlpReceiver;
let down: Downstream;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  down = await startDownstream();
});
afterAll(async () => {
  await rx.close();
  await down.close();
});

const TAIL = {
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.01',
  OTEL_AGENT_TAIL_SAMPLING: 'true',
  OTEL_AGENT_TAIL_LATENCY_THRESHOLD: '150',
  SLOW_MS: '300',
  OTEL_LOG_LEVEL: 'info',
};

async function run(ext: string, env: Record<string, string>, paths: string[], quit = true): Promise<{ stderr: string; code: number | null }> {
  const f = startFixture({ fixture: `sampling/tail.${ext}`, endpoint: rx.url, env: { DOWNSTREAM: down.url, ...env } });
  const port = Number((await f.ready).split(' ')[1]);
  for (const p of paths) await send(`http://127.0.0.1:${port}${p}`).catch(() => undefined);
  if (quit) await send(`http://127.0.0.1:${port}/quit`, { method: 'POST' });
  const r = await f.result;
  return { stderr: r.stderr, code: r.code };
}

const servers = (spans: RecvSpan[], path: string): RecvSpan[] => spans.filter((s) => s.kind === 'SERVER' && s.attributes['url.path'] === path);
const inTrace = (spans: RecvSpan[], s: RecvSpan): RecvSpan[] => spans.filter((x) => x.traceId === s.traceId);

describe.each(VARIANTS)('local tail mode (%s)', (ext) => {
  it('at 1%: 5xx and slow requests whole and marked, fast 200s only as sampled, downstream still told unsampled', async () => {
    const service = `tail-${ext}`;
    const first = down.seen.length;
    const paths = [...Array.from({ length: 150 }, () => '/ok'), '/fail', '/fail', '/fail', '/slow', '/slow', '/many'];
    const r = await run(ext, { ...TAIL, OTEL_SERVICE_NAME: service, OTEL_AGENT_TAIL_MAX_SPANS_PER_TRACE: '10' }, paths);
    expect(r.code, r.stderr).toBe(0);
    const spans = spansOf(rx, service);
    const seen = down.seen.slice(first).map((s) => ({ route: s.url.slice(1), ...traceparent(s.headers.traceparent) }));
    expect(seen).toHaveLength(155);

    // Each failing or slow request: SERVER, the fs read and the CLIENT call, parent/child intact,
    // every span marked, the reason on the SERVER span; the CLIENT span is the one downstream saw
    // as parent, and the flag downstream saw is unsampled.
    for (const [route, reason] of [
      ['fail', 'error'],
      ['slow', 'slow'],
    ] as const) {
      const calls = seen.filter((s) => s.route === route);
      for (const call of calls) {
        const trace = spans.filter((s) => s.traceId === call.traceId);
        const server = trace.find((s) => s.kind === 'SERVER')!;
        expect(server, `${route} trace ${call.traceId}`).toBeDefined();
        if (call.flags === '03') continue; // head-sampled (1%): exported the usual way
        expect(call.flags).toBe('02'); // random trace id, not sampled
        expect(server.attributes['otel.agent.tail_kept']).toBe(true);
        expect(server.attributes['otel.agent.tail_reason']).toBe(reason);
        expect(server.parentSpanId).toBe('');
        const client = trace.find((s) => s.kind === 'CLIENT')!;
        const fsSpan = trace.find((s) => s.name.startsWith('fs '))!;
        expect(client.parentSpanId).toBe(server.spanId);
        expect(fsSpan.parentSpanId).toBe(server.spanId);
        expect(client.spanId).toBe(call.parentId);
        for (const s of trace) expect(s.attributes['otel.agent.tail_kept'], s.name).toBe(true);
        expect(trace).toHaveLength(3);
        if (route === 'fail') expect(server.attributes['http.response.status_code']).toBe(500);
      }
    }

    // Fast 200s: exported exactly when the head sampler kept them (sampled flag downstream), never marked.
    const okSeen = seen.filter((s) => s.route === 'ok');
    const okKept = servers(spans, '/ok');
    expect(okKept.map((s) => s.traceId).sort()).toEqual(
      okSeen
        .filter((s) => s.flags === '03')
        .map((s) => s.traceId)
        .sort(),
    );
    for (const s of okKept) expect(s.attributes['otel.agent.tail_kept']).toBeUndefined();
    // 1% of 150: more than 10 would be a sampler keeping far more than its ratio.
    expect(okKept.length).toBeLessThan(10);

    // /many: its SERVER span and the first 10 of its 30 fs spans; the other 20 counted.
    const many = servers(spans, '/many')[0]!;
    expect(many, r.stderr).toBeDefined();
    if (many.attributes['otel.agent.tail_kept']) {
      const children = inTrace(spans, many).filter((s) => s.spanId !== many.spanId);
      expect(children).toHaveLength(10);
      for (const c of children) expect(c.parentSpanId).toBe(many.spanId);
      expect(r.stderr).toContain('not kept: 20 span(s) over OTEL_AGENT_TAIL_MAX_SPANS_PER_TRACE');
    }

    // The exit summary counts what was kept, and why.
    const m = /tail sampling: (\d+) of (\d+) unsampled request\(s\) kept \((\d+) error, (\d+) slow\), (\d+) span\(s\) exported/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const marked = spans.filter((s) => s.kind === 'SERVER' && s.attributes['otel.agent.tail_kept']);
    expect(Number(m![1])).toBe(marked.length);
    expect(Number(m![3])).toBe(marked.filter((s) => s.attributes['otel.agent.tail_reason'] === 'error').length);
    expect(Number(m![4])).toBe(marked.filter((s) => s.attributes['otel.agent.tail_reason'] === 'slow').length);
    expect(Number(m![5])).toBe(spans.filter((s) => s.attributes['otel.agent.tail_kept']).length);
    // Every request but the head-sampled ones was recorded: 150 + 6 + the POST /quit.
    expect(Number(m![2])).toBe(157 - spans.filter((s) => s.kind === 'SERVER' && !s.attributes['otel.agent.tail_kept']).length);
    expect(marked.length).toBeGreaterThanOrEqual(4);
    expect(r.stderr.split('\n').filter((l) => / warning:/.test(l))).toEqual([]);
  });

  it('a handler that throws: the process ends as Node ends it, the request is exported marked as an error', async () => {
    const service = `tail-crash-${ext}`;
    const r = await run(ext, { ...TAIL, OTEL_SERVICE_NAME: service }, ['/crash'], false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('thrown by the app handler');
    const spans = spansOf(rx, service);
    const server = servers(spans, '/crash')[0]!;
    expect(server, r.stderr).toBeDefined();
    expect(server.status.code).toBe('ERROR');
    expect(server.events.map((e) => e.name)).toContain('exception');
    // Head-sampled at 1% once in a hundred runs: then it is exported unmarked, as any sampled span.
    if (!server.attributes['otel.agent.tail_kept']) return;
    expect(server.attributes['otel.agent.tail_reason']).toBe('error');
    const child = inTrace(spans, server).find((s) => s.name.startsWith('fs '))!;
    expect(child.parentSpanId).toBe(server.spanId);
    expect(child.attributes['otel.agent.tail_kept']).toBe(true);
  });
});

describe('local tail mode bounds', () => {
  it('OTEL_AGENT_TAIL_MAX_SPANS caps what is held in total; the rest is counted', async () => {
    const service = 'tail-total';
    // A ratio of 0: no request is head-sampled, every one is left to tail mode.
    const r = await run('cjs', { ...TAIL, OTEL_TRACES_SAMPLER_ARG: '0', OTEL_SERVICE_NAME: service, OTEL_AGENT_TAIL_MAX_SPANS: '5' }, ['/many', '/ok']);
    expect(r.code, r.stderr).toBe(0);
    const spans = spansOf(rx, service);
    const many = servers(spans, '/many')[0]!;
    expect(many.attributes['otel.agent.tail_reason']).toBe('error');
    expect(inTrace(spans, many)).toHaveLength(6);
    expect(servers(spans, '/ok')).toEqual([]);
    expect(r.stderr).toContain(
      'tail sampling: 1 of 3 unsampled request(s) kept (1 error, 0 slow), 6 span(s) exported; not kept: 25 span(s) over OTEL_AGENT_TAIL_MAX_SPANS',
    );
  });

  it("OTEL_LOG_LEVEL=debug: the rules' and tail mode's counts are said while the app runs, before the exit summary", async () => {
    const service = 'tail-debug';
    const f = startFixture({
      fixture: 'sampling/tail.cjs',
      endpoint: rx.url,
      env: { ...TAIL, DOWNSTREAM: down.url, OTEL_TRACES_SAMPLER_ARG: '0', OTEL_AGENT_DROP_PROBES: 'true', OTEL_LOG_LEVEL: 'debug', OTEL_SERVICE_NAME: service },
    });
    const port = Number((await f.ready).split(' ')[1]);
    await send(`http://127.0.0.1:${port}/healthz`);
    await send(`http://127.0.0.1:${port}/fail`);
    // The running line comes about a second after the first decisions.
    await new Promise((r) => setTimeout(r, 2500));
    await send(`http://127.0.0.1:${port}/quit`, { method: 'POST' });
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n');
    const running = lines.findIndex((l) =>
      l.includes(
        'debug: so far: sampling rules: probe /healthz: 1 dropped; tail sampling: 1 of 1 unsampled request(s) kept (1 error, 0 slow), 3 span(s) exported',
      ),
    );
    expect(running, r.stderr).toBeGreaterThanOrEqual(0);
    // At exit, at info: the final counts (the POST /quit recorded too, not kept).
    const summary = lines.findIndex((l) => l.includes('sampling rules: probe /healthz: 1 dropped; tail sampling: 1 of 2 unsampled request(s) kept'));
    expect(summary, r.stderr).toBeGreaterThan(running);
  });

  it('off (the default): nothing unsampled is exported, no tail summary', async () => {
    const service = 'tail-off';
    const r = await run('cjs', { ...TAIL, OTEL_TRACES_SAMPLER_ARG: '0', OTEL_AGENT_TAIL_SAMPLING: 'false', OTEL_SERVICE_NAME: service }, ['/fail', '/slow']);
    expect(r.code, r.stderr).toBe(0);
    expect(spansOf(rx, service)).toEqual([]);
    expect(r.stderr).not.toContain('tail sampling');
  });
});
