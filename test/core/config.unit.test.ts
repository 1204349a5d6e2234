import { describe, expect, it } from 'vitest';
import { loadConfig, VARS } from '../../src/env';

describe('env.ts: the OTEL_* configuration', () => {
  it('uses the specification defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.disabled).toBe(false);
    expect(c.tracesExporters).toEqual(['otlp']);
    expect(c.otlp.protocol).toBe('http/protobuf');
    expect(c.otlp.endpoint).toBe('http://localhost:4318/v1/traces');
    expect(c.otlp.timeoutMs).toBe(10000);
    expect(c.otlp.compression).toBe('none');
    expect(c.sampler).toEqual({ name: 'parentbased_always_on', ratio: 1 });
    expect(c.propagators).toEqual(['tracecontext', 'baggage']);
    expect(c.bsp).toEqual({ scheduleDelayMs: 5000, exportTimeoutMs: 30000, maxQueueSize: 8192, maxExportBatchSize: 512 });
    expect(c.spanLimits.attributeCountLimit).toBe(128);
    expect(c.spanLimits.attributeValueLengthLimit).toBe(Infinity);
    // Metrics follow the traces' OTLP export (docs/metrics.md, "Default").
    expect(c.metricsExporters).toEqual(['otlp']);
    expect(c.logsExporters).toEqual([]);
    expect(c.warnings).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.otlp)).toBe(true);
  });

  it('builds the traces URL from the base endpoint, and uses a traces-specific one as is', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otlp.endpoint).toBe('http://collector:4318/v1/traces');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/custom' }).otlp.endpoint).toBe(
      'https://b/custom',
    );
    const g = loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(g.otlp.endpoint).toBe('http://localhost:4317');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).otlp.protocol).toBe('http/json');
  });

  it('parses headers and resource attributes with percent-decoding, traces headers winning', () => {
    const c = loadConfig({
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc%20def,x-team=core',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-team=traces',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=a%2Cb',
    });
    expect(c.otlp.headers).toEqual({ 'api-key': 'abc def', 'x-team': 'traces' });
    expect(c.resourceAttributes).toEqual({ 'deployment.environment': 'prod', team: 'a,b' });
  });

  it.each([
    ['OTEL_TRACES_SAMPLER_ARG', 'abc', 'the default (1.0)'],
    ['OTEL_TRACES_SAMPLER', 'sometimes', 'parentbased_always_on'],
    ['OTEL_BSP_MAX_QUEUE_SIZE', '-1', '8192'],
    ['OTEL_BSP_MAX_QUEUE_SIZE', '1e12', '8192'],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'carrier-pigeon', 'http/protobuf'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'not a url', 'the default'],
    ['OTEL_LOG_LEVEL', 'loud', 'warn'],
    ['OTEL_SDK_DISABLED', 'yes', 'false'],
    ['OTEL_NODE_ENABLED_INSTRUMENTATIONS', 'http,nosuchthing', 'the rest of the list'],
    ['OTEL_PROPAGATORS', 'tracecontext,xray', 'the rest of the list'],
    ['OTEL_RESOURCE_ATTRIBUTES', 'good=1,brokenpair', 'the well-formed entries'],
  ])('%s=%s gets one warning naming the variable, the value and the default used', (name, value, fallback) => {
    const c = loadConfig({ [name]: value });
    const mine = c.warnings.filter((w) => w.startsWith(name + '='));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toContain(JSON.stringify(value));
    expect(mine[0]).toContain(fallback);
    expect(c.sources[name]?.warning).toBe(mine[0]);
  });

  it('falls back to defaults for bad values and keeps the good parts of lists', () => {
    const c = loadConfig({
      OTEL_TRACES_SAMPLER_ARG: 'abc',
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_PROPAGATORS: 'b3,bogus',
      OTEL_RESOURCE_ATTRIBUTES: 'a=1,=x,b=2',
    });
    expect(c.sampler).toEqual({ name: 'traceidratio', ratio: 1 });
    expect(c.propagators).toEqual(['b3']);
    expect(c.resourceAttributes).toEqual({ a: '1', b: '2' });
  });

  it('never prints header values, even in warnings and in the sources report', () => {
    const c = loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cr3t,broken-no-equals-s3cr3t' });
    const all = JSON.stringify({ w: c.warnings, s: c.sources });
    expect(all).not.toContain('s3cr3t');
    expect(c.warnings.some((w) => w.startsWith('OTEL_EXPORTER_OTLP_HEADERS='))).toBe(true);
    expect(c.otlp.headers.authorization).toBe('Bearer s3cr3t');
  });

  it('clamps the batch size to the queue size with a warning', () => {
    const c = loadConfig({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500' });
    expect(c.bsp.maxExportBatchSize).toBe(100);
    expect(c.warnings.some((w) => w.includes('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'))).toBe(true);
  });

  it('handles none and comma lists for exporters and propagators', () => {
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none' }).tracesExporters).toEqual([]);
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console, otlp' }).tracesExporters).toEqual(['console', 'otlp']);
    expect(loadConfig({ OTEL_PROPAGATORS: 'none' }).propagators).toEqual([]);
    expect(loadConfig({ OTEL_NODE_RESOURCE_DETECTORS: 'none' }).resourceDetectors).toEqual([]);
    expect(loadConfig({ OTEL_METRICS_EXPORTER: 'otlp' }).metricsExporters).toEqual(['otlp']);
  });

  it('reads the span and attribute limits, span-specific ones winning', () => {
    const c = loadConfig({
      OTEL_ATTRIBUTE_COUNT_LIMIT: '10',
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '5',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '20',
      OTEL_SPAN_EVENT_COUNT_LIMIT: '3',
      OTEL_SPAN_LINK_COUNT_LIMIT: '4',
    });
    expect(c.spanLimits).toMatchObject({ attributeCountLimit: 5, attributeValueLengthLimit: 20, eventCountLimit: 3, linkCountLimit: 4 });
  });

  it('reads every variable of the docs/configuration.md table, and no other', () => {
    const documented = VARS.map((v) => v.name);
    // An environment that records each name asked for: unset everywhere, then set everywhere (to a value
    // no variable accepts, so that fallbacks and inherited values are read too).
    for (const value of [undefined, 'n0t v@lid']) {
      const asked = new Set<string>();
      const env = new Proxy({} as Record<string, string | undefined>, {
        get: (_t, k) => {
          if (typeof k === 'string') asked.add(k);
          return value;
        },
        has: (_t, k) => {
          if (typeof k === 'string') asked.add(k);
          return value !== undefined;
        },
      });
      loadConfig(env);
      expect(
        [...asked].filter((n) => !documented.includes(n)),
        `read but not in src/config/spec.ts (value ${value})`,
      ).toEqual([]);
      expect(
        documented.filter((n) => !asked.has(n)),
        `in src/config/spec.ts but never read (value ${value})`,
      ).toEqual([]);
    }
    for (const v of VARS) {
      expect(v.effect.length, v.name).toBeGreaterThan(10);
      expect(v.name.startsWith('OTEL_'), v.name).toBe(true);
    }
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('an unset variable is listed with the default the docs give, and a set one with its value', () => {
    const c = loadConfig({ OTEL_BSP_SCHEDULE_DELAY: '250' });
    for (const v of VARS) {
      if (v.name === 'OTEL_BSP_SCHEDULE_DELAY') expect(c.sources[v.name]).toEqual({ value: '250', source: 'env' });
      else expect(c.sources[v.name], v.name).toEqual({ value: v.default, source: 'default' });
    }
    expect(Object.keys(c.sources).sort()).toEqual(VARS.map((v) => v.name).sort());
  });

  it('does not write to the environment it reads', () => {
    const env = { OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'bogus' };
    const copy = { ...env };
    loadConfig(env);
    expect(env).toEqual(copy);
  });
});
