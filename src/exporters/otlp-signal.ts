/**
 * OTLP export of metrics and logs. Over http/protobuf and http/json the body comes
 * from the upstream serializers and goes through the agent's own transport
 * (transport.ts), the one spans use: same retries, TLS files, timeouts, socket
 * release at exit, and no environment read behind the agent's back (the upstream
 * HTTP exporters read OTEL_EXPORTER_OTLP_* themselves and merge those headers in,
 * which would undo OTEL_CONFIG_FILE). gRPC goes through the upstream exporter,
 * given every setting explicitly.
 *
 * Failures are counted and reported at most once a minute, like spans'. An
 * endpoint that answers that it has no such service (HTTP 404/405/501, gRPC
 * UNIMPLEMENTED: e.g. Jaeger, which takes only traces) is said once, and that
 * signal's export stops: asking again every minute would only fill the app's logs.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { JsonLogsSerializer, JsonMetricsSerializer, ProtobufLogsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, InstrumentType, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { OtlpConfig } from '../env';
import type { AgentLog } from '../log';
import { HttpSender, describeUrl, readTls } from './transport';
import { sendSync } from './sync-send';

export type Temporality = 'cumulative' | 'delta' | 'lowmemory';

/** OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, as the metrics SDK specification defines its three values. */
export function temporalitySelector(pref: Temporality): (t: InstrumentType) => AggregationTemporality {
  const { CUMULATIVE, DELTA } = AggregationTemporality;
  if (pref === 'cumulative') return () => CUMULATIVE;
  if (pref === 'delta') return (t) => (t === InstrumentType.UP_DOWN_COUNTER || t === InstrumentType.OBSERVABLE_UP_DOWN_COUNTER ? CUMULATIVE : DELTA);
  return (t) => (t === InstrumentType.COUNTER || t === InstrumentType.HISTOGRAM ? DELTA : CUMULATIVE);
}

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
      this.log.warnOnce(
        `${this.signal}-unimplemented:${this.description}`,
        `${this.description} does not accept ${this.signal} (${error}); ${this.signal} export stops for this process ` +
          `(set OTEL_${this.signal === 'metrics' ? 'METRICS' : 'LOGS'}_EXPORTER=none to say so, or point OTEL_EXPORTER_OTLP_${this.signal.toUpperCase()}_ENDPOINT at a backend that takes them)`,
      );
      return;
    }
    this.log.rateLimited(
      `${this.signal}-export:${this.description}`,
      `could not export ${this.signal} to ${this.description}: ${error} (${this.failures} failed export(s) so far)`,
    );
  }
}

type Serializer<T> = { serializeRequest(data: T): Uint8Array | undefined };

/** One OTLP HTTP export of `data`, through the agent's transport. */
class HttpSignalSender<T> {
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

export class OtlpHttpMetricExporter implements PushMetricExporter {
  private readonly out: HttpSignalSender<ResourceMetrics>;
  readonly selectAggregationTemporality: (t: InstrumentType) => AggregationTemporality;

  constructor(cfg: OtlpConfig, temporality: Temporality, log: AgentLog, holdMs: number) {
    this.out = new HttpSignalSender('metrics', cfg, { json: JsonMetricsSerializer, proto: ProtobufMetricsSerializer }, log, holdMs);
    this.selectAggregationTemporality = temporalitySelector(temporality);
  }

  get report(): SignalReport {
    return this.out.report;
  }

  exit(): void {
    this.out.exit();
  }

  export(metrics: ResourceMetrics, done: (r: ExportResult) => void): void {
    this.out.send(metrics, done);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.out.close();
  }
}

export class OtlpHttpLogExporter implements LogRecordExporter {
  private readonly out: HttpSignalSender<ReadableLogRecord[]>;

  constructor(cfg: OtlpConfig, log: AgentLog, holdMs: number) {
    this.out = new HttpSignalSender('logs', cfg, { json: JsonLogsSerializer, proto: ProtobufLogsSerializer }, log, holdMs);
  }

  get report(): SignalReport {
    return this.out.report;
  }

  exit(): void {
    this.out.exit();
  }

  export(records: ReadableLogRecord[], done: (r: ExportResult) => void): void {
    this.out.send(records, done);
  }

  exportSync(records: ReadableLogRecord[], timeoutMs: number): void {
    this.out.sendSync(records, timeoutMs);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.out.close();
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
