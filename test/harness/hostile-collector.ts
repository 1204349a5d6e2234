/**
 * A collector that takes the spans and then answers badly: a body far over
 * any sane size (with 200 or 503), a body that trickles in slower than the
 * export timeout, a connection closed mid-body, or a 200 with an OTLP partial
 * success. Over OTLP/HTTP (protobuf and JSON) and gRPC.
 *
 * Bodies are decoded and answers encoded with the protobufjs root compiled
 * from the official OTLP .proto files (the same one the in-repo receiver
 * uses), so nothing here depends on the agent's own encoder or parser.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';

export type Answer =
  | { kind: 'huge'; status: number; bytes: number }
  | { kind: 'slow'; status: number }
  | { kind: 'cut'; status: number }
  | { kind: 'partial'; rejected: number; message: string }
  | { kind: 'ok' };

export interface HostileCollector {
  url: string;
  grpcUrl: string;
  /** Span ids of every request the collector took (status 2xx), in arrival order; duplicates kept. */
  acceptedSpanIds(service: string): string[];
  /** Requests that carried spans (whatever the answer). */
  attempts(service: string): number;
  headers(): http.IncomingHttpHeaders[];
  setAnswer(a: Answer): void;
  close(): Promise<void>;
}

interface PbType {
  decode(buf: Uint8Array): object;
  encode(msg: object): { finish(): Uint8Array };
  fromObject?(o: object): object;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any;

async function protoTypes(): Promise<{ Req: PbType; Res: PbType }> {
  const m = (await import('otlp-proto-root/build/src/generated/root.js')) as { default?: unknown };
  const root: Raw = m.default ?? m;
  const v1 = root.opentelemetry.proto.collector.trace.v1;
  return { Req: v1.ExportTraceServiceRequest as PbType, Res: v1.ExportTraceServiceResponse as PbType };
}

const hex = (v: unknown): string =>
  typeof v === 'string' ? (/^[0-9a-f]+$/i.test(v) ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex')) : Buffer.from(v as Uint8Array).toString('hex');

function spansOf(req: Raw): { id: string; service: string }[] {
  const out: { id: string; service: string }[] = [];
  for (const rs of req?.resourceSpans ?? req?.resource_spans ?? []) {
    const attrs = rs.resource?.attributes ?? [];
    const svc = attrs.find((a: Raw) => a.key === 'service.name');
    const service = String(svc?.value?.stringValue ?? svc?.value?.string_value ?? '');
    for (const ss of rs.scopeSpans ?? rs.scope_spans ?? []) for (const s of ss.spans ?? []) out.push({ id: hex(s.spanId ?? s.span_id), service });
  }
  return out;
}

export async function startHostileCollector(): Promise<HostileCollector> {
  const { Req, Res } = await protoTypes();
  let answer: Answer = { kind: 'ok' };
  const accepted: { id: string; service: string }[] = [];
  const attempts = new Map<string, number>();
  const seenHeaders: http.IncomingHttpHeaders[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const partialBody = (a: Extract<Answer, { kind: 'partial' }>, json: boolean): Buffer => {
    const msg = { partialSuccess: { rejectedSpans: a.rejected, errorMessage: a.message } };
    // OTLP/JSON encodes int64 as a decimal string.
    if (json) return Buffer.from(JSON.stringify({ partialSuccess: { rejectedSpans: String(a.rejected), errorMessage: a.message } }));
    return Buffer.from(Res.encode(msg).finish());
  };

  const take = (spans: { id: string; service: string }[], ok: boolean): void => {
    const service = spans[0]?.service ?? '';
    if (spans.length) attempts.set(service, (attempts.get(service) ?? 0) + 1);
    if (ok) accepted.push(...spans);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // Metrics (on by default with OTLP traces) are taken and not looked at: this is a traces collector.
      if (!(req.url ?? '').split('?')[0]!.endsWith('/v1/traces')) return void res.writeHead(200, { 'content-type': String(req.headers['content-type']) }).end();
      seenHeaders.push(req.headers);
      const json = String(req.headers['content-type']).startsWith('application/json');
      const body = Buffer.concat(chunks);
      const spans = spansOf(json ? JSON.parse(body.toString('utf8')) : Req.decode(body));
      const a = answer;
      const status = a.kind === 'ok' || a.kind === 'partial' ? 200 : a.status;
      take(spans, status >= 200 && status < 300);
      const ctype = json ? 'application/json' : 'application/x-protobuf';
      if (a.kind === 'ok') return void res.writeHead(200, { 'content-type': ctype }).end(json ? '{}' : '');
      if (a.kind === 'partial') return void res.writeHead(200, { 'content-type': ctype }).end(partialBody(a, json));
      if (a.kind === 'huge') {
        res.writeHead(a.status, { 'content-type': ctype, 'content-length': String(a.bytes) });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let left = a.bytes;
        const pump = (): void => {
          while (left > 0) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => undefined);
        return pump();
      }
      if (a.kind === 'slow') {
        res.writeHead(a.status, { 'content-type': ctype, 'content-length': '100000' });
        const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('a')), 200);
        timers.add(t);
        res.on('close', () => clearInterval(t));
        return;
      }
      // 'cut': the status line and a few bytes of a longer body, then the connection goes.
      res.writeHead(a.status, { 'content-type': ctype, 'content-length': '1024' });
      res.write(Buffer.alloc(16), () => req.socket.destroy());
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));

  const grpcServer = new grpc.Server();
  grpcServer.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        originalName: 'export',
        requestSerialize: (m: object) => Buffer.from(Req.encode(m).finish()),
        requestDeserialize: (b: Buffer) => Req.decode(b),
        responseSerialize: (m: object) => Buffer.from(Res.encode(m).finish()),
        responseDeserialize: (b: Buffer) => Res.decode(b),
      },
    },
    {
      Export: ((call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) => {
        take(spansOf(call.request), true);
        const a = answer;
        cb(null, a.kind === 'partial' ? { partialSuccess: { rejectedSpans: a.rejected, errorMessage: a.message } } : {});
      }) as grpc.handleUnaryCall<object, object>,
    },
  );
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    acceptedSpanIds: (service) => accepted.filter((s) => s.service === service).map((s) => s.id),
    attempts: (service) => attempts.get(service) ?? 0,
    headers: () => seenHeaders.slice(),
    setAnswer(a) {
      answer = a;
    },
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      grpcServer.forceShutdown();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
