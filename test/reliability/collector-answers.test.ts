/**
 * The collector takes the spans and then answers badly, or answers that it
 * dropped some of them. Whatever it does, every export settles (an answer
 * the agent stops waiting for must not hold the pipeline), a batch the
 * collector answered 2xx is never sent again, and the counts add up:
 * exported + dropped + failed + rejected = ended.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startHostileCollector, type Answer, type HostileCollector } from '../harness/hostile-collector';
import { VARIANTS } from '../harness/fixture';
import { drive, killLeftovers, request, startTracked, statsBySignal, wrongWorkAnswers } from './load';

afterAll(killLeftovers);

interface AgentStats {
  started: number;
  ended: number;
  exported: number;
  dropped: number;
  failed: number;
  exportFailures: number;
  rejected: number;
}

const collectors: HostileCollector[] = [];
afterAll(async () => {
  await Promise.all(collectors.map((c) => c.close()));
});

const agentLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('[otel-agent]'));
const held = (a: AgentStats): number => a.ended - a.exported - a.dropped - a.failed - (a.rejected ?? 0);
const dupes = (ids: string[]): string[] => ids.filter((id, i) => ids.indexOf(id) !== i);

/** Polls the fixture's counters (by signal: asking makes no span) until nothing is held any more. */
async function settled(child: Parameters<typeof statsBySignal>[0], timeoutMs = 30_000): Promise<AgentStats> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const a = (await statsBySignal<{ agent: AgentStats }>(child)).agent;
    if (held(a) === 0) return a;
    if (Date.now() > end) throw new Error(`spans still held after ${timeoutMs} ms: ${JSON.stringify(a)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const REQUESTS = 30; // 4 spans each

interface Run {
  stats: AgentStats;
  stderr: string;
  code: number | null;
  service: string;
}

async function run(c: HostileCollector, answer: Answer, ext: string, name: string, env: Record<string, string> = {}, endpoint = c.url): Promise<Run> {
  c.setAnswer(answer);
  const service = `answers-${name}-${ext}`;
  const f = startTracked({
    fixture: `reliability/server.${ext}`,
    endpoint,
    env: {
      OTEL_SERVICE_NAME: service,
      // An answer the agent waits for in vain costs at most this; without the fix, the export stalled until OTEL_BSP_EXPORT_TIMEOUT.
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_BSP_EXPORT_TIMEOUT: '3000',
      // The exit flush's deadline is not under test here; on a loaded machine starting its worker alone can take seconds.
      OTEL_AGENT_FLUSH_TIMEOUT: '15000',
      ...env,
    },
  });
  const port = Number((await f.ready).split(' ')[1]);
  expect(
    wrongWorkAnswers(
      await drive(
        port,
        Array.from({ length: REQUESTS }, (_, i) => `/work/${i}?hop=1`),
        4,
      ),
    ),
  ).toEqual([]);
  const stats = await settled(f.child);
  await request(port, '/shutdown?code=0', { method: 'POST' });
  const r = await f.result;
  return { stats, stderr: r.stderr, code: r.code, service };
}

describe.concurrent('hostile answers: every export settles once, a 2xx is never resent, the counts add up', () => {
  const cases: [string, Answer][] = [
    ['200 with a 4 MiB body', { kind: 'huge', status: 200, bytes: 4 << 20 }],
    ['200 with a body slower than the export timeout', { kind: 'slow', status: 200 }],
    ['200, connection closed mid-body', { kind: 'cut', status: 200 }],
  ];
  it.each(cases.map(([n, a], i) => [n, a, VARIANTS[i % 2]!] as const))('%s: delivered once, counted exported', async (name, answer, ext) => {
    const c = await startHostileCollector();
    collectors.push(c);
    const r = await run(c, answer, ext, answer.kind);
    expect(r.code, r.stderr).toBe(0);
    const a = r.stats;
    expect(a.ended).toBeGreaterThanOrEqual(REQUESTS * 4);
    // Checked first: without the fix, a stalled 2xx answer was retried and the collector got the batch twice.
    const ids = c.acceptedSpanIds(r.service);
    expect(dupes(ids).length, 'spans the collector got twice').toBe(0);
    // The collector had every span after its status line; nothing was lost or retried.
    expect({ exported: a.exported, failed: a.failed, dropped: a.dropped, rejected: a.rejected }, r.stderr).toEqual({
      exported: a.ended,
      failed: 0,
      dropped: 0,
      rejected: 0,
    });
    // Everything counted before /shutdown, plus the shutdown request's own spans sent at exit.
    expect(ids.length).toBeGreaterThanOrEqual(a.exported);
    expect(
      agentLines(r.stderr).filter((l) => l.includes('could not export')),
      r.stderr,
    ).toEqual([]);
  });

  it('503 with a 4 MiB body: retried (the answer did not stall the export), then counted as failed, nothing taken', async () => {
    const c = await startHostileCollector();
    collectors.push(c);
    const r = await run(c, { kind: 'huge', status: 503, bytes: 4 << 20 }, 'mjs', 'huge503');
    expect(r.code, r.stderr).toBe(0);
    const a = r.stats;
    expect(c.acceptedSpanIds(r.service)).toEqual([]);
    expect(a.exported).toBe(0);
    expect(a.failed + a.dropped, JSON.stringify(a)).toBe(a.ended);
    expect(a.failed).toBeGreaterThan(0);
    // Each batch was tried again after the 503: the agent had read the status and let go of the body.
    expect(c.attempts(r.service), JSON.stringify(a)).toBeGreaterThan(a.exportFailures);
    expect(r.stderr).toContain('HTTP 503');
  });
});

describe('exit while a 2xx answer is still arriving', () => {
  it('the exit flush does not send that batch again', async () => {
    const c = await startHostileCollector();
    collectors.push(c);
    // The status line comes at once, the body never finishes: the export is still in flight when the app exits.
    c.setAnswer({ kind: 'slow', status: 200 });
    const service = 'answers-exit-in-flight';
    const f = startTracked({
      fixture: 'reliability/server.cjs',
      endpoint: c.url,
      env: {
        OTEL_SERVICE_NAME: service,
        OTEL_EXPORTER_OTLP_TIMEOUT: '60000',
        OTEL_BSP_EXPORT_TIMEOUT: '60000',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_AGENT_FLUSH_TIMEOUT: '5000',
      },
    });
    const port = Number((await f.ready).split(' ')[1]);
    expect(
      wrongWorkAnswers(
        await drive(
          port,
          Array.from({ length: 5 }, (_, i) => `/work/${i}?hop=1`),
          2,
        ),
      ),
    ).toEqual([]);
    // Wait until the collector has taken a batch (its answer then trickles for the rest of the run).
    for (let i = 0; c.acceptedSpanIds(service).length === 0; i++) {
      if (i > 300) throw new Error('the collector never got an export');
      await new Promise((r) => setTimeout(r, 100));
    }
    await request(port, '/shutdown?code=0', { method: 'POST' });
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    const ids = c.acceptedSpanIds(service);
    // Without the fix the exit flush resent every batch in flight, including those the collector had answered 200.
    expect(dupes(ids).length, 'spans the collector got twice').toBe(0);
    expect(ids.length).toBeGreaterThanOrEqual(20);
    expect(
      agentLines(r.stderr).filter((l) => l.includes('could not export')),
      r.stderr,
    ).toEqual([]);
  });
});

describe.concurrent("OTLP partial success: rejected spans are counted, warned about once with the collector's message, and in the exit summary", () => {
  const MESSAGE = 'test collector: 1 span dropped (too old)';
  it.each([
    ['http/protobuf', 'cjs'],
    ['http/json', 'mjs'],
    ['grpc', 'cjs'],
  ] as const)('%s (%s)', async (protocol, ext) => {
    const c = await startHostileCollector();
    collectors.push(c);
    // One rejected span per export, whatever its size: the rejected count must equal the number of exports.
    const r = await run(
      c,
      { kind: 'partial', rejected: 1, message: MESSAGE },
      ext,
      `partial-${protocol.replace('/', '-')}`,
      { OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_LOG_LEVEL: 'info' },
      protocol === 'grpc' ? c.grpcUrl : c.url,
    );
    expect(r.code, r.stderr).toBe(0);
    const a = r.stats;
    expect(a.rejected, JSON.stringify(a)).toBeGreaterThan(0);
    expect(a.exported + a.rejected, JSON.stringify(a)).toBe(a.ended);
    expect(a.failed).toBe(0);
    const warnings = agentLines(r.stderr).filter((l) => l.includes('rejected'));
    const once = warnings.filter((l) => l.includes('partial success') && l.startsWith('[otel-agent] warning:'));
    expect(once, r.stderr).toHaveLength(1);
    expect(once[0]).toContain(MESSAGE);
    // The exit summary has the final count: every export the collector answered rejected one span.
    const summary = /(\d+) rejected by the collector \(partial success\)/.exec(r.stderr);
    expect(summary, r.stderr).not.toBeNull();
    expect(Number(summary![1])).toBe(c.attempts(r.service));
    expect(Number(summary![1])).toBeGreaterThanOrEqual(a.rejected);
  });
});
