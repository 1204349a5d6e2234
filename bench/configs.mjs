import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// The configurations the bench compares, each as node flags (for a CommonJS or
// an ES module entry) plus environment. `sink` is the bench's local collector
// ({ up, hang, closed } base URLs).

const OTEL_COMMON = { OTEL_SERVICE_NAME: 'bench' };
const RATIO_10 = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' };

// Traces only unless a configuration says otherwise: metrics are on by default with
// OTLP traces (docs/metrics.md), but the upstream and dd-trace rows export traces
// only, so the trace rows compare like with like; agentMetrics1 prices the metrics.
function agentEnv(endpoint, extra = {}) {
  return {
    ...OTEL_COMMON,
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_METRICS_EXPORTER: 'none',
    ...extra,
  };
}

// The way users load this agent: the package name, resolved from the bench's
// working directory (the package itself).
const agentArgs = (esm) => (esm ? ['--import', '@x/otel-agent'] : ['--require', '@x/otel-agent']);

/**
 * `alts` ({ name: distDir }) adds four configurations per other build of this
 * agent, loaded from that dist/: `alt:<name>` with the same environment as
 * `agent`, `alt:<name>Off` as `agentOff`, `alt:<name>10` and
 * `alt:<name>10NoExport` as `agent10` and `agent10NoExport`: for measuring a change before and
 * after in one interleaved run. The dist/ must sit inside this repository
 * (its bundles resolve node_modules from there), e.g. .cache/dist-before.
 */
export function allConfigs(sink, alts = {}) {
  const altArgs = (dir) => (esm) => (esm ? ['--import', pathToFileURL(join(dir, 'register.mjs')).href] : ['--require', join(dir, 'register.cjs')]);
  // alt:<name>Off: the same build with the sampler always_off (like agentOff); alt:<name>10 and
  // alt:<name>10NoExport: at 10% (like agent10, agent10NoExport).
  const altConfigs = Object.fromEntries(
    Object.entries(alts).flatMap(([name, dir]) => [
      [`alt:${name}`, { label: `this agent (${name} build), OTLP http/protobuf`, args: altArgs(dir), env: agentEnv(sink.up) }],
      [
        `alt:${name}Off`,
        { label: `this agent (${name} build), sampler always_off`, args: altArgs(dir), env: agentEnv(sink.up, { OTEL_TRACES_SAMPLER: 'always_off' }) },
      ],
      [`alt:${name}10`, { label: `this agent (${name} build), parentbased_traceidratio 0.1`, args: altArgs(dir), env: agentEnv(sink.up, RATIO_10) }],
      [
        `alt:${name}10NoExport`,
        {
          label: `this agent (${name} build), parentbased_traceidratio 0.1, no exporter`,
          args: altArgs(dir),
          env: agentEnv(sink.up, { ...RATIO_10, OTEL_TRACES_EXPORTER: 'none' }),
        },
      ],
    ]),
  );
  const c = {
    ...altConfigs,
    bare: { label: 'bare node', args: () => [], env: {} },
    agent: {
      label: 'this agent, OTLP http/protobuf',
      args: agentArgs,
      env: agentEnv(sink.up),
    },
    agent10: {
      label: 'this agent, parentbased_traceidratio 0.1',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }),
    },
    // Local tail mode's cost (docs/sampling-rules.md#local-tail-mode), only run when named with --configs:
    // the same 1% head sampling without and with it.
    agent1x: {
      label: 'this agent, parentbased_traceidratio 0.01',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' }),
    },
    agentTail1: {
      label: 'this agent, parentbased_traceidratio 0.01 + local tail mode',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01', OTEL_AGENT_TAIL_SAMPLING: 'true' }),
    },
    // Metrics at 1% trace sampling, with and without metrics: what the metrics pipeline costs when
    // traces are sampled down (not in SECTIONS; run with --configs=bare,agent1,agentMetrics1). The
    // export interval is 1 s, not the default 60 s, so that a short run pays for exports too.
    agent1: {
      label: 'this agent, parentbased_traceidratio 0.01, metrics off',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01', OTEL_METRICS_EXPORTER: 'none' }),
    },
    agentMetrics1: {
      label: 'this agent, parentbased_traceidratio 0.01, metrics over OTLP',
      args: agentArgs,
      env: agentEnv(sink.up, {
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.01',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
      }),
    },
    disabled: {
      label: 'this agent, OTEL_SDK_DISABLED=true',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_SDK_DISABLED: 'true' }),
    },
    // Diagnostic variants, only run when named with --configs: where the agent's cost goes.
    agentNoExport: {
      label: 'this agent, no exporter (OTEL_TRACES_EXPORTER=none)',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_TRACES_EXPORTER: 'none' }),
    },
    // The ratio sampler with nothing sampled, and 10% without an exporter: what an unsampled
    // request costs under the ratio sampler, and what the sampled tenth costs before export.
    agentRatio0: {
      label: 'this agent, parentbased_traceidratio 0',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }),
    },
    agent10NoExport: {
      label: 'this agent, parentbased_traceidratio 0.1, no exporter',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1', OTEL_TRACES_EXPORTER: 'none' }),
    },
    agentOff: {
      label: 'this agent, sampler always_off',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_TRACES_SAMPLER: 'always_off' }),
    },
    agentNoInstr: {
      label: 'this agent, http/fs/undici instrumentations off',
      args: agentArgs,
      env: agentEnv(sink.up, { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http,fs,undici' }),
    },
    // Outage variants (the outage section only).
    agentClosed: {
      label: 'this agent, collector port closed',
      args: agentArgs,
      env: agentEnv(sink.closed),
    },
    agentHang: {
      label: 'this agent, collector hangs',
      args: agentArgs,
      env: agentEnv(sink.hang),
    },
    // Upstream as its README says: --require the register for CommonJS; for ES
    // modules its plain register traces nothing, so also its loader hook.
    upstream: {
      label: 'upstream auto-instrumentations-node register',
      args: (esm) =>
        esm
          ? ['--experimental-loader=@opentelemetry/instrumentation/hook.mjs', '--import', '@opentelemetry/auto-instrumentations-node/register']
          : ['--require', '@opentelemetry/auto-instrumentations-node/register'],
      env: {
        ...OTEL_COMMON,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.up,
        // Traces only, as for the others; resource detectors stay at their default (all).
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      },
    },
    upstreamClosed: {
      label: 'upstream register, collector port closed',
      args: (esm) => (esm ? [] : ['--require', '@opentelemetry/auto-instrumentations-node/register']),
      env: {
        ...OTEL_COMMON,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.closed,
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      },
    },
    ddtrace: {
      label: 'dd-trace',
      args: (esm) => (esm ? ['--import', 'dd-trace/initialize.mjs'] : ['--require', 'dd-trace/init']),
      env: {
        DD_SERVICE: 'bench',
        DD_ENV: 'bench',
        DD_TRACE_AGENT_URL: sink.up,
        // Tracing only: no telemetry, remote config, profiling, crash tracking or startup log.
        DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false',
        DD_REMOTE_CONFIGURATION_ENABLED: 'false',
        DD_TRACE_STARTUP_LOGS: 'false',
        DD_PROFILING_ENABLED: 'false',
        DD_RUNTIME_METRICS_ENABLED: 'false',
        DD_CRASHTRACKING_ENABLED: 'false',
        DD_DATA_STREAMS_ENABLED: 'false',
      },
    },
  };
  // The same at 10%: issue #15's target rows show every agent at both rates.
  c.upstream10 = {
    ...c.upstream,
    label: 'upstream register, parentbased_traceidratio 0.1',
    env: { ...c.upstream.env, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  };
  c.ddtrace10 = { ...c.ddtrace, label: 'dd-trace, sample rate 0.1', env: { ...c.ddtrace.env, DD_TRACE_SAMPLE_RATE: '0.1' } };
  return c;
}

export const SECTIONS = {
  startup: ['bare', 'agent', 'agent10', 'disabled', 'upstream', 'ddtrace'],
  // agentOff and agentNoExport split this agent's cost: instrumentation alone, recording spans, exporting them.
  // agent1/agentMetrics1 price the metrics at 1% trace sampling (issue #18's row).
  http: ['bare', 'agent', 'agent10', 'agentOff', 'agentNoExport', 'agent1', 'agentMetrics1', 'disabled', 'upstream', 'upstream10', 'ddtrace', 'ddtrace10'],
  outage: ['bare', 'agent', 'agentClosed', 'agentHang', 'upstreamClosed'],
  span: ['agent', 'upstream', 'ddtrace'],
  // Upstream's BatchSpanProcessor (queue 2048, one export in flight) beside ours; dd-trace does not export OTLP.
  rate: ['agent', 'upstream'],
};
