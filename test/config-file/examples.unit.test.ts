/**
 * The configuration files people will copy: every YAML example in the docs pages about the
 * file (read out of the markdown here, so the docs cannot drift from what the agent reads),
 * and this project's equivalents of the configuration model's own example files
 * (test/fixtures/config-file/: the upstream examples are not brought into this repository).
 * Each is parsed and applied; the model's keys the agent does not support are warned about
 * exactly once each, and nothing else is.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig as load } from '../../src/config/index';
import * as files from '../../src/config/file';
import { buildSampler } from '../../src/pipeline';
import { RuleSampler } from '../../src/sampling/rules';
import type { AgentConfig } from '../../src/env';

const ROOT = join(__dirname, '../..');
const loadConfig = (env: Record<string, string | undefined>) => load(env, () => files);
const dir = mkdtempSync(join(tmpdir(), 'otel-agent-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ```yaml blocks of a docs page, with the line each starts on. */
function yamlBlocks(page: string): { line: number; text: string }[] {
  const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
  const out: { line: number; text: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```yaml') continue;
    const start = i + 1;
    while (++i < lines.length && lines[i]!.trim() !== '```');
    out.push({ line: start + 1, text: lines.slice(start, i).join('\n') + '\n' });
  }
  return out;
}

const count = (text: string, re: RegExp): number => text.match(re)?.length ?? 0;
/** The file made these settings: what the agent reads from it beyond the defaults. */
const fromFile = (cfg: AgentConfig): string[] => Object.keys(cfg.sources).filter((k) => cfg.sources[k]!.source === 'file');

// Values for the ${...} references the examples make, as a deployment would set them.
const ENV = { API_KEY: 'key-1', DEPLOY_ENV: 'staging', COLLECTOR: 'http://collector:4318' };

const PAGES = ['docs/configuration-file.md', 'docs/sampling-rules.md'];

describe.each(PAGES)('the YAML examples of %s', (page) => {
  const blocks = yamlBlocks(page);
  it('has some', () => expect(blocks.length).toBeGreaterThan(0));

  it.each(blocks.map((b) => [b.line, b.text] as const))('the example at line %i parses and applies without a warning', (line, text) => {
    // A fragment (one section, as the pages show them) is read as a whole file of that version.
    const path = join(dir, `${page.replace(/\W/g, '_')}-${line}.yaml`);
    writeFileSync(path, /^file_format:/m.test(text) ? text : `file_format: "1.1"\n${text}`);
    const cfg = loadConfig({ OTEL_CONFIG_FILE: path, ...ENV });
    expect(cfg.warnings).toEqual([]);

    // Applied: what the example says is what the configuration holds.
    const rules = count(text, /^\s*- action:/gm);
    expect(cfg.sampling.rules, 'sampling rules').toHaveLength(rules);
    if (rules) expect(buildSampler(cfg)).toBeInstanceOf(RuleSampler);
    expect(cfg.sampling.dropProbes, 'drop_probes').toBe(/drop_probes: true/.test(text));
    expect(cfg.http.serverRoutes, 'server routes').toHaveLength(count(text, /^\s*- path:/gm));
    expect(cfg.http.clientRoutes, 'client routes').toHaveLength(count(text, /^\s*- url:/gm));
    const tail = /tail_sampling: true/.test(text);
    expect(cfg.sampling.tail !== undefined, 'tail_sampling').toBe(tail);
    const threshold = /tail_latency_threshold: (\d+)/.exec(text);
    if (threshold) expect(cfg.sampling.tail?.latencyMs).toBe(Number(threshold[1]));
    for (const [name, value] of Object.entries(ENV))
      if (text.includes(`\${${name}`)) expect(JSON.stringify([cfg.resourceAttributes, cfg.otlp]), name).toContain(value);
    // Every example sets something beyond what the sections it leaves out mean.
    const absent = ['OTEL_TRACES_EXPORTER', 'OTEL_TRACES_SAMPLER', 'OTEL_PROPAGATORS', 'OTEL_NODE_RESOURCE_DETECTORS'];
    expect(fromFile(cfg).filter((k) => !absent.includes(k)).length + rules + cfg.http.serverRoutes.length + cfg.http.clientRoutes.length).toBeGreaterThan(0);
  });
});

const fixture = (name: string): string => join(ROOT, 'test/fixtures/config-file', name);

describe("the configuration model's example files (this project's equivalents)", () => {
  it('every setting at its default: the configuration the environment alone gives, the four unsupported keys warned once each', () => {
    const cfg = loadConfig({ OTEL_CONFIG_FILE: fixture('sdk-defaults.yaml') });
    const env = loadConfig({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_LOGS_EXPORTER: 'otlp' });
    for (const k of ['bsp', 'spanLimits', 'sampler', 'propagators', 'tracesExporters', 'metricsExporters', 'logsExporters', 'serviceName'] as const)
      expect(cfg[k], k).toEqual(env[k]);
    expect(cfg.signals.blrp).toEqual(env.signals.blrp);
    expect(cfg.signals.metricIntervalMs).toBe(env.signals.metricIntervalMs);
    expect(cfg.otlp.endpoint).toBe('http://localhost:4318/v1/traces');
    expect(cfg.otlp.compression).toBe('gzip');
    // The model's default level is info (the environment's is warn): the file says it.
    expect(cfg.logLevel).toBe('info');
    expect(keysWarned(cfg)).toEqual([
      'attribute_limits.attribute_value_depth_limit',
      'tracer_provider.limits.attribute_value_depth_limit',
      'meter_provider.exemplar_filter',
      'logger_provider.limits.attribute_value_depth_limit',
    ]);
  });

  it('getting started: the environment fills it in; the container detector warned once', () => {
    const cfg = loadConfig({
      OTEL_CONFIG_FILE: fixture('getting-started.yaml'),
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=shop,team=payments',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    });
    expect(cfg.resourceAttributes).toEqual({ 'service.name': 'shop', team: 'payments' });
    expect(cfg.otlp.endpoint).toBe('http://collector:4318/v1/traces');
    expect(cfg.signals.metricsOtlp?.endpoint).toBe('http://collector:4318/v1/metrics');
    expect(cfg.signals.logsOtlp?.endpoint).toBe('http://collector:4318/v1/logs');
    expect(cfg.resourceDetectors).toEqual(['env', 'serviceinstance', 'host', 'process']);
    expect(keysWarned(cfg)).toEqual(['resource.detection/development.detectors[3].container']);
  });

  it('the migration form (every value from its environment variable) warns about nothing', () => {
    expect(loadConfig({ OTEL_CONFIG_FILE: fixture('from-env.yaml') }).warnings).toEqual([]);
  });

  it('what the agent does not have: each warned once with its line, the rest applied', () => {
    const cfg = loadConfig({ OTEL_CONFIG_FILE: fixture('unsupported.yaml') });
    expect(keysWarned(cfg)).toEqual([
      'resource.schema_url',
      'propagator.composite[1]',
      'tracer_provider.processors[1].batch.exporter.otlp_http',
      'tracer_provider.processors[2].simple',
      'tracer_provider.processors[2].simple.exporter.otlp_file/development',
      'tracer_provider.sampler.jaeger_remote/development',
      'tracer_provider.tracer_configurator/development',
      'meter_provider.readers[0].pull',
      'meter_provider.views',
      'meter_provider.meter_configurator/development',
      'logger_provider.logger_configurator/development',
      'instrumentation/development.general.stability_opt_in_list',
    ]);
    for (const w of cfg.warnings) expect(w).toMatch(/unsupported\.yaml:\d+ /);
    // The rest: the first OTLP trace exporter (gRPC), W3C trace context, console logs, no metrics.
    expect(cfg.otlp.protocol).toBe('grpc');
    expect(cfg.otlp.endpoint).toBe('http://localhost:4317');
    expect(cfg.propagators).toEqual(['tracecontext']);
    expect(cfg.logsExporters).toEqual(['console']);
    expect(cfg.metricsExporters).toEqual([]);
    expect(cfg.resourceAttributes['service.name']).toBe('sink');
  });
});

/** The key each warning names (`file:line key ...`), in order. */
function keysWarned(cfg: AgentConfig): string[] {
  return cfg.warnings.map((w) => /^\S+:\d+ (\S+)/.exec(w)?.[1] ?? w);
}
