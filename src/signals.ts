/**
 * The logs pipeline. Set up only when OTEL_LOGS_EXPORTER names an exporter, and
 * this file (with the SDK parts it bundles) is loaded only then: pino/winston/bunyan
 * records are sent as OTLP logs in addition to being correlated. (Metrics have their
 * own pipeline and bundle: metrics/index.ts, dist/metrics.cjs.)
 */
// The logs API lives in @opentelemetry/api since 1.10, which is where the log
// instrumentations look for the global logger provider.
import { logs } from '@opentelemetry/api';
import { BatchLogRecordProcessor, ConsoleLogRecordExporter, LoggerProvider, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { Resource } from '@opentelemetry/resources';
import type { AgentConfig, OtlpConfig } from './env';
import { OtlpHttpLogExporter, SignalReport, reported } from './exporters/otlp-signal';
import { describeUrl, readTls } from './exporters/transport';
import type { AgentLog } from './log';
import { LogRedactingProcessor } from './logs-redact';
import { installConsoleLogs } from './console-logs';
import { AGENT_VERSION } from './version';
import { setExceptionPaths } from './stack-paths';

export interface SignalsHandle {
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
  /** The loop drained: one last export of everything, each bounded by OTEL_AGENT_FLUSH_TIMEOUT. */
  exitFlush(): Promise<void>;
  /** Log records still waiting in the batch processors (for the exit flush of exit.ts). */
  pending(): number;
  /** process.exit() or a signal: the waiting log records, sent synchronously. */
  flushSync(timeoutMs: number): void;
}

/** The batch processor's queue (sdk-logs 3.x keeps it in `_finishedLogRecords`); taken at exit, when nothing else will send it. */
type Queued = { _finishedLogRecords?: ReadableLogRecord[] };
const queued = (p: BatchLogRecordProcessor): ReadableLogRecord[] | undefined => {
  const q = (p as unknown as Queued)._finishedLogRecords;
  return Array.isArray(q) ? q : undefined;
};

interface Exiting {
  exit?(): void;
}

/** Every setting handed to the upstream gRPC exporter explicitly, so its own reading of the environment changes nothing. */
function grpcOptions(o: OtlpConfig): Record<string, unknown> {
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(o.headers)) metadata.set(k, v);
  const tls = readTls(o);
  const credentials = o.endpoint.startsWith('https:')
    ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
    : grpc.credentials.createInsecure();
  return { url: o.endpoint, metadata, credentials, timeoutMillis: o.timeoutMs, compression: o.compression };
}

function logExporter(name: string, cfg: AgentConfig, log: AgentLog): LogRecordExporter {
  if (name === 'console') return new ConsoleLogRecordExporter();
  const o = cfg.signals.logsOtlp!;
  if (o.protocol !== 'grpc') return new OtlpHttpLogExporter(o, log, cfg.agent.flushTimeoutMs);
  const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-grpc') as typeof import('@opentelemetry/exporter-logs-otlp-grpc');
  return reported(new OTLPLogExporter(grpcOptions(o)), new SignalReport('logs', `OTLP grpc ${describeUrl(o.endpoint)}`, log));
}

export function startSignals(cfg: AgentConfig, resource: Resource, log: AgentLog): SignalsHandle {
  const parts: { shutdown(): Promise<void>; forceFlush(): Promise<void> }[] = [];
  const exporters: Exiting[] = [];
  const atExit: { processor: BatchLogRecordProcessor; exporter: OtlpHttpLogExporter }[] = [];
  const keep = <E extends object>(e: E): E => (exporters.push(e as Exiting), e);
  if (cfg.logsExporters.length) {
    // This bundle has its own copy of stack-paths.ts (agent.ts sets the tracer's).
    setExceptionPaths(cfg.agent.exceptionPaths, process.cwd());
    const b = cfg.signals.blrp;
    const lp = new LoggerProvider({
      resource,
      logRecordLimits: cfg.signals.logLimits,
      // Redaction first: the batch processors keep the record as it is when they see it.
      processors: [
        new LogRedactingProcessor(),
        ...cfg.logsExporters.map((n) => {
          const exporter = keep(logExporter(n, cfg, log));
          const processor = new BatchLogRecordProcessor({
            exporter,
            scheduledDelayMillis: b.scheduleDelayMs,
            exportTimeoutMillis: b.exportTimeoutMs,
            maxQueueSize: b.maxQueueSize,
            maxExportBatchSize: b.maxExportBatchSize,
          });
          if (exporter instanceof OtlpHttpLogExporter) atExit.push({ processor, exporter });
          return processor;
        }),
      ],
    });
    if (!logs.setGlobalLoggerProvider(lp)) log.warn('another OpenTelemetry SDK registered a global logger provider first; OTEL_LOGS_EXPORTER is ignored');
    else {
      // @opentelemetry/winston-transport (what instrumentation-winston sends through) still asks the
      // older @opentelemetry/api-logs package, whose global is a slot of its own: the same provider goes there too.
      const { logs: apiLogs } = require('@opentelemetry/api-logs') as typeof import('@opentelemetry/api-logs');
      apiLogs.setGlobalLoggerProvider(lp as unknown as Parameters<typeof apiLogs.setGlobalLoggerProvider>[0]);
      if (cfg.agent.consoleLogs) {
        try {
          installConsoleLogs(lp.getLogger('@x/otel-agent/console', AGENT_VERSION));
        } catch (e) {
          log.warn(`OTEL_AGENT_CONSOLE_LOGS: console calls cannot be sent as log records (${(e as Error).message}); console output is unchanged`);
        }
      }
    }
    parts.push(lp);
  }
  return {
    shutdown: async () => {
      await Promise.all(parts.map((p) => p.shutdown().catch(() => undefined)));
    },
    forceFlush: async () => {
      await Promise.all(parts.map((p) => p.forceFlush().catch(() => undefined)));
    },
    pending: () => atExit.reduce((n, x) => n + (queued(x.processor)?.length ?? 0), 0),
    flushSync: (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (const x of atExit) {
        const q = queued(x.processor);
        if (!q?.length) continue;
        const records = q.splice(0, q.length);
        x.exporter.exportSync(records, Math.max(1, deadline - Date.now()));
      }
    },
    exitFlush: async () => {
      for (const e of exporters) e.exit?.();
      await Promise.all(parts.map((p) => p.forceFlush().catch(() => undefined)));
    },
  };
}
