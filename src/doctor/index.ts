/**
 * `otel-agent doctor [entry]`: the configuration the agent would use, whether
 * the exporter endpoint accepts spans, which installed packages can be traced,
 * and (given an entry file) what the agent actually did inside the app.
 *
 * Every check produces facts plus findings; a finding is either a problem
 * (something the user asked for will not happen: exit code 1) or a note.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { envSnapshot, loadConfig, VARS, type AgentConfig } from '../env';
import { buildResource } from '../resource';
import { ENTRIES, enabledEntries } from '../instrumentations/index';
import { describeUrl } from '../exporters/transport';
import { AGENT_VERSION } from '../version';
import { checkEndpoints, type EndpointCheck } from './endpoint';
import { inspectPackages, type PackagesResult } from './packages';
import { runApp, type RunResult } from './run';
import { bundleAdvice, inspectBundle } from '../bundle-check';
import { packageName } from '../package-name';

export interface Finding {
  level: 'problem' | 'note';
  section: 'config' | 'endpoint' | 'packages' | 'run';
  message: string;
}

export interface ConfigVariable {
  name: string;
  value: string;
  source: 'env' | 'default' | 'file';
  /** source 'file': where in OTEL_CONFIG_FILE (`config.yaml:12 tracer_provider...`). */
  origin?: string;
  warning?: string;
}

export interface DoctorResult {
  ok: boolean;
  doctor: { agentVersion: string; node: string; platform: string };
  config: {
    variables: ConfigVariable[];
    resolved: {
      serviceName: string;
      exporters: string[];
      protocol: string;
      endpoint: string;
      sampler: string;
      propagators: string[];
      instrumentations: { enabled: string[]; disabled: string[] };
    };
  };
  endpoints: EndpointCheck[];
  packages: PackagesResult;
  run?: RunResult;
  findings: Finding[];
}

export interface DoctorOptions {
  entry?: string;
  args: string[];
  timeoutMs: number;
  run: boolean;
  distDir: string;
  cwd: string;
  /** --config: the configuration file to validate and use, as OTEL_CONFIG_FILE (the app run gets it too). */
  configFile?: string;
}

/** Endpoint values may carry tokens in the query string; show which keys are there, never their values. */
function shownValue(name: string, value: string): string {
  if (!/_ENDPOINT$/.test(name)) return value;
  try {
    const u = new URL(value);
    if (!u.search) return value;
    for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, 'REDACTED');
    return u.toString();
  } catch {
    return value;
  }
}

function configFindings(cfg: AgentConfig, env: Readonly<Record<string, string | undefined>>): Finding[] {
  const f: Finding[] = [];
  const problem = (message: string): void => void f.push({ level: 'problem', section: 'config', message });
  const note = (message: string): void => void f.push({ level: 'note', section: 'config', message });
  for (const w of cfg.warnings) problem(w);
  for (const n of cfg.notices) note(n);
  if (cfg.disabled) problem('OTEL_SDK_DISABLED=true: the agent loads nothing and produces no spans');
  if (cfg.tracesExporters.length === 0) problem('OTEL_TRACES_EXPORTER=none: spans are not sent anywhere');
  else if (cfg.tracesExporters.length === 1 && cfg.tracesExporters[0] === 'console')
    note('OTEL_TRACES_EXPORTER=console: spans are printed on stdout, not sent to a collector');
  const s = cfg.sampler;
  if (s.name === 'always_off' || (s.name === 'traceidratio' && s.ratio === 0))
    problem(`OTEL_TRACES_SAMPLER=${s.name}${s.name === 'traceidratio' ? ' with OTEL_TRACES_SAMPLER_ARG=0' : ''}: no span is ever sampled`);
  else if (s.name === 'parentbased_always_off')
    note('OTEL_TRACES_SAMPLER=parentbased_always_off: only traces started upstream (with a sampled traceparent) are recorded');
  else if (s.name === 'parentbased_traceidratio' && s.ratio === 0) note('OTEL_TRACES_SAMPLER_ARG=0: only traces started upstream are recorded');
  const [maj = 0, min = 0] = process.versions.node.split('.').map(Number);
  if (maj < 22 || (maj === 22 && min < 15)) problem(`Node ${process.versions.node} is older than 22.15: the agent stays off in this Node`);
  const no = env.NODE_OPTIONS;
  if (no && /otel-agent/.test(no)) note('NODE_OPTIONS loads the agent into every Node process started with this environment (npm itself is skipped)');
  return f;
}

function endpointFindings(checks: EndpointCheck[]): Finding[] {
  return checks
    .filter((c) => !c.accepts)
    .map((c) => ({
      level: 'problem' as const,
      section: 'endpoint' as const,
      message: `${c.exporter === 'otlp' ? `OTLP ${c.protocol}` : 'Zipkin'} endpoint ${c.url} ${c.reachable ? 'is reachable but did not accept an export' : 'is not reachable'}: ${c.error ?? 'unknown error'}${c.hint ? ` (${c.hint})` : ''}`,
    }));
}

function packageFindings(p: PackagesResult): Finding[] {
  const f: Finding[] = [];
  for (const i of p.instrumentations) {
    if (i.error) f.push({ level: 'note', section: 'packages', message: `instrumentation "${i.instrumentation}": ${i.error}` });
    if (i.status === 'unsupported') {
      const mods = i.modules.map((m) => `${m.name} ${m.version ?? '(unknown version)'} (supported: ${m.ranges.join(' || ')})`).join(', ');
      f.push({
        level: i.usedByApp && i.enabled ? 'problem' : 'note',
        section: 'packages',
        message: `${mods} ${i.modules.length > 1 ? 'are' : 'is'} installed at a version instrumentation "${i.instrumentation}" does not support: its calls will not be traced`,
      });
    }
    if (!i.enabled && i.status === 'supported' && i.usedByApp) {
      f.push({
        level: 'note',
        section: 'packages',
        message: `instrumentation "${i.instrumentation}" is ${i.disabledReason}: ${i.modules.map((m) => m.name).join(', ')} will not be traced`,
      });
    }
  }
  return f;
}

/** Who listens to termination signals, and whether SIGTERM still ends the app with its spans delivered. */
function signalFindings(r: RunResult, note: (m: string) => void, problem: (m: string) => void): void {
  const sig = r.report?.signals;
  if (!sig) return;
  const others = sig.listeners.filter((l) => l.kind !== 'agent');
  if (others.length) {
    const by = new Map<string, string[]>();
    for (const l of others) by.set(l.signal, [...(by.get(l.signal) ?? []), l.owner]);
    note(`signal listeners besides the agent's: ${[...by].map(([s, o]) => `${s}: ${o.join(', ')}`).join('; ')}`);
  }
  for (const seen of sig.seen) {
    if (!seen.agentActed) {
      note(
        `${seen.signal} arrived while ${seen.listeners.filter((o) => !o.startsWith('signal-exit')).join(', ') || 'another listener'} listened: the app's listeners decide when it ends, and the agent delivers its spans when it does`,
      );
    }
  }
  const term = sig.seen.find((s) => s.signal === 'SIGTERM');
  if (r.timedOut && term && r.signal === 'SIGKILL') {
    problem(
      `SIGTERM did not end the app (listeners: ${term.listeners.join(', ') || 'only the agent'}); it had to be killed, so its last spans were lost. Under a process manager (Kubernetes, systemd) that is a wait for SIGKILL: make the app's SIGTERM handler exit`,
    );
  }
}

function runFindings(r: RunResult, cfg: AgentConfig): Finding[] {
  const f: Finding[] = [];
  const problem = (message: string): void => void f.push({ level: 'problem', section: 'run', message });
  const note = (message: string): void => void f.push({ level: 'note', section: 'run', message });
  const rep = r.report;
  if (!rep) {
    const why = cfg.disabled
      ? 'OTEL_SDK_DISABLED=true'
      : r.agentLines.length
        ? r.agentLines.join(' / ')
        : r.exitCode === null && !r.timedOut
          ? 'the app could not be started'
          : 'the agent wrote no report (it did not start in this process)';
    problem(`the agent did not run inside the app: ${why}`);
  } else {
    for (const c of rep.conflicts) problem(c);
    for (const a of rep.activations) if (!a.ok) problem(`instrumentation "${a.name}" could not be loaded: ${a.error ?? 'unknown error'}`);
    for (const m of rep.modules) {
      const what = `${m.module}${m.version ? ' ' + m.version : ''}`;
      if (m.status === 'skipped') problem(`the app loaded ${what}, which was not patched: ${m.reason}`);
      else if (m.status === 'failed') problem(`patching ${what} failed: ${m.reason}`);
      else if (m.status === 'pending') note(`${what}: ${m.reason}`);
      else if (m.status === 'disabled') note(`the app loaded ${what}, not traced: ${m.reason}`);
      else if (m.foreignWrapper) note(`${what}: ${m.reason}`);
      if (m.status === 'patched' && m.partial) note(`${what} is patched, but ${m.partial}`);
    }
    if (rep.exporters.length && rep.testSpan) {
      if (!rep.testSpan.exported) {
        const failed = rep.exports.filter((e) => e.lastError);
        const err = rep.testSpan.error ?? failed.map((e) => `${e.exporter}: ${e.lastError}`).join('; ');
        problem(`the test span did not reach ${rep.exporters.join(', ')}: ${err || 'no export had finished when the app stopped'}`);
      }
    }
    if (!rep.final) note('the app did not stop within the grace period after SIGTERM; the report may miss the last moments');
    signalFindings(r, note, problem);
  }
  if (!r.timedOut && r.exitCode !== 0 && r.exitCode !== null)
    note(`the app exited with code ${r.exitCode}${r.stderrTail.length ? ' (its last stderr lines are shown)' : ''}`);
  if (r.signal && !r.timedOut) note(`the app was killed by ${r.signal}`);
  return f;
}

export async function runDoctor(o: DoctorOptions): Promise<DoctorResult> {
  const env = o.configFile ? Object.freeze({ ...envSnapshot(), OTEL_CONFIG_FILE: resolve(o.cwd, o.configFile) }) : envSnapshot();
  const cfg = loadConfig(env);
  const entry = o.entry ? resolve(o.cwd, o.entry) : undefined;
  const appDir = entry ? dirname(entry) : o.cwd;

  const variables: ConfigVariable[] = VARS.map((v) => {
    const s = cfg.sources[v.name] ?? { value: v.default, source: 'default' as const };
    const row: ConfigVariable = { name: v.name, value: shownValue(v.name, s.value), source: s.source };
    if (s.origin) row.origin = s.origin;
    if (s.warning) row.warning = s.warning;
    return row;
  });
  const on = enabledEntries(cfg).map((e) => e.name);
  const resource = buildResource(cfg, entry);
  const findings: Finding[] = configFindings(cfg, env);

  const endpoints = cfg.disabled ? [] : await checkEndpoints(cfg, o.distDir);
  findings.push(...endpointFindings(endpoints));

  const packages = inspectPackages(appDir, cfg, o.distDir);
  findings.push(...packageFindings(packages));
  // An entry file that is a bundle built without the build plugin: its packages cannot be patched (docs/bundlers.md).
  const bundled = bundleAdvice(
    inspectBundle(entry, (pkg) => ENTRIES.some((e) => e.triggers.some((t) => (t.endsWith('/') ? pkg.startsWith(t) : packageName(t) === pkg)))),
  );
  if (bundled) findings.push({ level: 'problem', section: 'packages', message: bundled });

  let run: RunResult | undefined;
  if (entry && o.run) {
    run = await runApp({
      entry,
      args: o.args,
      env,
      distDir: o.distDir,
      timeoutMs: o.timeoutMs,
      graceMs: cfg.agent.flushTimeoutMs + 2000,
      cwd: o.cwd,
    });
    findings.push(...runFindings(run, cfg));
  }

  return {
    ok: !findings.some((f) => f.level === 'problem'),
    doctor: { agentVersion: AGENT_VERSION, node: process.versions.node, platform: `${process.platform} ${process.arch}` },
    config: {
      variables,
      resolved: {
        serviceName: String(resource.attributes['service.name']),
        exporters: [...cfg.tracesExporters],
        protocol: cfg.otlp.protocol,
        endpoint: shownValue('X_ENDPOINT', describeUrl(cfg.otlp.endpoint)),
        sampler: cfg.sampler.name + (cfg.sampler.name.includes('ratio') ? `(${cfg.sampler.ratio})` : ''),
        propagators: [...cfg.propagators],
        instrumentations: { enabled: on, disabled: ENTRIES.map((e) => e.name).filter((n) => !on.includes(n)) },
      },
    },
    endpoints,
    packages,
    run,
    findings,
  };
}

/** Checks the entry argument before anything runs; undefined when fine. */
export function entryError(cwd: string, entry: string): string | undefined {
  const p = resolve(cwd, entry);
  if (!existsSync(p)) return `entry file ${p} does not exist`;
  if (!statSync(p).isFile()) return `entry ${p} is not a file`;
  return undefined;
}
