/**
 * The driver behind pg-context.test.ts and mysql2-context.test.ts: starts a
 * context fixture (test/fixtures/db/*-context.*), sends its requests from the
 * test process (so their traceparent headers arrive as sent), stops it.
 */
import { expect } from 'vitest';
import type { OtlpReceiver } from '../harness/otlp-receiver';
import { startFixture } from '../harness/fixture';
import { expectOk } from './helpers';

export interface Seen {
  request: string;
  case: string;
  echo: string;
  store: string | null;
}

export const traceId = (n: number): string => String(n).padStart(32, '0');
const tp = (n: number, sampled: boolean): string => `00-${traceId(n)}-${'1'.repeat(16)}-${sampled ? '01' : '00'}`;

export async function driveContextFixture(
  rx: OtlpReceiver,
  fixture: string,
  agent: boolean,
  service: string,
  opts: { env?: Record<string, string>; beforeShutdown?: () => Promise<void> } = {},
): Promise<Seen[]> {
  const f = startFixture({ fixture, endpoint: rx.url, mode: agent ? undefined : 'none', env: { OTEL_SERVICE_NAME: service, ...opts.env } });
  const port = Number((await f.ready).split(' ')[1]);
  const get = async (path: string, n: number, sampled: boolean, id: string): Promise<Seen[]> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { traceparent: tp(n, sampled), 'x-request': id } });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    return (JSON.parse(body) as Omit<Seen, 'request'>[]).map((s) => ({ request: id, ...s }));
  };
  const out: Seen[] = [];
  out.push(...(await get('/a', 1, true, 'a1')));
  out.push(...(await get('/a', 2, false, 'a2')));
  // /hold takes the pool's only client and releases it once /wait's query is queued.
  out.push(...(await Promise.all([get('/hold', 3, true, 'h3'), get('/wait', 4, false, 'w4')])).flat());
  out.push(...(await Promise.all([get('/hold', 5, false, 'h5'), get('/wait', 6, true, 'w6')])).flat());
  await opts.beforeShutdown?.();
  await fetch(`http://127.0.0.1:${port}/shutdown`);
  const r = await f.result;
  expectOk(r);
  return out;
}

/** What the app called out to from each case: the issuing request's trace, with its sampled flag. */
export function expectCallerTraces(seen: Seen[], sampled: readonly string[]): void {
  for (const s of seen) {
    const [, trace, , flags] = s.echo.split('-');
    expect({ at: `${s.request} ${s.case}`, trace, sampled: (parseInt(flags!, 16) & 1) === 1 }).toEqual({
      at: `${s.request} ${s.case}`,
      trace: traceId(Number(s.request.slice(1))),
      sampled: sampled.includes(s.request),
    });
  }
}

/** Polls until pred holds (the exporter sends on its own schedule); fails after timeoutMs. */
export async function eventually(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
