/**
 * WebSocket upgrades (the real `ws` package, server and client): the server's 'upgrade' gets a
 * SERVER span continuing the client's traceparent, ended when the upgrade is answered (101, or
 * the refusal's status), with the connection's first work under it; an `http.request` with
 * `Upgrade` (the ws client) gets a CLIENT span that ends at 'upgrade' with 101.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startFixture, VARIANTS } from '../harness/fixture';
import { childrenOf, one, startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { send, spansOf } from './helpers';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

let rx: OtlpReceiver;
beforeAll(async () => {
  rx = await startOtlpReceiver();
});
afterAll(async () => {
  await rx.close();
});

/** Opens a WebSocket from the test process (no agent), sends one message, waits for the echo, closes. */
function echo(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => ws.send('ping'));
    ws.on('message', (m: unknown) => {
      ws.close();
      resolve(String(m));
    });
    ws.on('error', reject);
  });
}

/** A refused upgrade: the status the server answered with. */
function refused(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req: unknown, res: { statusCode?: number }) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (e: Error) => (/401/.test(e.message) ? resolve(401) : reject(e)));
    ws.on('open', () => reject(new Error('upgrade was accepted')));
  });
}

describe.each(VARIANTS)('WebSocket upgrades (%s)', (ext) => {
  it('SERVER span per upgrade, continuing traceparent, 101 or the refusal status; ws client CLIENT span with 101', async () => {
    const service = `websocket-${ext}`;
    const f = startFixture({
      fixture: `http/websocket.${ext}`,
      mode: ext === 'cjs' ? 'require' : 'import',
      endpoint: rx.url,
      env: { OTEL_SERVICE_NAME: service },
    });
    const port = Number((await f.ready).split(' ')[1]);
    const base = `127.0.0.1:${port}`;
    try {
      expect(await echo(`ws://${base}/chat`, { traceparent: `00-${TRACE}-${PARENT}-01` })).toBe('ping');
      expect(await refused(`ws://${base}/private`)).toBe(401);
      const dial = await send(`http://${base}/dial`);
      expect(dial.body).toBe('echo hi');
    } finally {
      await send(`http://${base}/quit`, { method: 'POST' }).catch(() => f.child.kill('SIGTERM'));
    }
    const r = await f.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const spans = spansOf(rx, service);

    // The test's own WebSocket: its trace continued, 101, the 'connection' handler's fs call under it.
    const chat = spans.find((s) => s.kind === 'SERVER' && s.traceId === TRACE)!;
    expect(chat.name).toBe('GET /chat');
    expect(chat.parentSpanId).toBe(PARENT);
    expect(chat.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/chat', 'http.response.status_code': 101 });
    expect(chat.status.code).toBe('UNSET');
    expect(childrenOf(spans, chat).map((s) => `${s.kind} ${s.name}`)).toEqual(['INTERNAL fs readFileSync']);

    const priv = one(spans, 'GET /private');
    expect(priv.kind).toBe('SERVER');
    expect(priv.attributes['http.response.status_code']).toBe(401);
    expect(priv.status.code).toBe('UNSET');

    // GET /dial -> CLIENT (the ws client's http.request with Upgrade) -> SERVER GET /chat, one trace.
    const dialSpan = one(spans, 'GET /dial');
    const client = one(childrenOf(spans, dialSpan), /^GET http:\/\/127\.0\.0\.1:\d+\/chat$/);
    expect(client.kind).toBe('CLIENT');
    expect(client.attributes['http.response.status_code']).toBe(101);
    expect(client.status.code).toBe('UNSET');
    const inner = childrenOf(spans, client);
    expect(inner.map((s) => `${s.kind} ${s.name}`)).toEqual(['SERVER GET /chat']);
    expect(inner[0]!.attributes['http.response.status_code']).toBe(101);
    // Without the 'upgrade' event ending it, the CLIENT span would have no status: no 'response' ever comes.
  });
});
