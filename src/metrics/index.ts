/**
 * The metrics pipeline (dist/metrics.cjs, loaded only when metrics are on): the
 * agent's meter provider (sdk.ts) as the global one, one reader per exporter of
 * OTEL_METRICS_EXPORTER (push: otlp, console, every OTEL_METRIC_EXPORT_INTERVAL;
 * pull: prometheus), and the runtime metrics.
 *
 * At exit the same synchronous path as spans (exit.ts): whatever was recorded
 * since the last export is collected synchronously and sent by the exit-time
 * sender, within OTEL_AGENT_FLUSH_TIMEOUT, so a point recorded just before
 * process.exit() or a SIGTERM is delivered.
 */
import { metrics } from '@opentelemetry/api';
import type { AgentConfig } from '../env';
import type { AgentLog } from '../log';
import { GrpcSignalSender, HttpSignalSender, type SignalSender } from '../exporters/signal-sender';
import { AGENT_VERSION } from '../version';
import { AgentMeterProvider, type ReaderSpec, type ScopeData } from './sdk';
import type { Kind, Temporality } from './series';
import { encodeMetricsJson, encodeMetricsProto, type MetricsBatch, type ResourceLike } from './otlp-encode';
import { printMetrics } from './console';
import { startPrometheus } from './prometheus';
import { startRuntimeMetrics } from './runtime';

export interface MetricsHandle {
  /** Something was recorded since the last export of a push exporter (what makes the exit flush send). */
  pending(): number;
  /** process.exit(), a signal, or the loop drained ('exit'): collect synchronously and send. */
  flushSync(timeoutMs: number): void;
  /** The loop drained: one last asynchronous export (the exit flush then finds nothing new). */
  exitFlush(): Promise<void>;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
  /** For the test of the recording API and the doctor: the provider. */
  provider: AgentMeterProvider;
}

/** OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, as the metrics SDK specification defines its three values. */
export function temporalityFor(pref: 'cumulative' | 'delta' | 'lowmemory'): (k: Kind) => Temporality {
  if (pref === 'cumulative') return () => 'cumulative';
  if (pref === 'delta') return (k) => (k === 'updowncounter' || k === 'obs-updowncounter' ? 'cumulative' : 'delta');
  return (k) => (k === 'counter' || k === 'histogram' ? 'delta' : 'cumulative');
}

const GRPC_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

interface Push {
  index: number;
  name: string;
  send(batch: MetricsBatch, done: () => void): void;
  sendSync(batch: MetricsBatch, timeoutMs: number): void;
  exit(): void;
  close(): Promise<void>;
  /** Collected and handed to the sender, not answered yet: sent again at exit rather than lost with the process. */
  inflight: Set<MetricsBatch>;
}

function otlpSender(cfg: AgentConfig, log: AgentLog): SignalSender<MetricsBatch> {
  const o = cfg.signals.metricsOtlp!;
  const hold = cfg.agent.flushTimeoutMs;
  if (o.protocol === 'grpc') return new GrpcSignalSender('metrics', o, GRPC_PATH, encodeMetricsProto, log, hold);
  return new HttpSignalSender('metrics', o, { json: { serializeRequest: encodeMetricsJson }, proto: { serializeRequest: encodeMetricsProto } }, log, hold);
}

function mergeBatches(list: MetricsBatch[]): MetricsBatch | undefined {
  if (!list.length) return undefined;
  return { resource: list[0]!.resource, scopes: list.flatMap((b) => b.scopes) };
}

export function startMetrics(cfg: AgentConfig, resource: ResourceLike, log: AgentLog): MetricsHandle {
  const s = cfg.signals;
  const names = cfg.metricsExporters.filter((n) => n !== 'none');
  const specs: ReaderSpec[] = names.map((n) => ({ temporality: n === 'prometheus' ? () => 'cumulative' : temporalityFor(s.temporality) }));
  const provider = new AgentMeterProvider(specs, s.cardinalityLimit, s.exemplarFilter, (m) => log.warnOnce(`metrics:${m}`, m), ['@x/otel-agent/runtime']);
  const stops: (() => void | Promise<void>)[] = [];
  const pushes: Push[] = [];

  names.forEach((name, index) => {
    if (name === 'prometheus') {
      const server = startPrometheus(s.prometheus, () => provider.collectSync(index), resource, log);
      stops.push(() => server.close());
      return;
    }
    const inflight = new Set<MetricsBatch>();
    if (name === 'console') {
      pushes.push({
        index,
        name,
        inflight,
        send: (b, done) => (printMetrics(b), done()),
        sendSync: (b) => printMetrics(b),
        exit: () => undefined,
        close: async () => undefined,
      });
      return;
    }
    const sender = otlpSender(cfg, log);
    sender.report.byDefault = s.metricsByDefault;
    pushes.push({
      index,
      name,
      inflight,
      send: (b, done) => sender.send(b, done),
      sendSync: (b, ms) => sender.sendSync(b, ms),
      exit: () => sender.exit(),
      close: () => sender.close(),
    });
  });

  const batchOf = (scopes: ScopeData[]): MetricsBatch => ({ resource, scopes });
  const exportOnce = async (p: Push): Promise<void> => {
    const scopes = await provider.collect(p.index, s.metricTimeoutMs);
    if (!scopes.length) return;
    const batch = batchOf(scopes);
    p.inflight.add(batch);
    await new Promise<void>((resolve) => {
      // Bounded by OTEL_METRIC_EXPORT_TIMEOUT; the batch stays "in flight" until its answer, for the exit flush.
      const t = setTimeout(resolve, s.metricTimeoutMs);
      t.unref();
      try {
        p.send(batch, () => {
          clearTimeout(t);
          p.inflight.delete(batch);
          resolve();
        });
      } catch (e) {
        log.debug(`metrics export failed: ${String(e)}`);
        clearTimeout(t);
        p.inflight.delete(batch);
        resolve();
      }
    });
  };

  let busy = false;
  /** `onlyNew`: at exit, only exporters with something recorded since their last export (not the runtime metrics alone). */
  const exportAll = async (onlyNew = false): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const due = onlyNew ? pushes.filter((p) => provider.hasNew(p.index)) : pushes;
      await Promise.all(due.map((p) => exportOnce(p).catch((e) => log.debug(`metrics export failed: ${String(e)}`))));
    } finally {
      busy = false;
    }
  };
  if (pushes.length) {
    const timer = setInterval(() => void exportAll(false), s.metricIntervalMs);
    timer.unref();
    stops.push(() => clearInterval(timer));
  }

  if (!metrics.setGlobalMeterProvider(provider))
    log.warn('another OpenTelemetry SDK registered a global meter provider first; OTEL_METRICS_EXPORTER is ignored');
  else if (cfg.agent.runtimeMetrics) {
    try {
      const runtime = startRuntimeMetrics(provider.getMeter('@x/otel-agent/runtime', AGENT_VERSION));
      stops.push(() => runtime.stop());
    } catch (e) {
      log.warn(`runtime metrics could not start (${e instanceof Error ? e.message : String(e)}); the other metrics go on`);
    }
  }

  let exiting = false;
  return {
    provider,
    pending: () => (exiting ? 0 : pushes.reduce((n, p) => n + (provider.hasNew(p.index) ? 1 : 0) + p.inflight.size, 0)),
    flushSync: (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (const p of pushes) {
        const list = [...p.inflight];
        p.inflight.clear();
        if (provider.hasNew(p.index) || list.length) {
          const scopes = provider.collectSync(p.index);
          if (scopes.length) list.push(batchOf(scopes));
        }
        const batch = mergeBatches(list);
        if (batch) p.sendSync(batch, Math.max(1, deadline - Date.now()));
      }
    },
    // A process that recorded nothing but runtime metrics since the last export (a CLI, `node -e`)
    // sends nothing at exit: a network round trip per process end for no request metrics is not worth it.
    exitFlush: async () => {
      for (const p of pushes) p.exit();
      await exportAll(true);
    },
    forceFlush: () => exportAll(false),
    shutdown: async () => {
      exiting = true;
      for (const f of stops) await f();
      await exportAll(false);
      await Promise.all(pushes.map((p) => p.close()));
    },
  };
}
