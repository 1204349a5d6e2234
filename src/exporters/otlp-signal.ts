/**
 * OTLP export of logs. Over http/protobuf and http/json the body comes from the
 * upstream serializers and goes through the agent's own transport (signal-sender.ts):
 * the upstream HTTP exporters read OTEL_EXPORTER_OTLP_* themselves and merge those
 * headers in, which would undo OTEL_CONFIG_FILE. gRPC goes through the upstream
 * exporter, given every setting explicitly (signals.ts). Metrics have their own
 * encoder and senders (metrics/).
 */
import type { ExportResult } from '@opentelemetry/core';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { OtlpConfig } from '../env';
import type { AgentLog } from '../log';
import { HttpSignalSender, type SignalReport } from './signal-sender';

export { SignalReport, reported } from './signal-sender';

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
