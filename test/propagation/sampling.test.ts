/**
 * Consistent probability sampling across two processes (docs/sampling.md):
 * service A samples at 10%, calls service B, which samples at 1%. Both are
 * plain apps under the agent; B's /echo answers with the traceparent and
 * tracestate it received, so the test sees every trace's id and A's
 * decision, sampled or not, and the OTLP receiver sees what each kept.
 *
 * What must hold (OpenTelemetry trace/tracestate-probability-sampling.md):
 * A keeps exactly the traces whose trace id's right-most 56 bits are >=
 * 0xe666 << 40 (th:e666), B exactly those >= 0xfd70a << 36 (th:fd70a), so
 * every trace B kept was kept by A; kept spans carry their threshold in
 * `ot=th:...`; with parent-based sampling B follows A and keeps A's th.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type RunningFixture } from '../harness/fixture';
import { startOtlpReceiver, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { spansOf } from '../http/helpers';
import { adjustedCount } from '../../src/tracer/threshold';

const A_TH = 'e666'.padEnd(14, '0'); // 0.1 at the default precision (the spec's table)
const B_TH = 'fd70a'.padEnd(14, '0'); // 0.01
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0([0-3])$/;

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

interface Service {
  url: string;
  fixture: RunningFixture;
}

async function startService(ext: string, service: string, env: Record<string, string>): Promise<Service> {
  const fixture = startFixture({
    fixture: `propagation/sampling-service.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: service, ...env },
    timeoutMs: 200_000,
  });
  const port = Number((await fixture.ready).split(' ')[1]);
  return { url: `http://127.0.0.1:${port}`, fixture };
}

async function stop(s: Service): Promise<void> {
  await new Promise<void>((r) => {
    const req = http.request(`${s.url}/quit`, { method: 'POST', agent: false }, (res) => {
      res.resume();
      res.on('end', r);
    });
    req.on('error', () => r());
    req.end();
  });
  const res = await s.fixture.result;
  expect(res.code, res.stderr).toBe(0);
}

interface Seen {
  traceparent: string | null;
  tracestate: string | null;
}

/** `n` GET /call to `url`, 8 at a time on kept-alive connections: what B received for each. */
async function calls(url: string, n: number): Promise<Seen[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const one = () =>
    new Promise<Seen>((resolve, reject) => {
      http
        .get(`${url}/call`, { agent, timeout: 30_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(JSON.parse(body) as Seen));
        })
        .on('timeout', function (this: http.ClientRequest) {
          this.destroy(new Error('service A did not answer within 30 s'));
        })
        .on('error', reject);
    });
  const out: Seen[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n) {
        next++;
        out.push(await one());
      }
    }),
  );
  agent.destroy();
  return out;
}

const low56 = (traceId: string): string => traceId.slice(18);
/** The SERVER spans of the calls the test made (not of POST /quit, itself a root request sampled like any other). */
const servers = (spans: RecvSpan[]): RecvSpan[] => spans.filter((s) => s.kind === 'SERVER' && s.attributes['url.path'] !== '/quit');
const withoutQuit = (spans: RecvSpan[]): RecvSpan[] => spans.filter((s) => s.attributes['url.path'] !== '/quit');

describe.each([
  ['cjs', 'fetch'],
  ['mjs', 'http'],
])('consistent probability sampling, service A -> service B (%s, %s)', (ext, client) => {
  it('A at traceidratio 0.1, B at traceidratio 0.01: B keeps a subset of what A keeps, each decided by the trace id, th on every kept span', async () => {
    const N = 1000;
    const b = await startService(ext, `ratio-b-${ext}`, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' });
    const a = await startService(ext, `ratio-a-${ext}`, {
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      DOWNSTREAM: b.url,
      CLIENT: client,
    });
    const seen = await calls(a.url, N);
    await stop(a);
    await stop(b);

    // Every request started a trace in A with a random trace id (flag 0x02), sampled or not.
    const byTrace = new Map<string, { flags: number; tracestate: string | null }>();
    for (const s of seen) {
      const m = TRACEPARENT.exec(s.traceparent ?? '');
      expect(m, String(s.traceparent)).not.toBeNull();
      byTrace.set(m![1]!, { flags: Number(m![3]), tracestate: s.tracestate });
    }
    expect(byTrace.size).toBe(N);
    const aKept = new Set<string>();
    for (const [traceId, { flags, tracestate }] of byTrace) {
      expect(flags & 0x02, traceId).toBe(0x02);
      const kept = low56(traceId) >= A_TH;
      expect((flags & 0x01) === 0x01, `${traceId}: A's decision is R >= th:e666`).toBe(kept);
      // A kept: its threshold travels to B; not kept: no tracestate at all (no empty header).
      expect(tracestate, traceId).toBe(kept ? 'ot=th:e666' : null);
      if (kept) aKept.add(traceId);
    }

    const aSpans = withoutQuit(spansOf(rx, `ratio-a-${ext}`));
    const bSpans = withoutQuit(spansOf(rx, `ratio-b-${ext}`));
    expect(new Set(servers(aSpans).map((s) => s.traceId))).toEqual(aKept);
    for (const s of aSpans) expect(s.traceState, `${s.kind} ${s.name}`).toBe('ot=th:e666');

    const bKept = new Set([...byTrace.keys()].filter((t) => low56(t) >= B_TH));
    const bServers = servers(bSpans);
    expect(new Set(bServers.map((s) => s.traceId))).toEqual(bKept);
    expect(bKept.size, 'B kept some traces (about 1% of them)').toBeGreaterThan(0);
    expect(bKept.size).toBeLessThan(aKept.size);
    for (const s of bServers) {
      // Consistent: A kept every trace B kept, and B's span is the child of A's CLIENT span.
      expect(aKept.has(s.traceId), s.traceId).toBe(true);
      const parent = aSpans.find((p) => p.spanId === s.parentSpanId);
      expect(parent?.kind).toBe('CLIENT');
      expect(s.traceState).toBe('ot=th:fd70a');
    }
    // What a backend computes from th: each A span stands for ~10 spans, each B span for ~100.
    expect(adjustedCount('e666')).toBeCloseTo(9.99938968568813, 9);
    expect(adjustedCount('fd70a')).toBeCloseTo(99.99771123402633, 9);
  }, 240_000);

  it('parentbased_traceidratio in both: B follows A (0.1 wins over its own 0.01) and keeps A’s th:e666', async () => {
    const N = 200;
    const b = await startService(ext, `pb-b-${ext}`, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' });
    const a = await startService(ext, `pb-a-${ext}`, {
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      DOWNSTREAM: b.url,
      CLIENT: client,
    });
    const seen = await calls(a.url, N);
    await stop(a);
    await stop(b);
    const ids = seen.map((s) => TRACEPARENT.exec(s.traceparent ?? '')![1]!);
    const aKept = new Set(ids.filter((t) => low56(t) >= A_TH));
    expect(new Set(servers(spansOf(rx, `pb-a-${ext}`)).map((s) => s.traceId))).toEqual(aKept);
    const bServers = servers(spansOf(rx, `pb-b-${ext}`));
    expect(new Set(bServers.map((s) => s.traceId))).toEqual(aKept);
    for (const s of bServers) expect(s.traceState).toBe('ot=th:e666');
  }, 240_000);
});
