/**
 * OTLP trace export over http/protobuf, http/json and gRPC. Protobuf bodies
 * come from our own encoder (otlp-proto.ts, measured several times cheaper
 * than the upstream transformer, which matters because encoding runs in the
 * app's thread); JSON from the upstream transformer. Transport is ours (see
 * transport.ts) so that failures are counted and reported by the pipeline,
 * never printed per batch.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { AgentExporter, ExportOutcome, QueuedSpan } from '../processor';
import type { OtlpConfig } from '../env';
import { HttpSender, describeUrl, readTls } from './transport';
import { sendSync } from './sync-send';
import { encodeTraceRequest, SpanEncoder, type SpanOrEncoded } from './otlp-proto';
import { partialSuccessFromJson, partialSuccessFromProto, type PartialSuccess } from './partial-success';

/** A delivered export, with what the collector said it rejected (OTLP partial success), if anything. */
function withPartial(ps: PartialSuccess | undefined): ExportOutcome {
  return ps && ps.rejected > 0 ? { ok: true, rejected: ps.rejected, rejectMessage: ps.message } : { ok: true };
}

type SpanList = Parameters<typeof JsonTraceSerializer.serializeRequest>[0];

export class OtlpHttpExporter implements AgentExporter {
  readonly description: string;
  private readonly sender: HttpSender;
  private readonly json: boolean;

  constructor(cfg: OtlpConfig, holdMs = 0) {
    this.json = cfg.protocol === 'http/json';
    this.description = `OTLP ${cfg.protocol} ${describeUrl(cfg.endpoint)}`;
    this.sender = new HttpSender({
      url: cfg.endpoint,
      headers: cfg.headers,
      contentType: this.json ? 'application/json' : 'application/x-protobuf',
      compression: cfg.compression,
      timeoutMs: cfg.timeoutMs,
      tls: readTls(cfg),
      holdMs,
    });
    if (!this.json) {
      const enc = new SpanEncoder();
      this.compact = (span) => enc.encode(span);
    }
  }

  /** Protobuf only: the JSON body comes from the upstream serializer, which needs the spans. */
  readonly compact: ((span: ReadableSpan) => QueuedSpan) | undefined;

  private encode(spans: QueuedSpan[]): Uint8Array {
    if (!this.json) return encodeTraceRequest(spans as SpanOrEncoded[]);
    const body = JsonTraceSerializer.serializeRequest(spans as unknown as SpanList);
    if (!body) throw new Error('could not serialize spans');
    return body;
  }

  private answer(o: ExportOutcome & { body?: Uint8Array }): ExportOutcome {
    if (!o.ok) return o;
    if (!o.body || o.body.length === 0) return { ok: true };
    return withPartial(this.json ? partialSuccessFromJson(o.body) : partialSuccessFromProto(o.body));
  }

  async export(spans: QueuedSpan[], onAccepted?: () => void): Promise<ExportOutcome> {
    let body: Uint8Array;
    try {
      body = this.encode(spans);
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
    return this.answer(await this.sender.send(body, onAccepted));
  }

  exportSync(spans: QueuedSpan[], timeoutMs: number): ExportOutcome {
    const t = this.sender.target;
    const headers: Record<string, string> = { ...t.headers, 'content-type': t.contentType };
    if (t.compression === 'gzip') headers['content-encoding'] = 'gzip';
    return this.answer(sendSync({ kind: 'http', url: t.url, headers, body: this.sender.prepare(this.encode(spans)), ...t.tls }, timeoutMs));
  }

  shutdown(): Promise<void> {
    this.sender.close();
    return Promise.resolve();
  }
}

const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

interface GrpcClient {
  makeUnaryRequest(
    path: string,
    ser: (b: Buffer) => Buffer,
    de: (b: Buffer) => Buffer,
    arg: Buffer,
    md: unknown,
    opts: { deadline: number },
    cb: (err: Error | null, value?: Buffer) => void,
  ): unknown;
  close(): void;
}

export class OtlpGrpcExporter implements AgentExporter {
  readonly description: string;
  private client: GrpcClient | undefined;
  private readonly address: string;
  private readonly secure: boolean;
  private readonly tls: ReturnType<typeof readTls>;

  constructor(private readonly cfg: OtlpConfig) {
    const u = new URL(cfg.endpoint);
    this.secure = u.protocol === 'https:';
    this.address = `${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || (this.secure ? 443 : 4317)}`;
    this.description = `OTLP grpc ${u.protocol}//${this.address}`;
    this.tls = readTls(cfg);
  }

  private grpcPath(): string {
    return require.resolve('@grpc/grpc-js');
  }

  private getClient(): { grpc: GrpcModule; client: GrpcClient } {
    // gRPC is a heavy dependency: loaded on the first export, only for users who chose it.
    const grpc = require(this.grpcPath()) as GrpcModule;
    if (!this.client) {
      const creds = this.secure
        ? grpc.credentials.createSsl(this.tls.ca ?? null, this.tls.key ?? null, this.tls.cert ?? null)
        : grpc.credentials.createInsecure();
      const options = this.cfg.compression === 'gzip' ? { 'grpc.default_compression_algorithm': 2 } : {};
      this.client = new grpc.Client(this.address, creds, options);
    }
    return { grpc, client: this.client };
  }

  private readonly encoder = new SpanEncoder();
  readonly compact = (span: ReadableSpan): QueuedSpan => this.encoder.encode(span);

  export(spans: QueuedSpan[]): Promise<ExportOutcome> {
    return new Promise((resolve) => {
      try {
        const body = encodeTraceRequest(spans as SpanOrEncoded[]);
        const { grpc, client } = this.getClient();
        const md = new grpc.Metadata();
        for (const [k, v] of Object.entries(this.cfg.headers)) md.set(k, v);
        context.with(suppressTracing(context.active()), () =>
          client.makeUnaryRequest(
            GRPC_PATH,
            (b) => b,
            (b) => b,
            body,
            md,
            { deadline: Date.now() + this.cfg.timeoutMs },
            (err, value) => resolve(err ? { ok: false, error: err.message } : withPartial(value && partialSuccessFromProto(value))),
          ),
        );
      } catch (e) {
        resolve({ ok: false, error: (e as Error).message });
      }
    });
  }

  exportSync(spans: QueuedSpan[], timeoutMs: number): ExportOutcome {
    const body = encodeTraceRequest(spans as SpanOrEncoded[]);
    const o = sendSync(
      {
        kind: 'grpc',
        address: this.address,
        secure: this.secure,
        path: GRPC_PATH,
        metadata: { ...this.cfg.headers },
        body,
        grpcPath: this.grpcPath(),
        ...this.tls,
      },
      timeoutMs,
    );
    return o.ok ? withPartial(o.body && partialSuccessFromProto(o.body)) : o;
  }

  shutdown(): Promise<void> {
    this.client?.close();
    return Promise.resolve();
  }
}

interface GrpcModule {
  credentials: {
    createSsl(ca: Buffer | null, key: Buffer | null, cert: Buffer | null): unknown;
    createInsecure(): unknown;
  };
  Metadata: new () => { set(k: string, v: string): void };
  Client: new (address: string, creds: unknown, options?: Record<string, unknown>) => GrpcClient;
}
