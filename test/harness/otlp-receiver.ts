/**
 * In-repo OTLP trace receiver for tests.
 *
 * Decodes what an exporter sent using the protobufjs root compiled from the official OTLP
 * .proto files (shipped by `otlp-proto-root`, an alias of @opentelemetry/otlp-transformer@0.215,
 * which still carried a generated root), so assertions do not depend on any exporter's serializer.
 *
 * Listens for OTLP/HTTP (protobuf + JSON, optionally gzip/deflate, optionally TLS) and OTLP/gRPC.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { toMetricPoints, type RecvMetricPoint } from './otlp-metrics';
import { logsRequestType, toLogRecords, type RecvLogRecord } from './otlp-logs';

export type { RecvMetricPoint } from './otlp-metrics';
export type { RecvLogRecord } from './otlp-logs';

// ---------------------------------------------------------------------------------------------
// Public types

export type SpanKindName = 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER' | 'UNSPECIFIED';

export interface RecvSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string; // '' if root
  name: string;
  kind: SpanKindName;
  startNs: bigint;
  endNs: bigint;
  durationMs: number;
  attributes: Record<string, unknown>;
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message?: string };
  events: { name: string; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string; attributes: Record<string, unknown> }[];
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
  traceState?: string;
  flags?: number;
}

export interface ReceivedRequest {
  transport: 'http/protobuf' | 'http/json' | 'grpc';
  path: string;
  headers: Record<string, string | string[] | undefined>;
  contentEncoding?: string;
  spanCount: number;
}

export type ReceiverBehavior = 'ok' | 'refuse500' | 'status429' | 'status503' | 'hang' | 'garbage' | 'close' | { delayMs: number };

export interface OtlpReceiver {
  url: string;
  grpcUrl: string;
  spans(): RecvSpan[];
  /** Metric data points received over OTLP/HTTP (one record per point). */
  metrics(): RecvMetricPoint[];
  /** Log records received over OTLP/HTTP (see otlp-logs.ts). */
  logs(): RecvLogRecord[];
  requests(): ReceivedRequest[];
  waitForSpans(pred: number | ((spans: RecvSpan[]) => boolean), timeoutMs?: number): Promise<RecvSpan[]>;
  clear(): void;
  setBehavior(b: ReceiverBehavior): void;
  close(): Promise<void>;
}

export interface OtlpReceiverOptions {
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
}

// ---------------------------------------------------------------------------------------------
// Proto root (official OTLP protos, compiled by protobufjs)

interface PbType {
  decode(buf: Uint8Array): object;
  encode(msg: object): { finish(): Uint8Array };
}
/** Generated protobufjs static module (CommonJS, `module.exports = $root`). */
const PROTO_ROOT_MODULE = 'otlp-proto-root/build/src/generated/root.js';
let protoTypes: Promise<{ TraceReq: PbType; TraceRes: PbType; MetricsReq: PbType }> | undefined;
// A dynamic import (rather than createRequire(import.meta.url)) keeps this file valid whether it
// is compiled as ESM or as CommonJS; `default` is the CommonJS module.exports under ESM.
function loadProtoTypes(): Promise<{ TraceReq: PbType; TraceRes: PbType; MetricsReq: PbType }> {
  return (protoTypes ??= import(PROTO_ROOT_MODULE).then((m: { default?: unknown }) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const root: any = m.default ?? m;
    const v1 = root.opentelemetry.proto.collector.trace.v1;
    // Keep direct references: the generated module registers into protobufjs' shared default root.
    return {
      TraceReq: v1.ExportTraceServiceRequest as PbType,
      TraceRes: v1.ExportTraceServiceResponse as PbType,
      MetricsReq: root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest as PbType,
    };
  }));
}

// ---------------------------------------------------------------------------------------------
// Normalisation: one code path for protobuf-decoded messages and OTLP/JSON objects.
// Decoded protobuf: bytes are Uint8Array, 64-bit ints are Long, enums are numbers.
// OTLP/JSON: ids are hex strings (base64 tolerated), int64 may be strings, enums ints or names.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any;

const KINDS: SpanKindName[] = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS: RecvSpan['status']['code'][] = ['UNSET', 'OK', 'ERROR'];

function enumName<T extends string>(v: unknown, names: readonly T[], prefix: string): T {
  if (v == null) return names[0]!;
  if (typeof v === 'number') return names[v] ?? names[0]!;
  const s = String(v).replace(prefix, '') as T;
  return names.includes(s) ? s : names[0]!;
}

function idHex(v: unknown): string {
  if (v == null) return '';
  let h: string;
  if (v instanceof Uint8Array) h = Buffer.from(v).toString('hex');
  else if (typeof v === 'string') {
    h = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/i.test(v) ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex');
  } else throw new Error(`unexpected id value ${JSON.stringify(v)}`);
  return /^0*$/.test(h) ? '' : h;
}

function toBig(v: unknown): bigint {
  if (v == null || v === '') return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return BigInt(v);
  const l = v as { low: number; high: number; unsigned?: boolean }; // protobufjs Long
  const bits = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
  return l.unsigned ? bits : BigInt.asIntN(64, bits);
}

function anyValue(v: Raw): unknown {
  if (v == null) return undefined;
  if (v.stringValue != null) return String(v.stringValue);
  if (v.boolValue != null) return Boolean(v.boolValue);
  if (v.intValue != null) return Number(toBig(v.intValue));
  if (v.doubleValue != null) return Number(v.doubleValue);
  if (v.arrayValue != null) return ((v.arrayValue.values ?? []) as Raw[]).map(anyValue);
  if (v.kvlistValue != null) return attrs(v.kvlistValue.values);
  if (v.bytesValue != null) {
    return typeof v.bytesValue === 'string' ? Buffer.from(v.bytesValue, 'base64') : Buffer.from(v.bytesValue);
  }
  return undefined;
}

function attrs(list: Raw): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of (list ?? []) as Raw[]) out[String(kv.key)] = anyValue(kv.value);
  return out;
}

function toSpan(s: Raw, resource: Record<string, unknown>, scope: RecvSpan['scope']): RecvSpan {
  const startNs = toBig(s.startTimeUnixNano);
  const endNs = toBig(s.endTimeUnixNano);
  const span: RecvSpan = {
    traceId: idHex(s.traceId),
    spanId: idHex(s.spanId),
    parentSpanId: idHex(s.parentSpanId),
    name: String(s.name ?? ''),
    kind: enumName(s.kind, KINDS, 'SPAN_KIND_'),
    startNs,
    endNs,
    durationMs: Number(endNs - startNs) / 1e6,
    attributes: attrs(s.attributes),
    status: { code: enumName(s.status?.code, STATUS, 'STATUS_CODE_') },
    events: ((s.events ?? []) as Raw[]).map((e) => ({ name: String(e.name ?? ''), attributes: attrs(e.attributes) })),
    links: ((s.links ?? []) as Raw[]).map((l) => ({
      traceId: idHex(l.traceId),
      spanId: idHex(l.spanId),
      attributes: attrs(l.attributes),
    })),
    resource,
    scope,
  };
  if (s.status?.message) span.status.message = String(s.status.message);
  if (s.traceState) span.traceState = String(s.traceState);
  if (s.flags != null) span.flags = Number(s.flags);
  return span;
}

function toSpans(req: Raw): RecvSpan[] {
  const out: RecvSpan[] = [];
  for (const rs of (req?.resourceSpans ?? []) as Raw[]) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of (rs.scopeSpans ?? []) as Raw[]) {
      const scope: RecvSpan['scope'] = { name: String(ss.scope?.name ?? '') };
      if (ss.scope?.version) scope.version = String(ss.scope.version);
      for (const s of (ss.spans ?? []) as Raw[]) out.push(toSpan(s, resource, scope));
    }
  }
  return out;
}

/** Protobuf JSON mapping also allows the original snake_case field names: accept both. */
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camelKeys(x)]));
}

// ---------------------------------------------------------------------------------------------
// Receiver

const SIGNAL_PATHS: Record<string, 'traces' | 'metrics' | 'logs'> = {
  '/v1/traces': 'traces',
  '/v1/metrics': 'metrics',
  '/v1/logs': 'logs',
};
const GRPC_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const GRPC_METRICS_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

function describeRequests(reqs: ReceivedRequest[]): string {
  return reqs.map((r) => `  ${r.transport} ${r.path} spans=${r.spanCount}${r.contentEncoding ? ` (${r.contentEncoding})` : ''}`).join('\n');
}

export async function startOtlpReceiver(opts: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const { TraceReq, TraceRes, MetricsReq } = await loadProtoTypes();
  const LogsReq = await logsRequestType();
  let points: RecvMetricPoint[] = [];
  let logRecords: RecvLogRecord[] = [];
  const EMPTY_RESPONSE = Buffer.from(TraceRes.encode({}).finish()); // an empty message is zero bytes
  let received: RecvSpan[] = [];
  let reqs: ReceivedRequest[] = [];
  let behavior: ReceiverBehavior = 'ok';
  let closed = false;
  interface Waiter {
    check(): boolean;
    done(): void;
    fail(e: Error): void;
  }
  const waiters = new Set<Waiter>();
  const sockets = new Set<Socket>();

  const addSpans = (spans: RecvSpan[]): void => {
    received.push(...spans);
    for (const w of [...waiters]) if (w.check()) w.done();
  };

  // ---- HTTP ----
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => handleHttp(req, res, Buffer.concat(chunks)));
  };

  const plain = (res: http.ServerResponse, code: number, msg: string, extra: http.OutgoingHttpHeaders = {}): void => {
    res.writeHead(code, { 'content-type': 'text/plain', ...extra }).end(msg);
  };

  const handleHttp = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    const signal = SIGNAL_PATHS[path];
    if (!signal) return plain(res, 404, `no OTLP endpoint at ${path}`);
    if (req.method !== 'POST') return plain(res, 405, 'POST only', { allow: 'POST' });
    const ctype = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    const transport = ctype === 'application/x-protobuf' ? 'http/protobuf' : ctype === 'application/json' ? 'http/json' : undefined;
    if (!transport) return plain(res, 415, `unsupported content-type ${ctype || '(none)'}`);

    const contentEncoding = req.headers['content-encoding'] as string | undefined;
    const record: ReceivedRequest = { transport, path, headers: { ...req.headers }, spanCount: 0 };
    if (contentEncoding) record.contentEncoding = contentEncoding;
    reqs.push(record);

    let spans: RecvSpan[] = [];
    try {
      const enc = (contentEncoding ?? 'identity').toLowerCase();
      const raw = enc === 'gzip' ? zlib.gunzipSync(body) : enc === 'deflate' ? zlib.inflateSync(body) : enc === 'identity' ? body : undefined;
      if (!raw) return plain(res, 415, `unsupported content-encoding ${enc}`);
      if (signal === 'traces') {
        spans = toSpans(transport === 'http/json' ? camelKeys(JSON.parse(raw.toString('utf8'))) : TraceReq.decode(raw));
      } else if (signal === 'metrics') {
        const m = transport === 'http/json' ? camelKeys(JSON.parse(raw.toString('utf8'))) : MetricsReq.decode(raw);
        if (behavior === 'ok') points.push(...toMetricPoints(m, { attrs, toBig, idHex }));
      } else if (signal === 'logs') {
        const l = transport === 'http/json' ? camelKeys(JSON.parse(raw.toString('utf8'))) : LogsReq.decode(raw);
        if (behavior === 'ok') logRecords.push(...toLogRecords(l, { attrs, toBig, idHex }));
      }
    } catch (e) {
      return plain(res, 400, `cannot decode OTLP ${transport} payload: ${(e as Error).message}`);
    }
    record.spanCount = spans.length;

    const accept = (): void => {
      if (closed) return;
      addSpans(spans);
      res.writeHead(200, { 'content-type': ctype });
      res.end(transport === 'http/json' ? '{}' : EMPTY_RESPONSE);
    };
    const b = behavior;
    if (b === 'ok') accept();
    else if (typeof b === 'object') setTimeout(accept, b.delayMs).unref();
    else if (b === 'refuse500') plain(res, 500, 'refused by test receiver');
    else if (b === 'status429') plain(res, 429, 'throttled by test receiver', { 'retry-after': '1' });
    else if (b === 'status503') plain(res, 503, 'unavailable (test receiver)');
    else if (b === 'garbage') res.writeHead(200, { 'content-type': ctype }).end(randomBytes(64));
    else if (b === 'close') {
      res.writeHead(200, { 'content-type': ctype, 'content-length': '1024' });
      res.write(randomBytes(16), () => req.socket.destroy());
    }
    // 'hang': never answer; close() destroys the socket.
  };

  const server = opts.tls
    ? https.createServer(
        {
          key: opts.tls.key,
          cert: opts.tls.cert,
          ca: opts.tls.ca,
          requestCert: !!opts.tls.requestCert,
          rejectUnauthorized: !!opts.tls.requestCert,
        },
        onRequest,
      )
    : http.createServer(onRequest);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  // ---- gRPC ----
  // grpc-js decompresses messages itself and strips `grpc-encoding` before handlers see the
  // metadata; this interceptor (first in the chain, so it wraps grpc-js' base call, whose private
  // `incomingEncoding` field holds that header) puts it back so requests() can report it.
  const keepEncoding: grpc.ServerInterceptor = (_method, call) => {
    const enc = (call as unknown as { incomingEncoding?: unknown }).incomingEncoding;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (md, pass) => {
            if (typeof enc === 'string') md.set('grpc-encoding', enc);
            pass(md);
          },
        }),
    });
  };
  const grpcServer = new grpc.Server({ interceptors: [keepEncoding] });
  const service: grpc.ServiceDefinition = {
    Export: {
      path: GRPC_EXPORT_PATH,
      requestStream: false,
      responseStream: false,
      originalName: 'export',
      requestSerialize: (m: object) => Buffer.from(TraceReq.encode(m).finish()),
      requestDeserialize: (b: Buffer) => TraceReq.decode(b),
      responseSerialize: (m: object) => Buffer.from(TraceRes.encode(m).finish()),
      responseDeserialize: (b: Buffer) => TraceRes.decode(b),
    },
  };
  const exportImpl: grpc.handleUnaryCall<object, object> = (call, callback) => {
    const headers: ReceivedRequest['headers'] = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = Buffer.isBuffer(v) ? v.toString('base64') : v;
    const spans = toSpans(call.request);
    const record: ReceivedRequest = { transport: 'grpc', path: GRPC_EXPORT_PATH, headers, spanCount: spans.length };
    const enc = headers['grpc-encoding'];
    if (typeof enc === 'string' && enc !== 'identity') record.contentEncoding = enc;
    reqs.push(record);
    addSpans(spans);
    callback(null, {});
  };
  grpcServer.addService(service, { Export: exportImpl });
  // Metrics over gRPC too (the agent's own metrics encoder and gRPC sender); answered with an empty response.
  const metricsService: grpc.ServiceDefinition = {
    Export: {
      path: GRPC_METRICS_PATH,
      requestStream: false,
      responseStream: false,
      originalName: 'export',
      requestSerialize: (m: object) => Buffer.from(MetricsReq.encode(m).finish()),
      requestDeserialize: (b: Buffer) => MetricsReq.decode(b),
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: () => ({}),
    },
  };
  const metricsImpl: grpc.handleUnaryCall<object, object> = (call, callback) => {
    const headers: ReceivedRequest['headers'] = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = Buffer.isBuffer(v) ? v.toString('base64') : v;
    reqs.push({ transport: 'grpc', path: GRPC_METRICS_PATH, headers, spanCount: 0 });
    points.push(...toMetricPoints(call.request, { attrs, toBig, idHex }));
    callback(null, {});
  };
  grpcServer.addService(metricsService, { Export: metricsImpl });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    spans: () => received.slice(),
    metrics: () => points.slice(),
    logs: () => logRecords.slice(),
    requests: () => reqs.slice(),
    clear() {
      received = [];
      points = [];
      logRecords = [];
      reqs = [];
    },
    setBehavior(b) {
      behavior = b;
    },
    waitForSpans(pred, timeoutMs = 10_000) {
      const want = typeof pred === 'number' ? `${pred} span(s)` : `predicate ${pred.name || '(anonymous)'}`;
      const test = typeof pred === 'number' ? (s: RecvSpan[]) => s.length >= pred : pred;
      let lastError: unknown;
      const check = (): boolean => {
        try {
          return test(received.slice());
        } catch (e) {
          lastError = e;
          return false;
        }
      };
      if (check()) return Promise.resolve(received.slice());
      if (closed) return Promise.reject(new Error('waitForSpans: receiver is closed'));
      return new Promise<RecvSpan[]>((resolve, reject) => {
        const w: Waiter = {
          check,
          done: () => {
            clearTimeout(timer);
            waiters.delete(w);
            resolve(received.slice());
          },
          fail: (e) => {
            clearTimeout(timer);
            waiters.delete(w);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          const lines = [
            `waitForSpans timed out after ${timeoutMs}ms waiting for ${want}.`,
            `Received ${received.length} span(s) in ${reqs.length} request(s); behavior=${JSON.stringify(behavior)}`,
          ];
          if (reqs.length) lines.push('Requests:', describeRequests(reqs));
          if (received.length) lines.push('Span tree:', spanTree(received));
          if (lastError) lines.push(`Last predicate error: ${(lastError as Error).message ?? String(lastError)}`);
          w.fail(new Error(lines.join('\n')));
        }, timeoutMs);
        timer.unref();
        waiters.add(w);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const w of [...waiters]) w.fail(new Error('waitForSpans: receiver closed while waiting'));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      grpcServer.forceShutdown();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Query helpers

const byStart = (a: RecvSpan, b: RecvSpan): number => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Deterministic text tree, one trace per block (blocks separated by a blank line, ordered by root
 * start time). Each line is `NAME  KIND`, indented two spaces per level; siblings ordered by start
 * time then name. Spans whose parent was not received are shown as roots of their trace.
 */
export function spanTree(spans: RecvSpan[]): string {
  const ids = new Set(spans.map((s) => `${s.traceId}/${s.spanId}`));
  const kids = new Map<string, RecvSpan[]>();
  const roots: RecvSpan[] = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(`${s.traceId}/${s.parentSpanId}`)) {
      const key = `${s.traceId}/${s.parentSpanId}`;
      kids.set(key, [...(kids.get(key) ?? []), s]);
    } else roots.push(s);
  }
  const traces = new Map<string, RecvSpan[]>();
  for (const r of roots.sort(byStart)) traces.set(r.traceId, [...(traces.get(r.traceId) ?? []), r]);
  const seen = new Set<RecvSpan>();
  const render = (s: RecvSpan, depth: number, out: string[]): void => {
    if (seen.has(s)) return;
    seen.add(s);
    out.push(`${'  '.repeat(depth)}${s.name}  ${s.kind}`);
    for (const c of (kids.get(`${s.traceId}/${s.spanId}`) ?? []).sort(byStart)) render(c, depth + 1, out);
  };
  return [...traces.values()]
    .map((rs) => {
      const out: string[] = [];
      for (const r of rs) render(r, 0, out);
      return out.join('\n');
    })
    .join('\n\n');
}

const matches = (s: RecvSpan, name: string | RegExp): boolean => (typeof name === 'string' ? s.name === name : ((name.lastIndex = 0), name.test(s.name)));

export function byName(spans: RecvSpan[], name: string | RegExp): RecvSpan[] {
  return spans.filter((s) => matches(s, name));
}

export function one(spans: RecvSpan[], name: string | RegExp): RecvSpan {
  const found = byName(spans, name);
  if (found.length !== 1) {
    const names = spans.map((s) => `${s.name} (${s.kind})`).join(', ') || '(none)';
    throw new Error(`Expected exactly one span named ${String(name)}, found ${found.length}. Spans received: ${names}`);
  }
  return found[0]!;
}

export function childrenOf(spans: RecvSpan[], parent: RecvSpan): RecvSpan[] {
  return spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId).sort(byStart);
}
