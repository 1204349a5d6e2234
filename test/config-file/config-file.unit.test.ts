/**
 * OTEL_CONFIG_FILE mapped onto the agent's configuration: what each part of
 * the model sets, that the other variables are then ignored (said once, at
 * info), and that a bad file never stops the agent: one warning naming the
 * file, the line and the key, and the default or the environment is used.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig as load } from '../../src/config/index';
import * as files from '../../src/config/file';

type Env = Record<string, string | undefined>;
/** The agent's loadConfig, with the file support from source (in dist/ it is its own bundle). */
const loadConfig = (env: Env) => load(env, () => files);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'otel-agent-cfgfile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

const FULL = `file_format: "1.1"
disabled: false
log_level: debug
attribute_limits:
  attribute_value_length_limit: 4096
resource:
  attributes:
    - name: service.name
      value: checkout
    - name: team
      value: "a, b=c"
  attributes_list: service.name=ignored,region=eu
  detection/development:
    detectors:
      - host:
      - process:
propagator:
  composite:
    - tracecontext:
    - b3multi:
tracer_provider:
  processors:
    - batch:
        schedule_delay: 250
        max_queue_size: 4096
        max_export_batch_size: 256
        exporter:
          otlp_http:
            endpoint: http://collector:4318/v1/traces
            encoding: json
            compression: gzip
            timeout: 3000
            headers:
              - name: x-api-key
                value: \${API_KEY}
  limits:
    attribute_count_limit: 64
    event_count_limit: 16
  sampler:
    parent_based:
      root:
        trace_id_ratio_based:
          ratio: 0.25
instrumentation/development:
  general:
    http:
      server:
        request_captured_headers: [x-request-id]
  js:
    fs:
      enabled: false
    agent:
      fs_spans: all
      flush_timeout: 1500
`;

describe('OTEL_CONFIG_FILE', () => {
  it('maps the model onto the configuration the environment would give', () => {
    const cfg = loadConfig({ OTEL_CONFIG_FILE: file(FULL), API_KEY: 's3cret' });
    expect(cfg.warnings).toEqual([]);
    expect(cfg.logLevel).toBe('debug');
    expect(cfg.resourceAttributes).toEqual({ 'service.name': 'checkout', team: 'a, b=c', region: 'eu' });
    expect(cfg.resourceDetectors).toEqual(['env', 'host', 'process']);
    expect(cfg.propagators).toEqual(['tracecontext', 'b3multi']);
    expect(cfg.tracesExporters).toEqual(['otlp']);
    expect(cfg.otlp).toMatchObject({
      endpoint: 'http://collector:4318/v1/traces',
      protocol: 'http/json',
      compression: 'gzip',
      timeoutMs: 3000,
      headers: { 'x-api-key': 's3cret' },
    });
    expect(cfg.bsp).toMatchObject({ scheduleDelayMs: 250, maxQueueSize: 4096, maxExportBatchSize: 256 });
    expect(cfg.spanLimits).toMatchObject({ attributeValueLengthLimit: 4096, attributeCountLimit: 64, eventCountLimit: 16 });
    expect(cfg.sampler).toEqual({ name: 'parentbased_traceidratio', ratio: 0.25 });
    expect(cfg.http.captureServerRequestHeaders).toEqual(['x-request-id']);
    expect(cfg.disabledInstrumentations).toEqual(['fs']);
    expect(cfg.agent).toMatchObject({ fsSpans: 'all', flushTimeoutMs: 1500 });
    // Where each value came from, for the doctor; the secret header is never shown.
    expect(cfg.sources.OTEL_BSP_SCHEDULE_DELAY).toMatchObject({ source: 'file', value: '250' });
    expect(cfg.sources.OTEL_BSP_SCHEDULE_DELAY!.origin).toMatch(/c\d+\.yaml:24 tracer_provider\.processors\[0\]\.batch\.schedule_delay$/);
    expect(JSON.stringify(cfg.sources)).not.toContain('s3cret');
  });

  it('ignores the other variables, and says which once, at info', () => {
    const cfg = loadConfig({
      OTEL_CONFIG_FILE: file(FULL),
      API_KEY: 'k',
      OTEL_SERVICE_NAME: 'from-env',
      OTEL_BSP_SCHEDULE_DELAY: '9',
      OTEL_TRACES_SAMPLER: 'always_off',
    });
    expect(cfg.serviceName).toBe('');
    expect(cfg.resourceAttributes['service.name']).toBe('checkout');
    expect(cfg.bsp.scheduleDelayMs).toBe(250);
    expect(cfg.warnings, cfg.warnings.join('\n')).toEqual([]);
    expect(cfg.notices).toHaveLength(1);
    expect(cfg.notices[0]).toMatch(/is in use, so these variables are ignored: OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_BSP_SCHEDULE_DELAY$/);
  });

  it('reads what an absent section means in the model: no tracer provider, no propagator, no detectors', () => {
    const cfg = loadConfig({ OTEL_CONFIG_FILE: file('file_format: "1.1"\n') });
    expect(cfg.tracesExporters).toEqual([]);
    expect(cfg.sampler.name).toBe('always_off');
    expect(cfg.propagators).toEqual([]);
    // Only the file's own attributes (`env` is how the agent applies them).
    expect(cfg.resourceDetectors).toEqual(['env']);
    expect(cfg.warnings).toEqual([]);
  });

  it('warns once per unknown key or wrong type, naming the file, line and key, and applies the rest', () => {
    const p = file(`file_format: "1.1"
tracer_provider:
  processors:
    - batch:
        schedule_delay: soon
        export_timeout: -5
        exporter:
          otlp_grpc:
            endpoint: http://collector:4317
  samplr:
    always_on:
propagator:
  composite: [{ tracecontext: }, { xray: }]
`);
    const cfg = loadConfig({ OTEL_CONFIG_FILE: p });
    expect(cfg.otlp).toMatchObject({ endpoint: 'http://collector:4317', protocol: 'grpc' });
    expect(cfg.propagators).toEqual(['tracecontext']);
    expect(cfg.bsp.scheduleDelayMs).toBe(5000);
    expect(cfg.bsp.exportTimeoutMs).toBe(30000);
    expect(cfg.warnings).toEqual([
      `${p}:5 tracer_provider.processors[0].batch.schedule_delay should be a number; ignored`,
      `${p}:10 tracer_provider.samplr is not a key this agent reads here; ignored`,
      `${p}:13 propagator.composite[1] xray is not a propagator this agent has; ignored`,
      `${p}:6 tracer_provider.processors[0].batch.export_timeout (OTEL_BSP_EXPORT_TIMEOUT): "-5" is not a whole number; using the default (30000)`,
    ]);
  });

  it.each([
    ['a YAML error', 'file_format: "1.1"\ntracer_provider: [\n', /line \d+: /],
    ['an invalid substitution', 'file_format: "1.1"\nlog_level: ${LEVEL:?unset}\n', /line 2: invalid substitution reference/],
  ])('falls back to the environment on %s, with one warning', (_what, text, why) => {
    const cfg = loadConfig({ OTEL_CONFIG_FILE: file(text), OTEL_SERVICE_NAME: 'env-svc', OTEL_BSP_SCHEDULE_DELAY: '700' });
    expect(cfg.serviceName).toBe('env-svc');
    expect(cfg.bsp.scheduleDelayMs).toBe(700);
    expect(cfg.warnings).toHaveLength(1);
    expect(cfg.warnings[0]).toMatch(/^OTEL_CONFIG_FILE=.*c\d+\.yaml /);
    expect(cfg.warnings[0]).toMatch(why);
    expect(cfg.warnings[0]).toMatch(/; using the environment variables instead$/);
  });

  it('header capture per route: lower-cased, checked, warned about and left out when unusable', () => {
    const p = file(`file_format: "1.1"
tracer_provider:
instrumentation/development:
  js:
    http:
      enabled: true
      server:
        routes:
          - path: /checkout*
            request_captured_headers: [X-Cart-Id, "bad header"]
            response_captured_headers: x-order-id
          - request_captured_headers: [x-a]
          - path: 7
      client:
        routes:
          - url: https://payments.example.com/*
            response_captured_headers: [x-request-id]
        colour: blue
`);
    const cfg = loadConfig({ OTEL_CONFIG_FILE: p });
    expect(cfg.http.serverRoutes).toEqual([{ match: '/checkout*', request: ['x-cart-id'], response: ['x-order-id'] }]);
    expect(cfg.http.clientRoutes).toEqual([{ match: 'https://payments.example.com/*', request: [], response: ['x-request-id'] }]);
    expect(cfg.disabledInstrumentations).toEqual([]);
    expect(cfg.warnings).toEqual([
      `${p}:10 instrumentation/development.js.http.server.routes[0].request_captured_headers "bad header" is not a header name; left out`,
      `${p}:12 instrumentation/development.js.http.server.routes[1] has no path; ignored`,
      `${p}:13 instrumentation/development.js.http.server.routes[2].path should be a pattern (\`*\` any run of characters); this route is ignored`,
      `${p}:18 instrumentation/development.js.http.client.colour is not a key this agent reads here; ignored`,
    ]);
  });

  it('falls back to the environment when the file cannot be read', () => {
    const cfg = loadConfig({ OTEL_CONFIG_FILE: join(dir, 'missing.yaml'), OTEL_SERVICE_NAME: 'env-svc' });
    expect(cfg.serviceName).toBe('env-svc');
    expect(cfg.warnings).toEqual([`OTEL_CONFIG_FILE=${join(dir, 'missing.yaml')} cannot be read (ENOENT); using the environment variables instead`]);
  });
});

describe('a file that refers to the environment for every value (test/fixtures/config-file/from-env.yaml)', () => {
  const FROM_ENV = join(__dirname, '../fixtures/config-file/from-env.yaml');
  const ENV: Env = {
    OTEL_SERVICE_NAME: 'billing',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=pay',
    OTEL_PROPAGATORS: 'tracecontext,baggage,b3',
    OTEL_BSP_SCHEDULE_DELAY: '1000',
    OTEL_BSP_MAX_QUEUE_SIZE: '8192',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20x',
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '2500',
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '32',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.1',
  };

  it('gives the configuration the environment alone gives', () => {
    const viaFile = loadConfig({ ...ENV, OTEL_CONFIG_FILE: FROM_ENV });
    const direct = loadConfig({ ...ENV, OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process' });
    expect(viaFile.warnings).toEqual([]);
    const pick = (c: ReturnType<typeof loadConfig>) => ({
      service: c.resourceAttributes['service.name'] ?? c.serviceName,
      resource: { ...c.resourceAttributes, 'service.name': undefined },
      detectors: c.resourceDetectors,
      propagators: c.propagators,
      exporters: c.tracesExporters,
      otlp: c.otlp,
      bsp: c.bsp,
      spanLimits: c.spanLimits,
      sampler: c.sampler,
    });
    expect(pick(viaFile)).toEqual(pick(direct));
    expect(pick(viaFile).otlp).toMatchObject({ endpoint: 'http://otel:4318/v1/traces', headers: { authorization: 'Bearer x' }, timeoutMs: 2500 });
  });
});
