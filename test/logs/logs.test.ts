/**
 * Log correlation with no code change: the fixture logs with pino, winston,
 * bunyan and console at startup and inside one traced request; the ids in the
 * output must be exactly the server span's, only inside the request, and only
 * for the loggers the configuration turns on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, one, type OtlpReceiver, type RecvSpan } from '../harness/otlp-receiver';
import { runFixture, VARIANTS, type FixtureResult } from '../harness/fixture';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

type Source = 'pino' | 'winston' | 'bunyan' | 'console' | 'console-json';
type Where = 'startup' | 'request';
interface Ids {
  trace_id?: unknown;
  span_id?: unknown;
  trace_flags?: unknown;
}
interface Line {
  source: Source;
  where: Where;
  stream: 'stdout' | 'stderr';
  /** console lines: the text without the appended ids */
  text: string;
  ids: Ids;
}

const SUFFIX = / trace_id=([0-9a-f]{32}) span_id=([0-9a-f]{16}) trace_flags=([0-9a-f]{2})$/;

function parse(r: FixtureResult): Line[] {
  const out: Line[] = [];
  for (const [stream, text] of [
    ['stdout', r.stdout],
    ['stderr', r.stderr],
  ] as const) {
    for (const raw of text.split('\n')) {
      if (raw.startsWith('{')) {
        const o = JSON.parse(raw) as Record<string, unknown> & Ids;
        const ids: Ids = {};
        for (const k of ['trace_id', 'span_id', 'trace_flags'] as const) if (k in o) ids[k] = o[k];
        out.push({ source: o.logger as Source, where: o.where as Where, stream, text: raw, ids });
      } else if (raw.startsWith('console ')) {
        const m = SUFFIX.exec(raw);
        const line = m ? raw.slice(0, m.index) : raw;
        out.push({
          source: 'console',
          where: line.split(' ')[1] as Where,
          stream,
          text: line,
          ids: m ? { trace_id: m[1], span_id: m[2], trace_flags: m[3] } : {},
        });
      }
    }
  }
  return out;
}

/** What each console call in the fixture prints, ids aside: console's own formatting, unchanged. */
const consoleTexts = (where: Where, orderId: string): [string, 'stdout' | 'stderr'][] => [
  [`console ${where} order ${orderId}`, 'stdout'],
  [`console ${where} { orderId: '${orderId}', items: [ 1, 2 ] }`, 'stdout'],
  [`console ${where} error line`, 'stderr'],
  [`console ${where} unfilled one and %s`, 'stdout'],
  [`console ${where} literal 100%s`, 'stdout'],
  [`console ${where} percent 50%`, 'stdout'],
];

interface Run {
  r: FixtureResult;
  lines: Line[];
  server: RecvSpan | undefined;
  spans: RecvSpan[];
}

/** Spans arrive in one export at exit (long batch delay): no dependence on how exports and the exit interleave. */
async function run(ext: string, tag: string, env: Record<string, string> = {}): Promise<Run> {
  const service = `logs-${tag}-${ext}`;
  const r = await runFixture({ fixture: `logs/app.${ext}`, endpoint: rx.url, env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '60000', ...env } });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).not.toContain('[otel-agent]');
  const spans = rx.spans().filter((s) => s.resource['service.name'] === service);
  const servers = spans.filter((s) => s.kind === 'SERVER');
  const lines = parse(r);
  // Every logger wrote both of its records, whatever the configuration.
  for (const source of ['pino', 'winston', 'bunyan', 'console-json'] as const) {
    for (const where of ['startup', 'request'] as const)
      expect(
        lines.filter((l) => l.source === source && l.where === where),
        `${source} ${where}`,
      ).toHaveLength(1);
  }
  for (const where of ['startup', 'request'] as const) {
    const got = lines.filter((l) => l.source === 'console' && l.where === where).map((l) => [l.text, l.stream]);
    expect(got.sort()).toEqual(consoleTexts(where, where === 'startup' ? '-' : '7').sort());
  }
  return { r, lines, server: servers.length ? one(servers, 'GET /orders/:id') : undefined, spans };
}

const of = (lines: Line[], source: Source, where: Where): Line[] => lines.filter((l) => l.source === source && l.where === where);

/** Sampled (0x01) and random trace id (0x02, W3C Level 2): the traces these requests start are the agent's own. */
function expectCorrelated(run: Run, source: Source, flags = '03'): void {
  const server = run.server!;
  expect(server, 'server span').toBeDefined();
  for (const l of of(run.lines, source, 'request')) {
    expect(l.ids, `${source}: ${l.text}`).toEqual({ trace_id: server.traceId, span_id: server.spanId, trace_flags: flags });
  }
  // Outside a request there is no active span: no ids, not even empty ones.
  for (const l of of(run.lines, source, 'startup')) expect(l.ids, `${source} at startup: ${l.text}`).toEqual({});
}

function expectUncorrelated(run: Run, source: Source): void {
  for (const l of run.lines.filter((x) => x.source === source)) expect(l.ids, `${source} ${l.where}: ${l.text}`).toEqual({});
}

describe.each(VARIANTS)('log correlation (%s)', (ext) => {
  it('by default pino, winston and bunyan records in a request carry the server span ids; console is left alone', async () => {
    const r = await run(ext, 'default');
    for (const s of ['pino', 'winston', 'bunyan'] as const) expectCorrelated(r, s);
    expectUncorrelated(r, 'console');
    expectUncorrelated(r, 'console-json');
  });

  it('OTEL_AGENT_LOG_CORRELATION=console appends the ids to console lines in a request, as fields to JSON lines', async () => {
    const r = await run(ext, 'console', { OTEL_AGENT_LOG_CORRELATION: 'console' });
    expectCorrelated(r, 'console');
    expectCorrelated(r, 'console-json');
    // The JSON line is still one JSON object, with the app's fields first.
    const json = of(r.lines, 'console-json', 'request')[0]!;
    expect(Object.keys(JSON.parse(json.text) as object)).toEqual(['logger', 'where', 'orderId', 'trace_id', 'span_id', 'trace_flags']);
    // The variable is the list of correlated loggers: naming only console turns the others off.
    for (const s of ['pino', 'winston', 'bunyan'] as const) expectUncorrelated(r, s);
  });

  it('all four together', async () => {
    const r = await run(ext, 'all', { OTEL_AGENT_LOG_CORRELATION: 'pino,winston,bunyan,console' });
    for (const s of ['pino', 'winston', 'bunyan', 'console', 'console-json'] as const) expectCorrelated(r, s);
  });

  it('OTEL_AGENT_LOG_CORRELATION=none turns all of them off, tracing goes on', async () => {
    const r = await run(ext, 'none', { OTEL_AGENT_LOG_CORRELATION: 'none' });
    expect(r.server).toBeDefined();
    for (const s of ['pino', 'winston', 'bunyan', 'console', 'console-json'] as const) expectUncorrelated(r, s);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=pino turns off pino only', async () => {
    const r = await run(ext, 'nopino', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pino' });
    expectUncorrelated(r, 'pino');
    expectCorrelated(r, 'winston');
    expectCorrelated(r, 'bunyan');
  });

  it('a sampled-out request: loggers get the ids with trace_flags=02 (random id, not sampled), console lines get nothing', async () => {
    const r = await run(ext, 'unsampled', { OTEL_AGENT_LOG_CORRELATION: 'pino,winston,bunyan,console', OTEL_TRACES_SAMPLER: 'always_off' });
    expect(r.spans).toEqual([]);
    const pino = of(r.lines, 'pino', 'request')[0]!;
    expect(pino.ids.trace_flags).toBe('02');
    expect(pino.ids.trace_id).toMatch(/^[0-9a-f]{32}$/);
    for (const s of ['winston', 'bunyan'] as const) expect(of(r.lines, s, 'request')[0]!.ids).toEqual(pino.ids);
    expectUncorrelated(r, 'console');
    expectUncorrelated(r, 'console-json');
  });

  it('OTEL_SDK_DISABLED=true: no ids anywhere, even with console named', async () => {
    const r = await run(ext, 'disabled', { OTEL_SDK_DISABLED: 'true', OTEL_AGENT_LOG_CORRELATION: 'pino,winston,bunyan,console' });
    expect(r.spans).toEqual([]);
    for (const s of ['pino', 'winston', 'bunyan', 'console', 'console-json'] as const) expectUncorrelated(r, s);
  });
});
