/**
 * Sending one signal's OTLP export requests (metrics, logs) through the agent's own
 * transport (transport.ts), the one spans use: same retries, TLS files, timeouts,
 * socket release at exit, and no environment read behind the agent's back. The body
 * comes from a serializer the caller gives (upstream for logs, the agent's own for
 * metrics: metrics/otlp-encode.ts). No SDK package is imported here, so the metrics
 * bundle stays small.
 *
 * Failures are counted and reported at most once a minute, like spans'. An
 * endpoint that answers that it has no such service (HTTP 404/405/501, gRPC
 * UNIMPLEMENTED: e.g. Jaeger, which takes only traces) is said once, and that
 * signal's export stops: asking again every minute would only fill the app's logs.
 */
import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { OtlpConfig } from '../env';
import type { AgentLog } from '../log';
import { HttpSender, describeUrl, readTls } from './transport';
import { sendSync } from './sync-send';

/** Counts one signal's failed exports and says so like the span pipeline does; stops for good on "no such service". */
export class SignalReport {
  failures = 0;
  stopped = false;
  private failing = false;

  constructor(
    private readonly signal: 'metrics' | 'logs',
    private readonly description: string,
    private readonly log: AgentLog,
  ) {}

  /**
   * On without being asked (metrics follow the traces' OTLP export): a backend without the signal
   * is one line saying how to turn them off, and failures are said at debug only, since the traces' own line already says when
   * the collector is unreachable. Counted all the same.
   */
  byDefault = false;

  ok(): void {
    if (!this.failing) return;
    this.failing = false;
    this.log.info(`${this.signal} export to ${this.description} works again`);
  }

  failed(error: string): void {
    this.failures++;
    this.failing = true;
    if (/^HTTP (404|405|501)\b|UNIMPLEMENTED|^12 /.test(error)) {
      this.stopped = true;
      if (this.byDefault) {
        this.log.warnOnce(
          `${this.signal}-unimplemented:${this.description}`,
          `${this.description} does not accept ${this.signal} (${error}); ${this.signal}, on by default with OTLP traces, stop for this process (OTEL_METRICS_EXPORTER=none says so)`,
        );
        return;
      }
      this.log.warnOnce(
        `${this.signal}-unimplemented:${this.description}`,
        `${this.description} does not accept ${this.signal} (${error}); ${this.signal} export stops for this process ` +
          `(set OTEL_${this.signal === 'metrics' ? 'METRICS' : 'LOGS'}_EXPORTER=none to say so, or point OTEL_EXPORTER_OTLP_${this.signal.toUpperCase()}_ENDPOINT at a backend that takes them)`,
      );
      return;
    }
    if (this.byDefault) return this.log.debug(`could not export ${this.signal} to ${this.description}: ${error} (${this.failures} failed export(s) so far)`);
    this.log.rateLimited(
      `${this.signal}-export:${this.description}`,
      `could not export ${this.signal} to ${this.description}: ${error} (${this.failures} failed export(s) so far)`,
    );
  }
}

export type Serializer<T> = { serializeRequest(data: T): Uint8Array | undefined };

/** One OTLP HTTP export of `data`, through the agent's transport. */
export class HttpSignalSender<T> implements SignalSender<T> {
  readonly report: SignalReport;
  private readonly sender: HttpSender;
  /** For the exit flush: its retries end within OTEL_AGENT_FLUSH_TIMEOUT, so a dead collector cannot hold a finished app for the export timeout. */
  private readonly last: HttpSender;
  private exiting = false;
  private readonly serializer: Serializer<T>;

  constructor(signal: 'metrics' | 'logs', cfg: OtlpConfig, serializers: { json: Serializer<T>; proto: Serializer<T> }, log: AgentLog, holdMs: number) {
    const json = cfg.protocol === 'http/json';
    this.serializer = json ? serializers.json : serializers.proto;
    this.report = new SignalReport(signal, `OTLP ${cfg.protocol} ${describeUrl(cfg.endpoint)}`, log);
    const target = {
      url: cfg.endpoint,
      headers: cfg.headers,
      contentType: json ? 'application/json' : 'application/x-protobuf',
      compression: cfg.compression,
      timeoutMs: cfg.timeoutMs,
      tls: readTls(cfg),
      holdMs,
    };
    this.sender = new HttpSender(target);
    this.last = new HttpSender({ ...target, timeoutMs: Math.max(1, Math.min(cfg.timeoutMs, holdMs)) });
  }

  /** The process is ending: what is sent from now on is the last chance, bounded by the flush timeout. */
  exit(): void {
    this.exiting = true;
  }

  send(data: T, done: (r: ExportResult) => void): void {
    if (this.report.stopped) return done({ code: ExportResultCode.SUCCESS });
    let body: Uint8Array | undefined;
    try {
      body = this.serializer.serializeRequest(data);
    } catch (e) {
      body = undefined;
      this.report.failed(`could not encode (${e instanceof Error ? e.message : String(e)})`);
    }
    if (!body) return done({ code: ExportResultCode.SUCCESS });
    // A failure is counted and said here; the SDK is told success, because all it would do with a
    // failure is print a second, stack-traced line about the same export (the SDKs never retry it).
    (this.exiting ? this.last : this.sender).send(body).then(
      (o) => {
        if (o.ok) this.report.ok();
        else this.report.failed(o.error ?? 'unknown error');
        done({ code: ExportResultCode.SUCCESS });
      },
      (e: unknown) => {
        this.report.failed(e instanceof Error ? e.message : String(e));
        done({ code: ExportResultCode.SUCCESS });
      },
    );
  }

  /** At process exit ('exit' allows only synchronous work): one blocking send, through the exit-time sender of sync-send.ts. */
  sendSync(data: T, timeoutMs: number): void {
    if (this.report.stopped) return;
    try {
      const body = this.serializer.serializeRequest(data);
      if (!body) return;
      const t = this.last.target;
      const headers: Record<string, string> = { ...t.headers, 'content-type': t.contentType };
      if (t.compression === 'gzip') headers['content-encoding'] = 'gzip';
      const o = sendSync({ kind: 'http', url: t.url, headers, body: this.last.prepare(body), ...t.tls }, timeoutMs);
      if (o.ok) this.report.ok();
      else this.report.failed(o.error ?? 'unknown error');
    } catch (e) {
      this.report.failed(e instanceof Error ? e.message : String(e));
    }
  }

  close(): Promise<void> {
    this.sender.close();
    this.last.close();
    return Promise.resolve();
  }
}

/** Puts the report's counting and "stop on UNIMPLEMENTED" around an upstream (gRPC) exporter. */
export function reported<E extends { export(data: never, done: (r: ExportResult) => void): void }>(exporter: E, report: SignalReport): E {
  const inner = exporter.export.bind(exporter) as (data: unknown, done: (r: ExportResult) => void) => void;
  (exporter as unknown as { export: (data: unknown, done: (r: ExportResult) => void) => void }).export = (data, done) => {
    if (report.stopped) return done({ code: ExportResultCode.SUCCESS });
    inner(data, (r) => {
      if (r.code === ExportResultCode.SUCCESS) report.ok();
      else report.failed(r.error?.message ?? 'unknown error');
      // Counted and said above (see HttpSignalSender.send).
      done({ code: ExportResultCode.SUCCESS });
    });
  };
  return exporter;
}

/** What a metrics reader sends through: HTTP (HttpSignalSender) or gRPC (GrpcSignalSender). */
export interface SignalSender<T> {
  readonly report: SignalReport;
  exit(): void;
  send(data: T, done: (r: ExportResult) => void): void;
  sendSync(data: T, timeoutMs: number): void;
  close(): Promise<void>;
}

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
interface GrpcModule {
  credentials: { createSsl(ca: Buffer | null, key: Buffer | null, cert: Buffer | null): unknown; createInsecure(): unknown };
  Metadata: new () => { set(k: string, v: string): void };
  Client: new (address: string, creds: unknown, options?: Record<string, unknown>) => GrpcClient;
}

/**
 * OTLP/gRPC with the agent's own bytes (a unary call on the service's Export path): the
 * agent's bundled @grpc/grpc-js, loaded on the first export; at exit through the
 * exit-time sender, as spans over gRPC.
 */
export class GrpcSignalSender<T> implements SignalSender<T> {
  readonly report: SignalReport;
  private client: GrpcClient | undefined;
  private readonly address: string;
  private readonly secure: boolean;
  private readonly tls: ReturnType<typeof readTls>;
  private exiting = false;

  constructor(
    signal: 'metrics' | 'logs',
    private readonly cfg: OtlpConfig,
    private readonly path: string,
    private readonly encode: (data: T) => Uint8Array,
    log: AgentLog,
    private readonly holdMs: number,
  ) {
    const u = new URL(cfg.endpoint);
    this.secure = u.protocol === 'https:';
    this.address = `${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || (this.secure ? 443 : 4317)}`;
    this.tls = readTls(cfg);
    this.report = new SignalReport(signal, `OTLP grpc ${u.protocol}//${this.address}`, log);
  }

  private grpcPath(): string {
    return require.resolve('@grpc/grpc-js');
  }

  exit(): void {
    this.exiting = true;
  }

  send(data: T, done: (r: ExportResult) => void): void {
    if (this.report.stopped) return done({ code: ExportResultCode.SUCCESS });
    const finish = (err: Error | null | undefined): void => {
      if (err) this.report.failed(err.message);
      else this.report.ok();
      done({ code: ExportResultCode.SUCCESS });
    };
    try {
      const body = Buffer.from(this.encode(data));
      const grpc = require(this.grpcPath()) as GrpcModule;
      if (!this.client) {
        const creds = this.secure
          ? grpc.credentials.createSsl(this.tls.ca ?? null, this.tls.key ?? null, this.tls.cert ?? null)
          : grpc.credentials.createInsecure();
        this.client = new grpc.Client(this.address, creds, this.cfg.compression === 'gzip' ? { 'grpc.default_compression_algorithm': 2 } : {});
      }
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(this.cfg.headers)) md.set(k, v);
      const timeout = this.exiting ? Math.max(1, Math.min(this.cfg.timeoutMs, this.holdMs)) : this.cfg.timeoutMs;
      context.with(suppressTracing(context.active()), () =>
        this.client!.makeUnaryRequest(
          this.path,
          (b) => b,
          (b) => b,
          body,
          md,
          { deadline: Date.now() + timeout },
          (err) => finish(err),
        ),
      );
    } catch (e) {
      finish(e instanceof Error ? e : new Error(String(e)));
    }
  }

  sendSync(data: T, timeoutMs: number): void {
    if (this.report.stopped) return;
    try {
      const o = sendSync(
        {
          kind: 'grpc',
          address: this.address,
          secure: this.secure,
          path: this.path,
          metadata: { ...this.cfg.headers },
          body: this.encode(data),
          grpcPath: this.grpcPath(),
          ...this.tls,
        },
        timeoutMs,
      );
      if (o.ok) this.report.ok();
      else this.report.failed(o.error ?? 'unknown error');
    } catch (e) {
      this.report.failed(e instanceof Error ? e.message : String(e));
    }
  }

  close(): Promise<void> {
    this.client?.close();
    return Promise.resolve();
  }
}
