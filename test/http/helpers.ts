/**
 * Test-side HTTP tools. They run in the vitest process, which has no agent:
 * what they see on the wire is exactly what the traced fixture sent.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OtlpReceiver, RecvSpan } from '../harness/otlp-receiver';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection (no keep-alive, so a fixture's server.close() is never held up by us). */
export function send(url: string, o: { method?: string; headers?: Record<string, string>; body?: string; ca?: string | Buffer } = {}): Promise<Reply> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      { method: o.method ?? 'GET', headers: { connection: 'close', ...o.headers }, agent: false, ca: o.ca, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${u.pathname} within 10 s`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface Downstream {
  url: string;
  port: number;
  seen: SeenRequest[];
  /** Requests whose path starts with `prefix`. */
  to(prefix: string): SeenRequest[];
  close(): Promise<void>;
}

/**
 * A downstream service that records every request's headers.
 * `/hang...` never answers (for client timeouts), `/status/<n>` answers n, anything else 200.
 */
export async function startDownstream(tls?: { key: Buffer; cert: Buffer }): Promise<Downstream> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    if (req.url?.startsWith('/hang')) return;
    const m = /^\/status\/(\d{3})/.exec(req.url ?? '');
    res.statusCode = m ? Number(m[1]) : 200;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true }));
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    seen,
    to: (prefix) => seen.filter((s) => s.url.startsWith(prefix)),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface TestCert {
  key: Buffer;
  cert: Buffer;
  keyPath: string;
  certPath: string;
  cleanup(): void;
}

/**
 * A self-signed certificate for 127.0.0.1/localhost, made with the openssl CLI.
 * Without openssl the HTTPS tests are skipped loudly (and fail in CI).
 */
export function makeCert(): TestCert | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'otel-http-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const msg = `openssl could not make a test certificate (${(e as Error).message}); the HTTPS tests are SKIPPED`;
    if (process.env.CI === 'true') throw new Error(`CI=true and ${msg}`, { cause: e });
    console.warn(`\n!!! ${msg}\n`);
    return undefined;
  }
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), keyPath, certPath, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * One service's spans, each once. The agent's exit flush re-sends a batch whose
 * export was still in flight when the app exited (at-least-once, by design), so
 * the receiver may hold a span twice; a backend keeps one per span id too.
 */
export function spansOf(rx: OtlpReceiver, service: string): RecvSpan[] {
  const seen = new Set<string>();
  return rx.spans().filter((s) => {
    const id = `${s.traceId}/${s.spanId}`;
    if (s.resource['service.name'] !== service || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Parses a W3C traceparent header into its ids. */
export function traceparent(v: unknown): { traceId: string; parentId: string; flags: string } {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(String(v));
  if (!m) throw new Error(`not a traceparent: ${String(v)}`);
  return { traceId: m[1]!, parentId: m[2]!, flags: m[3]! };
}

/** Attributes the old (pre-1.23) HTTP semantic conventions used; none may appear. */
export const OLD_HTTP_ATTRIBUTES = [
  'http.method',
  'http.url',
  'http.target',
  'http.host',
  'http.scheme',
  'http.status_code',
  'http.flavor',
  'http.user_agent',
  'http.client_ip',
  'http.server_name',
  'http.request_content_length_uncompressed',
  'http.response_content_length_uncompressed',
  'net.host.name',
  'net.host.port',
  'net.peer.name',
  'net.peer.ip',
  'net.peer.port',
  'net.transport',
];

/** Where `marker` occurs in any span's name, attributes, events, status or resource: [] when nowhere. */
export function leaks(spans: RecvSpan[], marker: string): string[] {
  const out: string[] = [];
  const scan = (where: string, v: unknown): void => {
    if (typeof v === 'string') {
      if (v.includes(marker)) out.push(`${where} = ${v}`);
    } else if (Array.isArray(v)) v.forEach((x, i) => scan(`${where}[${i}]`, x));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) scan(`${where}.${k}`, x);
  };
  for (const s of spans) {
    scan(`${s.name}: name`, s.name);
    scan(`${s.name}: attributes`, s.attributes);
    scan(`${s.name}: events`, s.events);
    scan(`${s.name}: status`, s.status);
    scan(`${s.name}: resource`, s.resource);
  }
  return out;
}
