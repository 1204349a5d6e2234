/**
 * Starts the agent from the frozen config, in order: warnings about the
 * config, the tracing pipeline (pipeline.ts), the OpenTelemetry globals
 * (global-registration.ts), console correlation and the metrics/logs signals,
 * the queue hooks and the module hooks that load instrumentations lazily
 * (module-hooks.ts), exit handling, and the startup line (startup-line.ts).
 *
 * Loaded only by register.ts, after it has decided the agent should run.
 */
import { diag } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { AgentTracerProvider } from './tracer';
import { loadConfig, type AgentConfig } from './env';
import { createLog, installDiag, type AgentLog } from './log';
import { CountingProcessor, type BatchProcessor, type PipelineStats } from './processor';
import { installExitHandling } from './exit';
import { containInstrumentations } from './contain';
import { ENTRIES, enabledEntries } from './instrumentations/index';
import type { LazyLoader } from './instrumentations/loader';
import { ModuleWatcher } from './module-watcher';
import { DoctorReportFile } from './doctor-report';
import { buildPipeline } from './pipeline';
import { registerGlobals } from './global-registration';
import { installModuleHooks } from './module-hooks';
import { startupLine } from './startup-line';
import { warnCredentialHeaders } from './credential-headers';
import { disabledReason } from './disabled-reason';
import { startQueueHooks } from './instrumentations/queue-hooks/activate';
import { loadExtraInstrumentations } from './instrumentations/extra/load';
import { describeUrl } from './exporters/transport';
import { dropCounts } from './propagation/guard';
import { bundleWarning, inspectBundle } from './bundle-check';
import { packageName } from './package-name';
import { setExceptionPaths } from './stack-paths';

export interface AgentHandle {
  config: AgentConfig;
  provider: AgentTracerProvider;
  stats: PipelineStats;
  loader: LazyLoader | undefined;
  esm: 'sync' | 'async' | 'off';
  /** Propagation fields that could not be carried (invalid in a header, over the limits), since start. */
  propagation: { readonly dropped: number };
  flush(): Promise<void>;
}

interface OptionalSignals {
  logs?: import('./signals').SignalsHandle;
  metrics?: import('./metrics/index').MetricsHandle;
}

/** Signals and correlations that are not module loads: no lazy-loader entry can trigger them. */
function startOptionalSignals(cfg: AgentConfig, resource: Resource, log: AgentLog): OptionalSignals {
  // console is a global, not a module load, so no table entry can trigger it.
  if (cfg.agent.logCorrelation.includes('console')) {
    try {
      (require(`${__dirname}/instr/console.cjs`) as typeof import('./instrumentations/console')).installConsoleCorrelation();
    } catch (e) {
      log.warn(`console log correlation could not be set up (${(e as Error).message}); console output will not carry trace ids`);
    }
  }
  const out: OptionalSignals = {};
  // Before the logs pipeline: a log record's own instrumentation may record metrics.
  if (cfg.metricsExporters.some((n) => n !== 'none')) {
    try {
      out.metrics = (require(`${__dirname}/metrics.cjs`) as typeof import('./metrics/index')).startMetrics(cfg, resource, log);
    } catch (e) {
      log.warn(`OTEL_METRICS_EXPORTER: the metrics pipeline could not be set up (${(e as Error).message}); traces are unaffected`);
    }
  }
  if (cfg.logsExporters.length) {
    try {
      out.logs = (require(`${__dirname}/signals.cjs`) as typeof import('./signals')).startSignals(cfg, resource, log);
    } catch (e) {
      log.warn(`OTEL_LOGS_EXPORTER: the logs pipeline could not be set up (${(e as Error).message}); traces are unaffected`);
    }
  }
  if (out.metrics || out.logs) {
    // Give the asynchronous exporters one chance when the loop drains, bounded by OTEL_AGENT_FLUSH_TIMEOUT;
    // what is still pending at 'exit' goes through the synchronous flush with the spans.
    process.once('beforeExit', () => {
      void out.metrics?.exitFlush();
      void out.logs?.exitFlush();
    });
  }
  return out;
}

function lostSummary(stats: PipelineStats): string | undefined {
  return stats.dropped || stats.failed || stats.rejected || dropCounts.dropped
    ? `spans: ${stats.started} started, ${stats.exported} exported, ${stats.dropped} dropped (queue full), ${stats.failed} lost in ${stats.exportFailures} failed export(s)` +
        (stats.rejected ? `, ${stats.rejected} rejected by the collector (partial success)` : '') +
        (dropCounts.dropped ? `; propagation: ${dropCounts.dropped} header field(s) not sent (not valid in a header)` : '')
    : undefined;
}

/** A bundle built without the build plugin hides its packages from the hooks: said once, at startup (bundle-check.ts). */
function warnBlindBundle(entries: { triggers: readonly string[] }[], log: AgentLog): void {
  try {
    const instrumented = (pkg: string): boolean => entries.some((e) => e.triggers.some((t) => (t.endsWith('/') ? pkg.startsWith(t) : packageName(t) === pkg)));
    const w = bundleWarning(inspectBundle(process.argv[1], instrumented));
    if (w) log.warn(w);
  } catch {
    /* a diagnostic: never a reason to fail the start */
  }
}

export function startAgent(cfg: AgentConfig = loadConfig()): AgentHandle {
  const log = createLog(cfg.logLevel);
  installDiag(log);
  setExceptionPaths(cfg.agent.exceptionPaths, process.cwd());
  for (const w of cfg.warnings) log.warn(w);
  for (const n of cfg.notices) log.info(n);
  warnCredentialHeaders(cfg, log);

  const entries = enabledEntries(cfg);
  const off = ENTRIES.filter((e) => !entries.includes(e));
  const report = new DoctorReportFile(cfg, log, {
    enabled: entries.map((e) => e.name),
    disabled: off.map((e) => ({ name: e.name, reason: disabledReason(e, cfg) })),
  });
  // Before exit handling installs the agent's own signal listeners, so the doctor can tell them apart.
  report.watchSignals(__dirname);
  const watcher = new ModuleWatcher(cfg, log, report, off);

  const { stats, resource, exporters, batches, provider, openSpans, sampling } = buildPipeline(cfg, log, (e) => report.wrapExporter(e));
  registerGlobals(cfg, provider, (msg) => report.conflict(msg));
  const signals = startOptionalSignals(cfg, resource, log);

  let loader: LazyLoader | undefined;
  let esm: 'sync' | 'async' | 'off' = 'off';
  // Queue hooks name the app's own files, which no package load announces: they start now, not lazily.
  let queueHooks: ReturnType<typeof startQueueHooks>;
  try {
    queueHooks = startQueueHooks(cfg, log);
  } catch (e) {
    log.warn(`OTEL_AGENT_QUEUE_HOOKS: the queue hooks could not be set up (${(e as Error).message}); the app runs without them`);
  }
  // The app's own instrumentation packages: loaded now (their declared modules are the triggers), enabled lazily.
  let extras: ReturnType<typeof loadExtraInstrumentations> = [];
  try {
    extras = loadExtraInstrumentations(cfg.agent.extraInstrumentations, log, provider);
  } catch (e) {
    log.warn(`OTEL_AGENT_EXTRA_INSTRUMENTATIONS could not be set up (${(e as Error).message}); the app runs without them`);
  }
  if (entries.length || queueHooks || extras.length) {
    ({ loader, esm } = installModuleHooks(
      cfg,
      log,
      [...entries, ...extras],
      queueHooks?.esmInclude ?? [],
      (r) => {
        // Diagnostics first, so containment's wrappers sit outside ours and a throwing patch reaches both.
        report.activated(r);
        watcher.activated(r);
        containInstrumentations(r.name, r.instrumentations, log);
        if (r.ok) log.debug(`instrumentation "${r.name}" loaded on ${r.how} of "${r.trigger}"`);
      },
      watcher.observer(),
    ));
  }

  const flush = async (): Promise<void> => {
    await Promise.all([
      ...batches.map((b: BatchProcessor) => b.forceFlush()),
      signals.metrics?.forceFlush().catch(() => undefined),
      signals.logs?.forceFlush().catch(() => undefined),
    ]);
  };
  installExitHandling(
    {
      pending: () => batches.reduce((n, b) => n + b.pending(), 0) + (signals.logs?.pending() ?? 0) + (signals.metrics?.pending() ?? 0),
      flushSync: (ms) => {
        const deadline = Date.now() + ms;
        for (const b of batches) b.flushSync(Math.max(1, deadline - Date.now()));
        // Log records waiting in their batch processors (signals.ts) and the metric points recorded since the
        // last export (metrics/index.ts) go the same way; one failing cannot stop the others.
        for (const sig of [signals.logs, signals.metrics]) {
          try {
            sig?.flushSync(Math.max(1, deadline - Date.now()));
          } catch {
            // counted and reported by that signal's exporter
          }
        }
      },
      openSpans,
      flush,
      signalSeen: (sig, l) => report.signalSeen(sig, l, l.handled),
      reopen: () => {
        for (const b of batches) b.reopen();
      },
      summary: () => {
        // Runs once, after the final flush: the doctor's report gets its final numbers here too.
        watcher.final();
        report.final(stats);
        sampling.stop();
        return [lostSummary(stats), sampling.text()].filter(Boolean).join('; ') || undefined;
      },
    },
    cfg.agent.flushTimeoutMs,
    log,
  );

  const serviceName = String(resource.attributes['service.name'] ?? 'unknown_service:node');
  const descriptions = exporters.map((e) => e.description);
  report.startup({ serviceName, exporters: descriptions, hooks: { cjs: !!loader, esm } });
  log.info(startupLine(cfg, { serviceName, exporters: descriptions, cjsHooks: !!loader, esm, enabled: entries, all: ENTRIES }));
  if (loader) warnBlindBundle([...entries, ...extras], log);
  if (cfg.agent.doctorReport) {
    report.emitTestSpan(resource, [new CountingProcessor(stats), ...batches]);
    // Send it now rather than after OTEL_BSP_SCHEDULE_DELAY: the doctor runs the app for a few seconds only.
    setImmediate(() => void flush().catch(() => undefined)).unref();
  }
  diag.debug(`otlp endpoint ${describeUrl(cfg.otlp.endpoint)}`);

  return { config: cfg, provider, stats, loader, esm, propagation: dropCounts, flush };
}
