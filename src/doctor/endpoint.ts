/**
 * Does the configured exporter endpoint accept spans?
 *
 * OTLP/HTTP: POST an empty ExportTraceServiceRequest (zero bytes in protobuf,
 * `{}` in JSON, both valid and carrying no spans) with the configured headers,
 * compression and TLS files, and expect a 2xx. OTLP/gRPC: a TCP (or TLS)
 * connect, then the same empty request as a unary Export call through
 * the @grpc/grpc-js copy bundled in dist/vendor/grpc.cjs, the one the agent's gRPC
 * exporter uses. Zipkin: POST `[]`.
 *
 * Header values are sent, never reported.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AgentConfig } from '../env';
import { describeUrl, readTls } from '../exporters/transport';

export interface EndpointCheck {
  exporter: 'otlp' | 'zipkin';
  protocol: string;
  /** Without credentials or query. */
  url: string;
  reachable: boolean;
  /** The endpoint accepted an (empty) export request. */
  accepts: boolean;
  status?: number | string;
  connectMs?: number;
  totalMs?: number;
  error?: string;
  hint?: string;
}

const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

function ms(t0: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - t0) / 1e5) / 10;
}

function networkHint(code: string | undefined, u: URL, protocol: string): string | undefined {
  const where = `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`;
  switch (code) {
    case 'ECONNREFUSED':
      return `nothing listens on ${where}: is the collector running, and is this the right host and port?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name ${u.hostname} does not resolve`;
    case 'ETIMEDOUT':
    case 'TIMEOUT':
      return `no answer from ${where}: a firewall, a wrong address, or an overloaded collector`;
    case 'ECONNRESET':
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_VERSION':
      if (protocol === 'zipkin') return `the server at ${where} did not answer in HTTP/1.1 (wrong port, or https vs http?)`;
      return (
        `the server at ${where} did not answer in HTTP/1.1: if it is an OTLP/gRPC port (usually 4317), ` +
        'set OTEL_EXPORTER_OTLP_PROTOCOL=grpc or use the OTLP/HTTP port (usually 4318); or is it https?'
      );
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'TLS handshake failed: is this an http:// endpoint given as https:// (or the reverse)?';
    default:
      if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
        return "the server's TLS certificate is not trusted: point OTEL_EXPORTER_OTLP_CERTIFICATE at the CA that signed it";
      }
      return undefined;
  }
}

function statusHint(status: number, u: URL, cfg: AgentConfig, protocol: string): string | undefined {
  if (status === 401 || status === 403) return 'the endpoint refused the credentials: check OTEL_EXPORTER_OTLP_HEADERS (values are not shown)';
  if (status === 404) {
    if (/\/v1\/traces\/v1\/traces$/.test(u.pathname))
      return 'OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: remove /v1/traces from it (or set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT to the full URL)';
    if (cfg.sources['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.source === 'env' && !u.pathname.endsWith('/v1/traces')) {
      return 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is: did you mean to end it with /v1/traces?';
    }
    return 'no OTLP traces receiver at this path';
  }
  if (status === 415)
    return `the endpoint does not accept ${protocol}: try OTEL_EXPORTER_OTLP_PROTOCOL=${protocol === 'http/json' ? 'http/protobuf' : 'http/json'}`;
  if (status === 400) return 'the endpoint could not read an empty OTLP request: is it an OTLP receiver?';
  if (status === 429 || status === 503) return 'the endpoint is overloaded or throttling right now';
  return undefined;
}

function httpPost(
  target: string,
  body: Buffer,
  headers: Record<string, string>,
  tlsOpts: { ca?: Buffer; cert?: Buffer; key?: Buffer },
  timeoutMs: number,
): Promise<{ status?: number; connectMs?: number; totalMs: number; code?: string; error?: string }> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let connectMs: number | undefined;
    let done = false;
    const finish = (r: { status?: number; code?: string; error?: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, connectMs, totalMs: ms(t0) });
    };
    const isHttps = target.startsWith('https:');
    const mod = isHttps ? https : http;
    const req = mod.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': body.length, 'user-agent': 'x-otel-agent-doctor' },
        agent: false,
        ...(isHttps ? tlsOpts : {}),
      },
      (res) => {
        res.resume();
        res.on('end', () => finish({ status: res.statusCode }));
        res.on('error', (e: NodeJS.ErrnoException) => finish({ status: res.statusCode, code: e.code, error: e.message }));
      },
    );
    req.on('socket', (s: net.Socket) => {
      s.once(isHttps ? 'secureConnect' : 'connect', () => (connectMs = ms(t0)));
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ code: e.code, error: e.code ? `${e.code} ${e.message}` : e.message }));
    const timer = setTimeout(() => {
      finish({ code: 'TIMEOUT', error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.end(body);
  });
}

async function checkHttp(cfg: AgentConfig, timeoutMs: number): Promise<EndpointCheck> {
  const o = cfg.otlp;
  const json = o.protocol === 'http/json';
  const u = new URL(o.endpoint);
  const out: EndpointCheck = { exporter: 'otlp', protocol: o.protocol, url: describeUrl(o.endpoint), reachable: false, accepts: false };
  let raw: Buffer = json ? Buffer.from('{}') : Buffer.alloc(0);
  const headers: Record<string, string> = { ...o.headers, 'content-type': json ? 'application/json' : 'application/x-protobuf' };
  if (o.compression === 'gzip') {
    raw = gzipSync(raw);
    headers['content-encoding'] = 'gzip';
  }
  let tlsOpts: ReturnType<typeof readTls>;
  try {
    tlsOpts = readTls(o);
  } catch (e) {
    out.error = (e as Error).message;
    out.hint = 'the TLS files named by OTEL_EXPORTER_OTLP_*CERTIFICATE / *CLIENT_KEY must be readable PEM files';
    return out;
  }
  const r = await httpPost(o.endpoint, raw, headers, tlsOpts, timeoutMs);
  out.connectMs = r.connectMs;
  out.totalMs = r.totalMs;
  if (r.status === undefined) {
    out.reachable = r.connectMs !== undefined;
    out.error = r.error;
    out.hint = networkHint(r.code, u, o.protocol);
    return out;
  }
  out.reachable = true;
  out.status = r.status;
  out.accepts = r.status >= 200 && r.status < 300;
  if (!out.accepts) {
    out.error = `HTTP ${r.status}`;
    out.hint = statusHint(r.status, u, cfg, o.protocol);
  }
  return out;
}

interface GrpcModule {
  credentials: { createSsl(ca: Buffer | null, key: Buffer | null, cert: Buffer | null): unknown; createInsecure(): unknown };
  Metadata: new () => { set(k: string, v: string): void };
  Client: new (
    address: string,
    creds: unknown,
    options?: Record<string, unknown>,
  ) => {
    makeUnaryRequest(
      path: string,
      ser: (b: Buffer) => Buffer,
      de: (b: Buffer) => Buffer,
      arg: Buffer,
      md: unknown,
      opts: { deadline: number },
      cb: (err: (Error & { code?: number; details?: string }) | null) => void,
    ): unknown;
    close(): void;
  };
  status: Record<string, number | string>;
}

const GRPC_CODES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};

function tcpConnect(
  host: string,
  port: number,
  secure: boolean,
  tlsOpts: { ca?: Buffer },
  timeoutMs: number,
): Promise<{ ms?: number; code?: string; error?: string }> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const s = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca: tlsOpts.ca, ALPNProtocols: ['h2'] })
      : net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ code: 'TIMEOUT', error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    s.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      const t = ms(t0);
      s.destroy();
      resolve({ ms: t });
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: e.code, error: e.code ? `${e.code} ${e.message}` : e.message });
    });
  });
}

/**
 * The agent's gRPC exporter uses the @grpc/grpc-js copy the build bundles into
 * dist/vendor/grpc.cjs (scripts/build.mjs, SHARED), not a package from node_modules,
 * which an installed agent does not have: check with that same copy.
 */
function loadGrpc(distDir: string): GrpcModule | string {
  try {
    return require(join(distDir, 'vendor', 'grpc.cjs')) as GrpcModule;
  } catch (e) {
    return `OTEL_EXPORTER_OTLP_PROTOCOL=grpc: the gRPC client bundled with @x/otel-agent did not load (${(e as Error).message}); reinstall @x/otel-agent, or use http/protobuf`;
  }
}

async function checkGrpc(cfg: AgentConfig, timeoutMs: number, distDir: string): Promise<EndpointCheck> {
  const o = cfg.otlp;
  const u = new URL(o.endpoint);
  const secure = u.protocol === 'https:';
  const port = Number(u.port || (secure ? 443 : 4317));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const out: EndpointCheck = { exporter: 'otlp', protocol: 'grpc', url: `${u.protocol}//${u.host}`, reachable: false, accepts: false };
  let tlsOpts: ReturnType<typeof readTls>;
  try {
    tlsOpts = readTls(o);
  } catch (e) {
    out.error = (e as Error).message;
    return out;
  }
  const t = await tcpConnect(host, port, secure, tlsOpts, timeoutMs);
  out.connectMs = t.ms;
  if (t.ms === undefined) {
    out.error = t.error;
    out.hint = networkHint(t.code, u, 'grpc');
    return out;
  }
  out.reachable = true;
  const grpc = loadGrpc(distDir);
  if (typeof grpc === 'string') {
    out.error = grpc;
    return out;
  }
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const creds = secure ? grpc.credentials.createSsl(tlsOpts.ca ?? null, tlsOpts.key ?? null, tlsOpts.cert ?? null) : grpc.credentials.createInsecure();
  const client = new grpc.Client(address, creds, o.compression === 'gzip' ? { 'grpc.default_compression_algorithm': 2 } : {});
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(o.headers)) md.set(k, v);
  const t0 = process.hrtime.bigint();
  const err = await new Promise<(Error & { code?: number; details?: string }) | null>((resolve) =>
    client.makeUnaryRequest(
      GRPC_PATH,
      (b) => b,
      (b) => b,
      Buffer.alloc(0),
      md,
      { deadline: Date.now() + timeoutMs },
      resolve,
    ),
  );
  out.totalMs = ms(t0);
  client.close();
  if (!err) {
    out.accepts = true;
    out.status = 'OK';
    return out;
  }
  const name = GRPC_CODES[err.code ?? 2] ?? String(err.code);
  out.status = name;
  out.error = `gRPC ${name}: ${err.details ?? err.message}`;
  if (name === 'UNIMPLEMENTED') out.hint = 'the server at this address is not an OTLP trace receiver (is 4318 the HTTP port? then use http/protobuf)';
  else if (name === 'UNAUTHENTICATED' || name === 'PERMISSION_DENIED')
    out.hint = 'the endpoint refused the credentials: check OTEL_EXPORTER_OTLP_HEADERS (values are not shown)';
  else if (name === 'UNAVAILABLE') {
    out.hint = secure
      ? 'TLS or HTTP/2 negotiation failed: check the certificate settings, or use http:// for a plaintext port'
      : 'the server accepted TCP but not gRPC: is this an HTTP (not gRPC) port, or does it need https://?';
  }
  return out;
}

async function checkZipkin(cfg: AgentConfig, timeoutMs: number): Promise<EndpointCheck> {
  const u = new URL(cfg.zipkinEndpoint);
  const out: EndpointCheck = { exporter: 'zipkin', protocol: 'zipkin json', url: describeUrl(cfg.zipkinEndpoint), reachable: false, accepts: false };
  const r = await httpPost(cfg.zipkinEndpoint, Buffer.from('[]'), { 'content-type': 'application/json' }, {}, timeoutMs);
  out.connectMs = r.connectMs;
  out.totalMs = r.totalMs;
  if (r.status === undefined) {
    out.reachable = r.connectMs !== undefined;
    out.error = r.error;
    out.hint = networkHint(r.code, u, 'zipkin');
    return out;
  }
  out.reachable = true;
  out.status = r.status;
  out.accepts = r.status >= 200 && r.status < 300;
  if (!out.accepts) out.error = `HTTP ${r.status}`;
  return out;
}

export async function checkEndpoints(cfg: AgentConfig, distDir: string): Promise<EndpointCheck[]> {
  const timeoutMs = Math.min(cfg.otlp.timeoutMs, 10_000);
  const out: EndpointCheck[] = [];
  if (cfg.tracesExporters.includes('otlp')) out.push(await (cfg.otlp.protocol === 'grpc' ? checkGrpc(cfg, timeoutMs, distDir) : checkHttp(cfg, timeoutMs)));
  if (cfg.tracesExporters.includes('zipkin')) out.push(await checkZipkin(cfg, timeoutMs));
  return out;
}
