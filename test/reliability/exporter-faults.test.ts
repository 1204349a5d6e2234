/**
 * The collector misbehaves in every way we know of while the app is under
 * load. The app must answer every request correctly and exit with its own
 * code; the agent must hold at most its queue in memory, count what it drops,
 * say so in one line (not one per span), and deliver again once the
 * collector is back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startOtlpReceiver, type OtlpReceiver, type ReceiverBehavior, type RecvSpan } from '../harness/otlp-receiver';
import { VARIANTS } from '../harness/fixture';
import { drive, getJson, killLeftovers, request, startTracked, statsBySignal, wrongWorkAnswers } from './load';

afterAll(killLeftovers);

interface AgentStats {
  started: number;
  ended: number;
  exported: number;
  dropped: number;
  failed: number;
  exportFailures: number;
}
interface FixtureStats {
  rss: number;
  resources: Record<string, number>;
  agent: AgentStats | null;
}

const QUEUE = 100;
const BATCH = 50;
/** Batches the pipeline exports concurrently (src/processor.ts). */
const IN_FLIGHT = 4;
const REQUESTS = 300; // each /work/<id>?hop=1 makes 4 spans: 1200 spans against a queue of 100
const CONCURRENCY = 24;

const receivers: OtlpReceiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A collector that comes up late on a port that refused connections so far: a plain TCP relay to a receiver. */
async function relay(port: number, to: number): Promise<net.Server> {
  const s = net.createServer((c) => {
    const up = net.connect(to, '127.0.0.1');
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.listen(port, '127.0.0.1', () => res());
  });
  return s;
}

async function until(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const agentLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('[otel-agent]'));

const workPath = (s: RecvSpan): string => String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? '');

interface Fault {
  name: string;
  behavior?: ReceiverBehavior;
  /** Endpoint the agent is pointed at instead of the receiver. */
  endpoint?: 'refused' | 'dns';
  env?: Record<string, string>;
  /** The agent believes these exports succeeded (a 2xx answer), so it counts no failure. */
  looksDelivered?: boolean;
}

// OTEL_EXPORTER_OTLP_TIMEOUT=1000 for the hanging and slow sinks: what the agent does depends only on
// the sink being slower than the export timeout, and at the default 10 s each export in flight would
// make the test wait 10 s before it could see the collector recover.
const FAULTS: Fault[] = [
  { name: 'endpoint refuses connections', endpoint: 'refused' },
  { name: 'endpoint host name does not resolve (.invalid)', endpoint: 'dns' },
  { name: 'sink accepts and never answers', behavior: 'hang', env: { OTEL_EXPORTER_OTLP_TIMEOUT: '1000' } },
  { name: 'sink answers 500', behavior: 'refuse500' },
  { name: 'sink answers 429 with Retry-After', behavior: 'status429' },
  { name: 'sink answers 503', behavior: 'status503' },
  { name: 'sink answers 200 with garbage', behavior: 'garbage', looksDelivered: true },
  // A 200 status line then a cut connection: the collector said it took the batch, so the agent counts
  // it as exported (an OTLP answer's body only matters for partial success); spans are lost here only
  // when the load outruns the queue.
  { name: 'sink closes the connection mid-response', behavior: 'close', looksDelivered: true },
  { name: 'sink answers after 10 s (slower than the export timeout)', behavior: { delayMs: 10_000 }, env: { OTEL_EXPORTER_OTLP_TIMEOUT: '1000' } },
];

describe.concurrent('exporter faults under load: the app is unaffected, memory is bounded, drops are counted once, delivery resumes', () => {
  it.each(FAULTS.map((f, i) => [f.name, f, VARIANTS[i % 2]!] as const))('%s', async (_name, fault, ext) => {
    const rx = await startOtlpReceiver();
    receivers.push(rx);
    if (fault.behavior) rx.setBehavior(fault.behavior);
    const deadPort = fault.endpoint === 'refused' ? await freePort() : 0;
    const endpoint = fault.endpoint === 'refused' ? `http://127.0.0.1:${deadPort}` : fault.endpoint === 'dns' ? 'http://no-such-host.invalid:4318' : rx.url;
    const service = `fault-${fault.behavior ? JSON.stringify(fault.behavior) : fault.endpoint}-${ext}`;
    const f = startTracked({
      fixture: `reliability/server.${ext}`,
      endpoint,
      env: { OTEL_SERVICE_NAME: service, OTEL_BSP_MAX_QUEUE_SIZE: String(QUEUE), OTEL_BSP_MAX_EXPORT_BATCH_SIZE: String(BATCH), ...fault.env },
    });
    const port = Number((await f.ready).split(' ')[1]);

    const answers = await drive(
      port,
      Array.from({ length: REQUESTS }, (_, i) => `/work/${i}?hop=1`),
      CONCURRENCY,
    );
    expect(wrongWorkAnswers(answers), 'every answer the app gave under load').toEqual([]);

    const stats = await getJson<FixtureStats>(port, '/stats');
    const a = stats.agent!;
    expect(a, 'the fixture sees the agent running').not.toBeNull();
    expect(a.ended).toBeGreaterThanOrEqual(REQUESTS * 4);
    // Memory: what the agent still holds is at most the queue plus the batches in flight.
    const held = a.ended - a.exported - a.failed - a.dropped;
    expect(held, JSON.stringify(a)).toBeLessThanOrEqual(QUEUE + IN_FLIGHT * BATCH);
    expect(held).toBeGreaterThanOrEqual(0);
    // Nothing was delivered, so spans were lost, and every lost span is counted: as dropped when the
    // queue filled, as failed when the collector answered fast enough for the queue to keep up (a
    // quick 500 or a closed connection on a loaded machine).
    if (!fault.looksDelivered) expect(a.dropped + a.failed, `lost spans are counted: ${JSON.stringify(a)}`).toBeGreaterThan(0);

    // Recovery: the collector is back (behaviour ok, or a server now listening on the refused port).
    let late: net.Server | undefined;
    if (fault.endpoint === 'refused') late = await relay(deadPort, Number(new URL(rx.url).port));
    if (fault.endpoint !== 'dns') {
      rx.setBehavior('ok');
      // The queue is still full of spans from the outage, and new spans would be dropped until it has drained.
      await until(async () => {
        const s = (await statsBySignal<FixtureStats>(f.child)).agent!;
        return s.ended - s.exported - s.failed - s.dropped === 0;
      }, 20_000);
      const after = await drive(
        port,
        Array.from({ length: 20 }, (_, i) => `/work/${100_000 + i}`),
        4,
      );
      expect(wrongWorkAnswers(after)).toEqual([]);
      // Spans queued before the recovery may be flushed first; the new ones follow within a few batches.
      await rx.waitForSpans(
        (all) => all.filter((s) => s.resource['service.name'] === service && s.kind === 'SERVER' && /^\/work\/1000\d\d$/.test(workPath(s))).length === 20,
        20_000,
      );
    }

    const bye = await request(port, '/shutdown?code=42', { method: 'POST' });
    expect(bye.status).toBe(200);
    const r = await f.result;
    late?.close();
    expect(r.code, r.stderr).toBe(42);
    expect(r.signal).toBeNull();

    // One rate-limited line per kind of trouble, never one per span or per batch.
    const lines = agentLines(r.stderr);
    const dropLines = lines.filter((l) => l.includes('span queue full'));
    const failLines = lines.filter((l) => l.includes('could not export spans'));
    expect(dropLines.length, r.stderr).toBe(a.dropped > 0 ? 1 : 0);
    expect(failLines.length, r.stderr).toBeLessThanOrEqual(1);
    if (!fault.looksDelivered) expect(failLines.length + dropLines.length, r.stderr).toBeGreaterThan(0);
    expect(lines.length, `agent lines:\n${lines.join('\n')}`).toBeLessThanOrEqual(3);
    if (failLines[0]) expect(failLines[0]).not.toMatch(/\n|span\(s\) lost in \d+ failed export\(s\) so far.*span\(s\) lost/);
  });
});

describe('retries: bounded, with backoff, only for what a retry can fix', () => {
  /** One request's spans (one batch), then wait until the agent gave up on that batch. */
  async function oneBatch(behavior: ReceiverBehavior, ext: string): Promise<{ attempts: number; stats: AgentStats; stderr: string; code: number | null }> {
    const rx = await startOtlpReceiver();
    receivers.push(rx);
    rx.setBehavior(behavior);
    const f = startTracked({ fixture: `reliability/server.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: `retry-${String(behavior)}` } });
    const port = Number((await f.ready).split(' ')[1]);
    expect(wrongWorkAnswers(await drive(port, ['/work/7'], 1))).toEqual([]);
    let stats: AgentStats;
    for (;;) {
      stats = (await statsBySignal<FixtureStats>(f.child)).agent!;
      if (stats.exportFailures > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Asking by signal made no span: the /work/7 spans are the only batch there was to retry.
    const attempts = rx.requests().filter((q) => q.spanCount > 0).length;
    await request(port, '/shutdown?code=0', { method: 'POST' });
    const r = await f.result;
    return { attempts, stats, stderr: r.stderr, code: r.code };
  }

  it('503 (and 429, 502, 504, network errors) is retried, a bounded number of times within the export timeout', async () => {
    const r = await oneBatch('status503', 'mjs');
    expect(r.code).toBe(0);
    expect(r.attempts).toBeGreaterThanOrEqual(2);
    expect(r.attempts).toBeLessThanOrEqual(5);
    expect(r.stats.failed).toBeGreaterThan(0);
    expect(r.stderr.match(/could not export spans/g)).toHaveLength(1);
    expect(r.stderr).toContain('HTTP 503');
  });

  it('429 with Retry-After is retried after the delay the collector asked for', async () => {
    const r = await oneBatch('status429', 'cjs');
    expect(r.attempts).toBeGreaterThanOrEqual(2);
    expect(r.attempts).toBeLessThanOrEqual(5);
    expect(r.stderr).toContain('HTTP 429');
  });

  it('500 is not retried: the collector rejected the data, sending it again cannot help', async () => {
    const r = await oneBatch('refuse500', 'mjs');
    expect(r.attempts).toBe(1);
    expect(r.stderr).toContain('HTTP 500');
  });
});
