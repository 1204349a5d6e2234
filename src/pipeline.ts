/**
 * The tracing pipeline from the frozen config: sampler, exporters, the span
 * processors in the order they must run (counting, redaction, the console's
 * open-span tracker, one batch per exporter, all guarded), and the tracer
 * provider. Nothing here is registered globally; global-registration.ts does that.
 */
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, type Sampler, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Resource } from '@opentelemetry/resources';
import { AgentTracerProvider } from './tracer';
import { envParent } from './env-context';
import { buildPropagator } from './propagators';
import type { AgentConfig } from './env';
import type { AgentLog } from './log';
import { buildResource } from './resource';
import { BatchProcessor, CountingProcessor, OpenSpans, newStats, type AgentExporter, type PipelineStats } from './processor';
import { configureQueryRedaction, RedactingProcessor } from './redact';
import { guardProcessors } from './contain';
import { OpenSpanTree } from './exit-uncaught';
import { PooledIdGenerator } from './ids';
import { ConsistentParentBasedSampler, ConsistentRatioSampler } from './tracer/consistent-sampler';
import { probeRules, RuleSampler } from './sampling/rules';
import { TailProcessor, TailSampler } from './sampling/tail';
import { SamplingReport } from './sampling/report';

/** The configured sampler, behind the sampling rules when there are any (src/sampling/rules.ts). */
export function buildSampler(cfg: AgentConfig): Sampler {
  const base = configuredSampler(cfg);
  const rules = [...(cfg.sampling.dropProbes ? probeRules() : []), ...cfg.sampling.rules];
  // A `sample` rule samples the way the ratio samplers do: consistently, by the trace's randomness.
  return rules.length ? new RuleSampler(rules, base, ratioSampler) : base;
}

/** A ratio of 0 is not a probability (the spec): never sample, no `th`. */
const ratioSampler = (r: number): Sampler => (r > 0 ? new ConsistentRatioSampler(r) : new AlwaysOffSampler());

/**
 * The ratio samplers are consistent probability samplers (tracer/consistent-sampler.ts,
 * docs/sampling.md).
 */
function configuredSampler(cfg: AgentConfig): Sampler {
  const ratio = (): Sampler => ratioSampler(cfg.sampler.ratio);
  switch (cfg.sampler.name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ConsistentParentBasedSampler(ratio());
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

export interface Pipeline {
  stats: PipelineStats;
  resource: Resource;
  exporters: AgentExporter[];
  batches: BatchProcessor[];
  provider: AgentTracerProvider;
  openSpans: OpenSpanTree;
  /** The sampler in use: a RuleSampler counts what its rules decided, for the exit summary. */
  sampler: Sampler;
  /** What the rules and the local tail mode decided (exit summary; at debug, while running). */
  sampling: SamplingReport;
}

/** `wrapExporter` lets the doctor's report see what reaches each exporter. */
export function buildPipeline(cfg: AgentConfig, log: AgentLog, wrapExporter: (e: AgentExporter) => AgentExporter): Pipeline {
  const stats = newStats();
  const open = cfg.tracesExporters.includes('console') ? new OpenSpans() : undefined;
  const exporters = buildExporters(cfg, log, open).map(wrapExporter);
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
  // Open spans of this process, so an uncaught exception can end the request's spans with it (src/exit-uncaught.ts).
  const openSpans = new OpenSpanTree();
  // Local tail mode (sampling/tail.ts): after redaction, so what it hands the batches is what they would have got.
  const tail = cfg.sampling.tail ? new TailProcessor(cfg.sampling.tail, (span) => batches.forEach((b) => b.enqueue(span))) : undefined;
  const processors: SpanProcessor[] = guardProcessors(
    [new CountingProcessor(stats), new RedactingProcessor(), ...(open ? [open] : []), ...(tail ? [tail] : []), ...batches],
    log,
    cfg.agent.testFaults,
  );

  const resource = buildResource(cfg);
  // Our own tracer (src/tracer.ts), not the SDK's: about half the SDK span's cost was its object and the garbage it makes.
  const configured = buildSampler(cfg);
  const sampler = tail ? new TailSampler(configured, tail) : configured;
  const sampling = new SamplingReport(configured, tail);
  sampling.startDebug(log);
  const provider = new AgentTracerProvider({
    resource,
    sampler,
    spanLimits: cfg.spanLimits,
    spanProcessors: processors,
    idGenerator: new PooledIdGenerator(),
    envParent: envParent(cfg, buildPropagator(cfg.propagators)),
  });
  return { stats, resource, exporters, batches, provider, openSpans, sampler, sampling };
}
