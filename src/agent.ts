/**
 * Starts the tracing pipeline from the frozen config: context manager,
 * propagators, sampler, resource, span processors and exporters, the lazy
 * instrumentation loader, the ESM hooks and the exit handling.
 *
 * Loaded only by register.ts, after it has decided the agent should run.
 */
import { context, propagation, trace, diag } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { LeanTracerProvider } from './tracer';
import { loadConfig, type AgentConfig } from './env';
import { createLog, installDiag, type AgentLog } from './log';
import { buildPropagator } from './propagators';
import { dropCounts } from './propagation/guard';
import { buildResource } from './resource';
import { BatchProcessor, CountingProcessor, OpenSpans, newStats, type AgentExporter, type PipelineStats } from './processor';
import { configureQueryRedaction, RedactingProcessor } from './redact';
import { installExitHandling } from './exit';
import { NotingContextManager, OpenSpanTree } from './exit-uncaught';
import { containInstrumentations, guardProcessors } from './contain';
import { ENTRIES, enabledEntries } from './instrumentations/index';
import { Diagnostics, describeExporters, describeHooks, globalOwner, globalTaken } from './diagnostics';
import { installEsmHooks, installLazyLoader, quiet, type LazyLoader } from './instrumentations/loader';
import { startQueueHooks } from './queue-hooks/activate';
import { AGENT_VERSION } from './version';
import { PooledIdGenerator } from './ids';
import { describeUrl } from './exporters/transport';

export interface AgentHandle {
  config: AgentConfig;
  provider: LeanTracerProvider;
  stats: PipelineStats;
  loader: LazyLoader | undefined;
  esm: 'sync' | 'async' | 'off';
  /** Propagation fields that could not be carried (invalid in a header, over the limits), since start. */
  propagation: { readonly dropped: number };
  flush(): Promise<void>;
}

export function buildSampler(cfg: AgentConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(cfg.sampler.ratio);
  switch (cfg.sampler.name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

export function buildExporters(cfg: AgentConfig, log: AgentLog, open?: OpenSpans): AgentExporter[] {
  const out: AgentExporter[] = [];
  for (const name of cfg.tracesExporters) {
    try {
      if (name === 'console') {
        const { ConsoleTreeExporter } = require('./exporters/console-tree') as typeof import('./exporters/console-tree');
        out.push(new ConsoleTreeExporter(open?.has));
      } else if (name === 'zipkin') {
        const { ZipkinExporter } = require('./exporters/zipkin') as typeof import('./exporters/zipkin');
        out.push(new ZipkinExporter(cfg.zipkinEndpoint, cfg.otlp.timeoutMs, cfg.agent.flushTimeoutMs));
      } else if (name === 'otlp') {
        const m = require('./exporters/otlp') as typeof import('./exporters/otlp');
        out.push(cfg.otlp.protocol === 'grpc' ? new m.OtlpGrpcExporter(cfg.otlp) : new m.OtlpHttpExporter(cfg.otlp, cfg.agent.flushTimeoutMs));
      }
    } catch (e) {
      log.error(`OTEL_TRACES_EXPORTER: the ${name} exporter could not be set up (${(e as Error).message}); spans will not be sent there`);
    }
  }
  return out;
}

const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token'];

/** Capturing a header is opt-in by name; naming one that carries credentials is allowed (it is the user's data) but said out loud once. */
function warnCredentialHeaders(cfg: AgentConfig, log: AgentLog): void {
  const lists: [string, readonly string[]][] = [
    ['OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST', cfg.http.captureServerRequestHeaders],
    ['OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE', cfg.http.captureServerResponseHeaders],
    ['OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST', cfg.http.captureClientRequestHeaders],
    ['OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE', cfg.http.captureClientResponseHeaders],
  ];
  for (const [name, headers] of lists) {
    const risky = headers.filter((h) => CREDENTIAL_HEADERS.includes(h));
    if (risky.length) log.warn(`${name} names ${risky.join(', ')}, which carr${risky.length > 1 ? 'y' : 'ies'} credentials: their values will be exported in span attributes as asked`);
  }
}

export function startAgent(cfg: AgentConfig = loadConfig()): AgentHandle {
  const log = createLog(cfg.logLevel);
  installDiag(log);
  for (const w of cfg.warnings) log.warn(w);
  warnCredentialHeaders(cfg, log);

  const stats = newStats();
  const entries = enabledEntries(cfg);
  const diagnostics = new Diagnostics(cfg, log, ENTRIES, entries);
  const open = cfg.tracesExporters.includes('console') ? new OpenSpans() : undefined;
  const exporters = buildExporters(cfg, log, open).map((e) => diagnostics.wrapExporter(e));
  const batches = exporters.map(
    (e) =>
      new BatchProcessor(
        e,
        // The console tree is for people watching: print as soon as a trace ends.
        e.description === 'console' ? { ...cfg.bsp, scheduleDelayMs: Math.min(cfg.bsp.scheduleDelayMs, 50) } : cfg.bsp,
        stats,
        log,
      ),
  );
  // Before any instrumentation loads: every copy of src/redact.ts reads the names from one global.
  configureQueryRedaction(cfg.agent.redactQueryParams);
  const openSpans = new OpenSpanTree();
  const processors: SpanProcessor[] = guardProcessors(
    [new CountingProcessor(stats), new RedactingProcessor(), openSpans, ...(open ? [open] : []), ...batches],
    log,
    cfg.agent.testFaults,
  );

  const resource = buildResource(cfg);
  // Our own tracer (src/tracer.ts), not the SDK's: about half the SDK span's cost was its object and the garbage it makes.
  const provider = new LeanTracerProvider({
    resource,
    sampler: buildSampler(cfg),
    spanLimits: cfg.spanLimits,
    spanProcessors: processors,
    idGenerator: new PooledIdGenerator(),
  });

  const cm = new NotingContextManager().enable();
  if (globalTaken('context') || !context.setGlobalContextManager(cm)) {
    diagnostics.conflict(
      `another OpenTelemetry setup registered the global context manager first (${globalOwner('context')}); ` +
        'spans may not connect into traces. Load one OpenTelemetry SDK per process: remove the other setup, or set OTEL_SDK_DISABLED=true for this agent',
    );
  }
  if (globalTaken('propagation') || !propagation.setGlobalPropagator(buildPropagator(cfg.propagators))) {
    diagnostics.conflict(`another OpenTelemetry setup registered the global propagator first (${globalOwner('propagation')}); OTEL_PROPAGATORS is not applied`);
  }
  if (globalTaken('trace') || !trace.setGlobalTracerProvider(provider)) {
    diagnostics.conflict(
      `another OpenTelemetry SDK registered the global tracer provider first (${globalOwner('trace')}); ` +
        "the instrumentations' and the app's spans go to that SDK, not to this agent's exporters. " +
        'Load one OpenTelemetry SDK per process: remove the other setup, or set OTEL_SDK_DISABLED=true for this agent',
    );
  }

  // console is a global, not a module load, so no table entry can trigger it.
  if (cfg.agent.logCorrelation.includes('console')) {
    try {
      (require(`${__dirname}/instr/console.cjs`) as typeof import('./instrumentations/own/console')).installConsoleCorrelation();
    } catch (e) {
      log.warn(`console log correlation could not be set up (${(e as Error).message}); console output will not carry trace ids`);
    }
  }

  if (cfg.metricsExporters.length || cfg.logsExporters.length) {
    try {
      const signals = (require(`${__dirname}/signals.cjs`) as typeof import('./signals')).startSignals(cfg, resource, log);
      // Metric and log exporters are asynchronous: give them one bounded chance when the loop drains.
      process.once('beforeExit', () => void signals.forceFlush());
    } catch (e) {
      log.warn(`OTEL_METRICS_EXPORTER/OTEL_LOGS_EXPORTER: the pipeline could not be set up (${(e as Error).message}); traces are unaffected`);
    }
  }

  let loader: LazyLoader | undefined;
  let esm: 'sync' | 'async' | 'off' = 'off';
  // Queue hooks name the app's own files, which no package load announces: they start now, not lazily.
  let queueHooks: ReturnType<typeof startQueueHooks>;
  try {
    queueHooks = startQueueHooks(cfg, log);
  } catch (e) {
    log.warn(`OTEL_AGENT_QUEUE_HOOKS: the queue hooks could not be set up (${(e as Error).message}); the app runs without them`);
  }
  if (entries.length || queueHooks) {
    // Create the shared require-in-the-middle hook now, before the app's first
    // require: instrumentations activated later register into it, and it must
    // already wrap require() when their module's first require() starts.
    const { InstrumentationBase } = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
    class Bootstrap extends InstrumentationBase {
      constructor() {
        super('@x/otel-agent/bootstrap', AGENT_VERSION, { enabled: false });
      }
      protected init(): [] {
        return [];
      }
    }
    new Bootstrap();
    // Patching runs when the app requires a module, often inside a traced
    // request; the instrumentations read package.json files with fs while they
    // do it, which must not appear as the request's fs spans.
    const proto = InstrumentationBase.prototype as unknown as { _onRequire?: (...a: unknown[]) => unknown };
    const onRequire = proto._onRequire;
    if (typeof onRequire === 'function') {
      proto._onRequire = function (this: unknown, ...a: unknown[]) {
        return quiet(() => onRequire.apply(this, a));
      };
    }
    // ESM hooks first: their own module loads must not look like the app's.
    try {
      esm = installEsmHooks(
        [...entries.flatMap((e) => [...e.esm]), ...(queueHooks?.esmInclude ?? [])],
        cfg.agent.esmHooks,
      );
    } catch (e) {
      log.warn(`ESM hooks could not be installed (${(e as Error).message}); modules loaded with import will not be traced`);
    }
    loader = installLazyLoader(
      entries,
      { cfg, log },
      (r) => {
        // Diagnostics first, so containment's wrappers sit outside ours and a throwing patch reaches both.
        diagnostics.activated(r);
        containInstrumentations(r.name, r.instrumentations, log, cfg.agent.testFaults);
        if (r.ok) log.debug(`instrumentation "${r.name}" loaded on ${r.how} of "${r.trigger}"`);
      },
      diagnostics.observer(),
    );
  }

  const flush = async (): Promise<void> => {
    await Promise.all(batches.map((b) => b.forceFlush()));
  };
  installExitHandling(
    {
      pending: () => batches.reduce((n, b) => n + b.pending(), 0),
      flushSync: (ms) => {
        const deadline = Date.now() + ms;
        for (const b of batches) b.flushSync(Math.max(1, deadline - Date.now()));
      },
      openSpans,
      flush,
      reopen: () => {
        for (const b of batches) b.reopen();
      },
      summary: () => {
        // Runs once, after the final flush: the doctor's report gets its final numbers here too.
        diagnostics.final(stats);
        return stats.dropped || stats.failed || stats.rejected || dropCounts.dropped
          ? `spans: ${stats.started} started, ${stats.exported} exported, ${stats.dropped} dropped (queue full), ${stats.failed} lost in ${stats.exportFailures} failed export(s)` +
              (stats.rejected ? `, ${stats.rejected} rejected by the collector (partial success)` : '') +
              (dropCounts.dropped ? `; propagation: ${dropCounts.dropped} header field(s) not sent (not valid in a header)` : '')
          : undefined;
      },
    },
    cfg.agent.flushTimeoutMs,
    log,
  );

  const serviceName = String(resource.attributes['service.name'] ?? 'unknown_service:node');
  const cjsHooks = !!loader;
  diagnostics.startup({ serviceName, exporters: exporters.map((e) => e.description), hooks: { cjs: cjsHooks, esm } });
  log.info(
    `@x/otel-agent ${AGENT_VERSION} on Node ${process.versions.node}: service "${serviceName}", ` +
      `${describeExporters(cfg, exporters.map((e) => e.description))}, sampler ${cfg.sampler.name}` +
      (cfg.sampler.name.includes('ratio') ? `(${cfg.sampler.ratio})` : '') +
      `, propagators ${cfg.propagators.join(',') || 'none'}, ${describeHooks(cjsHooks, esm, cfg)}, ` +
      `instrumentations ${entries.length} of ${ENTRIES.length} enabled` +
      (entries.length < ENTRIES.length ? ` (off: ${ENTRIES.filter((e) => !entries.includes(e)).map((e) => e.name).join(', ')})` : ''),
  );
  if (cfg.agent.doctorReport) {
    diagnostics.emitTestSpan(resource, [new CountingProcessor(stats), ...batches]);
    // Send it now rather than after OTEL_BSP_SCHEDULE_DELAY: the doctor runs the app for a few seconds only.
    setImmediate(() => void flush().catch(() => undefined)).unref();
  }
  diag.debug(`otlp endpoint ${describeUrl(cfg.otlp.endpoint)}`);

  return { config: cfg, provider, stats, loader, esm, propagation: dropCounts, flush };
}
