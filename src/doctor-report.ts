/**
 * The machine-readable report `otel-agent doctor` reads: the file
 * OTEL_AGENT_DOCTOR_REPORT names, rewritten (atomically, coalesced per tick)
 * as the app starts, loads modules and exports, and once more, final, at exit.
 * Module records come from the module watcher (module-watcher.ts); this file
 * adds the startup facts, conflicts, activations, per-exporter outcomes and
 * the doctor's test span.
 */
import { context, SpanKind } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { AlwaysOnSampler, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Resource } from '@opentelemetry/resources';
import type * as fsT from 'node:fs';
import { AgentTracerProvider } from './tracer';
import type { AgentConfig } from './env';
import type { AgentLog } from './log';
import type { ActivationRecord } from './instrumentations/loader';
import type { AgentExporter, ExportOutcome, PipelineStats, QueuedSpan } from './processor';
import type { How, ModuleRecord, RecordSink } from './module-watcher';
import { AGENT_VERSION } from './version';
import type { SignalListeners } from './exit-signals';
import { watchSignalListeners, type SignalListenerRecord, type SignalSeenRecord } from './doctor-signals';

const fs = process.getBuiltinModule('node:fs') as typeof fsT;

export interface ReportExport {
  exporter: string;
  ok: number;
  failed: number;
  lastError?: string;
}

/** The file OTEL_AGENT_DOCTOR_REPORT names; `otel-agent doctor` reads it. */
export interface DoctorReport {
  format: 1;
  final: boolean;
  agentVersion: string;
  node: string;
  pid: number;
  serviceName: string;
  exporters: string[];
  sampler: string;
  propagators: string[];
  hooks: { cjs: boolean; esm: 'sync' | 'async' | 'off' };
  instrumentations: { enabled: string[]; disabled: { name: string; reason: string }[] };
  conflicts: string[];
  activations: { name: string; trigger: string; how: How; atMs: number; ok: boolean; error?: string; instrumentations: number }[];
  modules: ModuleRecord[];
  exports: ReportExport[];
  testSpan?: { traceId: string; spanId: string; exported: boolean; error?: string };
  stats?: PipelineStats;
  /** Termination-signal listeners and what the agent did when a signal came (doctor-signals.ts). */
  signals?: { listeners: SignalListenerRecord[]; seen: SignalSeenRecord[] };
}

const now = (): number => Math.round(performance.now());

export class DoctorReportFile implements RecordSink {
  private readonly report: DoctorReport;
  private writing = false;
  private pendingWrite = false;
  private testSpanId: string | undefined;
  private signalWatch: ReturnType<typeof watchSignalListeners> | undefined;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly log: AgentLog,
    instrumentations: DoctorReport['instrumentations'],
  ) {
    this.report = {
      format: 1,
      final: false,
      agentVersion: AGENT_VERSION,
      node: process.versions.node,
      pid: process.pid,
      serviceName: cfg.serviceName,
      exporters: [],
      sampler: cfg.sampler.name,
      propagators: [...cfg.propagators],
      hooks: { cjs: false, esm: 'off' },
      instrumentations,
      conflicts: [],
      activations: [],
      modules: [],
      exports: [],
    };
  }

  startup(info: { serviceName: string; exporters: string[]; hooks: DoctorReport['hooks'] }): void {
    this.report.serviceName = info.serviceName;
    this.report.exporters = info.exporters;
    this.report.hooks = info.hooks;
    this.changed();
  }

  /** Starts naming who installs SIGTERM/SIGINT/SIGHUP listeners (only when a report is written). */
  watchSignals(agentDir: string): void {
    if (!this.cfg.agent.doctorReport || this.signalWatch) return;
    this.report.signals = { listeners: [], seen: [] };
    this.signalWatch = watchSignalListeners(agentDir, () => this.changed());
  }

  /** exit.ts's signalSeen hook: a signal arrived, these listened, and the agent acted or deferred. */
  signalSeen(sig: string, l: SignalListeners & { handled: boolean }, agentActed: boolean): void {
    if (!this.signalWatch || !this.report.signals) return;
    this.snapshotSignals();
    const listeners = this.report.signals.listeners.filter((r) => r.signal === sig && r.kind !== 'agent').map((r) => r.owner);
    this.report.signals.seen.push({ signal: sig, signalExitV3: l.signalExitV3, signalExitV4: l.signalExitV4, others: l.others, agentActed, listeners });
    this.write();
  }

  /** Listeners come and go (signal-exit removes its own at exit): keep the fullest picture seen. */
  private snapshotSignals(): void {
    const sig = this.report.signals;
    if (!this.signalWatch || !sig) return;
    const now = this.signalWatch.records();
    if (now.length >= sig.listeners.length) sig.listeners = now;
  }

  /** A second OpenTelemetry setup holds a global: warned about, and listed for the doctor. */
  conflict(msg: string): void {
    this.report.conflicts.push(msg);
    this.log.warn(msg);
    this.changed();
  }

  activated(rec: ActivationRecord): void {
    this.report.activations.push({
      name: rec.name,
      trigger: rec.trigger,
      how: rec.how,
      atMs: now(),
      ok: rec.ok,
      error: rec.error,
      instrumentations: rec.instrumentations.length,
    });
  }

  add(rec: ModuleRecord): void {
    this.report.modules.push(rec);
  }

  /** Wraps an exporter so the report knows what reached it (only when a report is written). */
  wrapExporter(e: AgentExporter): AgentExporter {
    if (!this.cfg.agent.doctorReport) return e;
    const st: ReportExport = { exporter: e.description, ok: 0, failed: 0 };
    this.report.exports.push(st);
    // The wrapper has no compact(): the batches it sees hold the spans themselves.
    const note = (spans: QueuedSpan[], o: ExportOutcome): void => {
      if (o.ok) st.ok += spans.length;
      else {
        st.failed += spans.length;
        st.lastError = o.error;
      }
      const t = this.report.testSpan;
      if (t && !t.exported && spans.some((s) => 'spanContext' in s && s.spanContext().spanId === this.testSpanId)) {
        t.exported = o.ok;
        t.error = o.ok ? undefined : o.error;
      }
      this.changed();
    };
    return {
      description: e.description,
      export: async (spans, onAccepted) => {
        let o: ExportOutcome;
        try {
          o = await e.export(spans, onAccepted);
        } catch (err) {
          note(spans, { ok: false, error: err instanceof Error ? err.message : String(err) });
          throw err;
        }
        note(spans, o);
        return o;
      },
      exportSync: (spans, timeoutMs) => {
        let o: ExportOutcome;
        try {
          o = e.exportSync(spans, timeoutMs);
        } catch (err) {
          note(spans, { ok: false, error: err instanceof Error ? err.message : String(err) });
          throw err;
        }
        note(spans, o);
        return o;
      },
      shutdown: () => e.shutdown(),
    };
  }

  /**
   * The doctor's test span: sampled regardless of OTEL_TRACES_SAMPLER (the
   * question is whether the endpoint accepts spans, not what the sampler keeps),
   * through the same processors and exporters as the app's spans.
   */
  emitTestSpan(resource: Resource, processors: SpanProcessor[]): void {
    if (!this.cfg.agent.doctorReport) return;
    const tp = new AgentTracerProvider({ resource, sampler: new AlwaysOnSampler(), spanProcessors: processors });
    const span = tp.getTracer('@x/otel-agent', AGENT_VERSION).startSpan('otel-agent doctor', {
      kind: SpanKind.INTERNAL,
      attributes: { 'otel_agent.doctor': true },
    });
    const sc = span.spanContext();
    this.testSpanId = sc.spanId;
    this.report.testSpan = { traceId: sc.traceId, spanId: sc.spanId, exported: false };
    span.end();
    this.changed();
  }

  /** Writes the final report (the process is exiting). */
  final(stats: PipelineStats): void {
    this.report.stats = { ...stats };
    this.report.final = true;
    this.write();
  }

  changed(): void {
    if (!this.cfg.agent.doctorReport) return;
    // Coalesce: module loads come in bursts, and the report only needs the latest state.
    if (this.pendingWrite) return;
    this.pendingWrite = true;
    const t = setImmediate(() => {
      this.pendingWrite = false;
      this.write();
    });
    t.unref();
  }

  private write(): void {
    const file = this.cfg.agent.doctorReport;
    if (!file || this.writing) return;
    this.writing = true;
    this.snapshotSignals();
    try {
      // Our own bookkeeping must not show up as fs spans inside the app's traces.
      context.with(suppressTracing(context.active()), () => {
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(this.report, null, 2));
        fs.renameSync(tmp, file);
      });
    } catch (e) {
      this.log.warnOnce('doctor-report', `could not write OTEL_AGENT_DOCTOR_REPORT file ${file}: ${(e as Error).message}`);
    } finally {
      this.writing = false;
    }
  }
}
