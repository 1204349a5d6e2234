/**
 * CLIENT sampling rules end to end, on what the receiver and the called services got: a file
 * that drops the calls to one URL pattern and to one host:port, for http.get, fetch and HTTP/2
 * (test/fixtures/sampling/client-calls.*), both as roots (at startup) and inside a sampled
 * SERVER span. Dropped calls make no CLIENT span and send an unsampled traceparent of the same
 * trace; the other calls are traced as before; the exit summary counts each rule.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf, startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { startFixture, VARIANTS } from '../harness/fixture';
import { send, spansOf, startDownstream, traceparent, type Downstream, type SeenRequest } from '../http/helpers';

interface H2Service {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** An h2c service that records every request's headers and answers 200. */
async function startH2(): Promise<H2Service> {
  const seen: SeenRequest[] = [];
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    seen.push({ method: String(headers[':method']), url: String(headers[':path']), headers: headers as SeenRequest['headers'] });
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

let rx: OtlpReceiver;
let dir: string;
beforeAll(async () => {
  rx = await startOtlpReceiver();
  dir = mkdtempSync(join(tmpdir(), 'otel-agent-client-rules-'));
});
afterAll(async () => {
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

const CLIENTS = ['http', 'fetch', 'h2'] as const;

describe.each(VARIANTS)('CLIENT sampling rules (%s)', (ext) => {
  let a: Downstream;
  let b: Downstream;
  let h2: H2Service;
  // Fresh services per variant: each sees the same paths.
  beforeAll(async () => {
    a = await startDownstream();
    b = await startDownstream();
    h2 = await startH2();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await h2.close();
  });

  it('drop rules on url.full and on server.address/server.port drop those calls only, under a sampled parent and as roots', async () => {
    const service = `client-rules-${ext}`;
    const file = join(dir, `client-rules-${ext}.yaml`);
    writeFileSync(
      file,
      `file_format: "1.1"
log_level: info
resource:
  attributes: [{ name: service.name, value: ${service} }]
propagator:
  composite: [{ tracecontext: }]
tracer_provider:
  processors:
    - batch:
        schedule_delay: 50
        exporter:
          otlp_http:
            endpoint: ${rx.url}/v1/traces
  sampler:
    rule_based/development:
      rules:
        - action: drop
          span_kind: client
          attributes:
            url.full: http://127.0.0.1:*/drop/*
        - action: drop
          span_kind: client
          attributes:
            server.address: 127.0.0.1
            server.port: ${b.port}
      fallback:
        parent_based:
          root:
            always_on:
`,
    );
    const f = startFixture({ fixture: `sampling/client-calls.${ext}`, env: { OTEL_CONFIG_FILE: file, A: a.url, B: b.url, H2: h2.url } });
    const port = Number((await f.ready).split(' ')[1]);
    const work = await send(`http://127.0.0.1:${port}/work`);
    expect(work.body).toBe(JSON.stringify(Array(8).fill(200)));
    await send(`http://127.0.0.1:${port}/quit`, { method: 'POST' });
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => / warning:/.test(l))).toEqual([]);

    const spans = spansOf(rx, service);
    const clients = spans.filter((s) => s.kind === 'CLIENT');
    const pathOf = (u: unknown) => new URL(String(u)).pathname;
    // Only the calls no rule matched, from every client, in both places.
    expect(clients.map((s) => pathOf(s.attributes['url.full'])).sort()).toEqual(
      ['root', 'req'].flatMap((tag) => CLIENTS.map((c) => `/keep/${c}-${tag}`)).sort(),
    );
    const server = spans.find((s) => s.kind === 'SERVER' && s.attributes['url.path'] === '/work')!;
    expect(server).toBeDefined();
    expect(
      childrenOf(spans, server)
        .filter((s) => s.kind === 'CLIENT')
        .map((s) => pathOf(s.attributes['url.full']))
        .sort(),
    ).toEqual(CLIENTS.map((c) => `/keep/${c}-req`).sort());

    // What the called services saw: kept calls carry their CLIENT span, sampled; dropped ones an
    // unsampled traceparent, of the request's trace inside /work.
    const seen = (path: string): SeenRequest => {
      const all = [...a.seen, ...b.seen, ...h2.seen].filter((s) => s.url === path);
      expect(all, path).toHaveLength(1);
      return all[0]!;
    };
    for (const tag of ['root', 'req']) {
      for (const c of CLIENTS) {
        const kept = traceparent(seen(`/keep/${c}-${tag}`).headers.traceparent);
        const span = clients.find((s) => pathOf(s.attributes['url.full']) === `/keep/${c}-${tag}`)!;
        // 03: sampled, random trace id (the agent started the trace).
        expect(kept, `/keep/${c}-${tag}`).toEqual({ traceId: span.traceId, parentId: span.spanId, flags: '03' });
        const dropped = [`/drop/${c}-${tag}`, ...(c === 'h2' ? [] : [`/b/${c}-${tag}`])];
        for (const p of dropped) {
          const tp = traceparent(seen(p).headers.traceparent);
          expect(tp.flags, p).toBe('02'); // not sampled, random trace id
          if (tag === 'req') expect(tp.traceId, p).toBe(server.traceId);
          // No span anywhere has the id the called service was given as its parent.
          expect(spans.some((s) => s.spanId === tp.parentId)).toBe(false);
        }
      }
    }
    expect(r.stderr).toContain(
      `sampling rules: rule 1 (drop client url.full=http://127.0.0.1:*/drop/*): 6 dropped; rule 2 (drop client server.address=127.0.0.1 server.port=${b.port}): 4 dropped`,
    );
  });
});
