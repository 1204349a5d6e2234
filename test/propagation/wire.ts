/**
 * Test-side tools for the propagation tests. They run in the vitest process,
 * which has no agent: what they record is exactly what the traced fixture sent.
 * The header checks are written from RFC 9110 here, not taken from the agent.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { startFixture, type RunningFixture } from '../harness/fixture';
import type { OtlpReceiver, RecvSpan } from '../harness/otlp-receiver';
import { spansOf } from '../http/helpers';

/** RFC 9110 5.6.2: token = 1*tchar. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 5.5: field-value = *field-content; visible ASCII, obs-text, SP and HTAB inside, no CTLs. */
export const FIELD_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;

export interface Seen {
  path: string;
  /** As on the wire, in order, names in their original case (latin1 strings: one char per byte). */
  raw: [string, string][];
  /** Lower-case name -> value (joined with ', ' when repeated). */
  headers: Record<string, string>;
}

export interface Recorder {
  url: string;
  seen: Seen[];
  /** The requests whose path starts with `prefix`. */
  to(prefix: string): Seen[];
  close(): Promise<void>;
}

/** A downstream service that answers 200 to everything and records each request's raw headers. */
export async function startRecorder(): Promise<Recorder> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    const raw: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) raw.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
    const headers: Record<string, string> = {};
    for (const [k, v] of raw) {
      const n = k.toLowerCase();
      headers[n] = headers[n] === undefined ? v : `${headers[n]}, ${v}`;
    }
    seen.push({ path: req.url ?? '', raw, headers });
    req.resume();
    res.end('ok');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    to: (prefix) => seen.filter((s) => s.path.startsWith(prefix)),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Header lines of `s` that are not a valid RFC 9110 field line: [] when all are. */
export function invalidLines(s: Seen): string[] {
  return s.raw.filter(([k, v]) => !TOKEN.test(k) || !FIELD_VALUE.test(v)).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`);
}

export interface Reply {
  status: number;
  body: string;
  error?: string;
}

/**
 * One GET with exactly these header lines. Values are latin1 strings, so a
 * test can put raw UTF-8 bytes on the wire (Buffer.from(s).toString('latin1')).
 */
export function get(port: number, path: string, headers: [string, string][] = []): Promise<Reply> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, agent: false, headers: ['host', `127.0.0.1:${port}`, ...headers.flat(), 'connection', 'close'], timeout: 15_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (e) => resolve({ status: 0, body, error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
    req.end();
  });
}

export interface Relay {
  port: number;
  fixture: RunningFixture;
  /** POST /quit, then the process's exit. */
  stop(): Promise<{ code: number | null; stderr: string }>;
}

/** Starts test/fixtures/propagation/relay.<ext> under the agent, calling `downstream`. */
export async function startRelay(ext: string, endpoint: string, downstream: string, env: Record<string, string>): Promise<Relay> {
  const fixture = startFixture({
    fixture: `propagation/relay.${ext}`,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint,
    env: { DOWNSTREAM: downstream, ...env },
  });
  const port = Number((await fixture.ready).split(' ')[1]);
  return {
    port,
    fixture,
    stop: async () => {
      await new Promise<void>((r) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/quit', method: 'POST', agent: false }, (res) => {
          res.resume();
          res.on('end', r);
        });
        req.on('error', () => r());
        req.end();
      });
      const res = await fixture.result;
      return { code: res.code, stderr: res.stderr };
    },
  };
}

/** The latin1 string whose chars are the UTF-8 bytes of `s` (how Node represents raw header bytes). */
export const utf8Bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

export interface RelayRun {
  replies: Reply[];
  /** This service's spans, each once, all delivered (the process has exited). */
  spans: RecvSpan[];
  code: number | null;
  stderr: string;
  /** What the downstream saw for request `tag`, by fetch() and by http.get(). */
  out(tag: string): { fetch: Seen; http: Seen };
}

/** Runs the relay, sends GET /relay/<tag> with each header set in turn, stops it and collects what it did. */
export async function runRelay(
  rx: OtlpReceiver,
  down: Recorder,
  o: { ext: string; service: string; propagators: string; env?: Record<string, string> },
  requests: { tag: string; headers: [string, string][] }[],
): Promise<RelayRun> {
  const relay = await startRelay(o.ext, rx.url, down.url, { OTEL_SERVICE_NAME: o.service, OTEL_PROPAGATORS: o.propagators, ...o.env });
  const replies: Reply[] = [];
  for (const r of requests) replies.push(await get(relay.port, `/relay/${o.service}-${r.tag}`, r.headers));
  const { code, stderr } = await relay.stop();
  return {
    replies,
    spans: spansOf(rx, o.service),
    code,
    stderr,
    out(tag) {
      const one = (p: string): Seen => {
        const s = down.to(`/${p}/${o.service}-${tag}`);
        if (s.length !== 1) throw new Error(`${s.length} ${p} requests for ${tag}`);
        return s[0]!;
      };
      return { fetch: one('fetch'), http: one('http') };
    },
  };
}

/** The SERVER span of request `tag` and the CLIENT spans it made (fetch and http). */
export function spansFor(run: RelayRun, service: string, tag: string): { server?: RecvSpan; clients: RecvSpan[] } {
  const path = `/relay/${service}-${tag}`;
  return {
    server: run.spans.find((s) => s.kind === 'SERVER' && s.attributes['url.path'] === path),
    clients: run.spans.filter((s) => s.kind === 'CLIENT' && String(s.attributes['url.full']).endsWith(`/${service}-${tag}`)),
  };
}
