/**
 * The metrics' and logs' own configuration (src/config/index.ts): every per-signal
 * OTLP variable, their fallback to the general ones (never to the traces'), the
 * log batch and limit variables, and the attribute count limits' fallbacks.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/env';
import { loadConfig as loadWithFiles } from '../../src/config/index';
import * as files from '../../src/config/file';

const dir = mkdtempSync(join(tmpdir(), 'signal-config-'));
const file = (name: string): string => {
  const p = join(dir, name);
  writeFileSync(p, 'pem');
  return p;
};

describe.each(['METRICS', 'LOGS'] as const)('OTEL_EXPORTER_OTLP_%s_*', (sig) => {
  const exporterVar = sig === 'METRICS' ? 'OTEL_METRICS_EXPORTER' : 'OTEL_LOGS_EXPORTER';
  const pick = (c: ReturnType<typeof loadConfig>) => (sig === 'METRICS' ? c.signals.metricsOtlp : c.signals.logsOtlp);
  const path = sig === 'METRICS' ? '/v1/metrics' : '/v1/logs';

  it('each variable sets that signal and leaves the traces alone', () => {
    const [ca, key, cert] = [file(`${sig}-ca`), file(`${sig}-key`), file(`${sig}-cert`)];
    const c = loadConfig({
      [exporterVar]: 'otlp',
      [`OTEL_EXPORTER_OTLP_${sig}_ENDPOINT`]: 'https://other:9000/x',
      [`OTEL_EXPORTER_OTLP_${sig}_PROTOCOL`]: 'http/json',
      [`OTEL_EXPORTER_OTLP_${sig}_HEADERS`]: 'a=1',
      [`OTEL_EXPORTER_OTLP_${sig}_TIMEOUT`]: '1234',
      [`OTEL_EXPORTER_OTLP_${sig}_COMPRESSION`]: 'gzip',
      [`OTEL_EXPORTER_OTLP_${sig}_CERTIFICATE`]: ca,
      [`OTEL_EXPORTER_OTLP_${sig}_CLIENT_KEY`]: key,
      [`OTEL_EXPORTER_OTLP_${sig}_CLIENT_CERTIFICATE`]: cert,
    });
    expect(c.warnings).toEqual([]);
    expect(pick(c)).toEqual({
      endpoint: 'https://other:9000/x',
      protocol: 'http/json',
      headers: { a: '1' },
      timeoutMs: 1234,
      compression: 'gzip',
      certificate: ca,
      clientKey: key,
      clientCertificate: cert,
    });
    expect(c.otlp).toMatchObject({
      endpoint: 'http://localhost:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: 10000,
      compression: 'none',
    });
    expect(c.otlp.certificate).toBeUndefined();
  });

  it('falls back to the general variables, never to the traces ones', () => {
    const ca = file(`${sig}-general-ca`);
    const c = loadConfig({
      [exporterVar]: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'g=1',
      OTEL_EXPORTER_OTLP_TIMEOUT: '777',
      OTEL_EXPORTER_OTLP_CERTIFICATE: ca,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 't=1',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '5',
      OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: file(`${sig}-traces-ca`),
    });
    expect(pick(c)).toEqual({
      endpoint: `http://collector:4318${path}`,
      protocol: 'http/protobuf',
      headers: { g: '1' },
      timeoutMs: 777,
      compression: 'none',
      certificate: ca,
      clientKey: undefined,
      clientCertificate: undefined,
    });
    expect(c.otlp).toMatchObject({ protocol: 'grpc', headers: { g: '1', t: '1' }, timeoutMs: 5, compression: 'gzip' });
  });

  it('a signal-specific protocol picks its own default URL (grpc: the base)', () => {
    const c = loadConfig({ [exporterVar]: 'otlp', [`OTEL_EXPORTER_OTLP_${sig}_PROTOCOL`]: 'grpc' });
    expect(pick(c)!.endpoint).toBe('http://localhost:4317');
    expect(c.otlp.endpoint).toBe('http://localhost:4318/v1/traces');
  });

  it('is not assembled when the signal does not export over OTLP', () => {
    // Unset, metrics follow the traces' OTLP export (the default); logs stay off.
    if (sig === 'LOGS') expect(pick(loadConfig({}))).toBeUndefined();
    else expect(pick(loadConfig({}))!.endpoint).toBe('http://localhost:4318/v1/metrics');
    expect(pick(loadConfig({ [exporterVar]: 'console' }))).toBeUndefined();
    expect(pick(loadConfig({ [exporterVar]: 'none' }))).toBeUndefined();
  });
});

describe('the metrics default: they follow the traces OTLP export', () => {
  const m = (env: Record<string, string>) => {
    const c = loadConfig(env);
    return [c.metricsExporters, c.signals.metricsByDefault, c.warnings.length];
  };
  it('on (otlp) when traces go to OTLP and OTEL_METRICS_EXPORTER is unset, empty or has no valid entry', () => {
    expect(m({})).toEqual([['otlp'], true, 0]);
    expect(m({ OTEL_METRICS_EXPORTER: '' })).toEqual([['otlp'], true, 0]);
    expect(m({ OTEL_TRACES_EXPORTER: 'otlp,console' })).toEqual([['otlp'], true, 0]);
    expect(m({ OTEL_METRICS_EXPORTER: 'bogus' })).toEqual([['otlp'], true, 1]);
  });
  it('off when traces do not go to OTLP, or when told', () => {
    expect(m({ OTEL_TRACES_EXPORTER: 'console' })).toEqual([[], false, 0]);
    expect(m({ OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual([[], false, 0]);
    expect(m({ OTEL_TRACES_EXPORTER: 'none' })).toEqual([[], false, 0]);
    expect(m({ OTEL_METRICS_EXPORTER: 'none' })).toEqual([[], false, 0]);
  });
  it('exactly what is named when named, not "by default"', () => {
    expect(m({ OTEL_METRICS_EXPORTER: 'prometheus' })).toEqual([['prometheus'], false, 0]);
    expect(m({ OTEL_METRICS_EXPORTER: 'otlp' })).toEqual([['otlp'], false, 0]);
    expect(m({ OTEL_TRACES_EXPORTER: 'console', OTEL_METRICS_EXPORTER: 'otlp,console' })).toEqual([['otlp', 'console'], false, 0]);
  });
});

describe('metric and log record variables', () => {
  it('defaults', () => {
    const s = loadConfig({}).signals;
    expect(s.metricIntervalMs).toBe(60000);
    expect(s.metricTimeoutMs).toBe(30000);
    expect(s.temporality).toBe('cumulative');
    expect(s.blrp).toEqual({ scheduleDelayMs: 1000, exportTimeoutMs: 30000, maxQueueSize: 2048, maxExportBatchSize: 512 });
    expect(s.logLimits).toEqual({ attributeValueLengthLimit: Infinity, attributeCountLimit: 128 });
  });

  it('OTEL_METRIC_EXPORT_TIMEOUT, temporality, OTEL_BLRP_*, OTEL_LOGRECORD_*', () => {
    const c = loadConfig({
      OTEL_METRIC_EXPORT_INTERVAL: '5000',
      OTEL_METRIC_EXPORT_TIMEOUT: '9000',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'LowMemory',
      OTEL_BLRP_SCHEDULE_DELAY: '10',
      OTEL_BLRP_EXPORT_TIMEOUT: '20',
      OTEL_BLRP_MAX_QUEUE_SIZE: '30',
      OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '40',
      OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '50',
      OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '60',
    });
    expect(c.warnings).toEqual([]);
    // The timeout never exceeds the interval (the SDK's rule), the batch never the queue.
    expect(c.signals.metricTimeoutMs).toBe(5000);
    expect(c.signals.temporality).toBe('lowmemory');
    expect(c.signals.blrp).toEqual({ scheduleDelayMs: 10, exportTimeoutMs: 20, maxQueueSize: 30, maxExportBatchSize: 30 });
    expect(c.signals.logLimits).toEqual({ attributeValueLengthLimit: 50, attributeCountLimit: 60 });
    expect(c.spanLimits.attributeCountLimit).toBe(128);
  });

  it('log record and event/link attribute limits fall back to the general ones', () => {
    const c = loadConfig({ OTEL_ATTRIBUTE_COUNT_LIMIT: '7', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '99' });
    expect(c.signals.logLimits).toEqual({ attributeValueLengthLimit: 99, attributeCountLimit: 7 });
    expect(c.spanLimits).toMatchObject({ attributeCountLimit: 7, attributePerEventCountLimit: 7, attributePerLinkCountLimit: 7 });
    // Counts of events and links per span are not attribute limits: they keep their own default.
    expect(c.spanLimits).toMatchObject({ eventCountLimit: 128, linkCountLimit: 128 });
    const own = loadConfig({ OTEL_ATTRIBUTE_COUNT_LIMIT: '7', OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '3', OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '4' });
    expect(own.spanLimits).toMatchObject({ attributePerEventCountLimit: 3, attributePerLinkCountLimit: 4 });
  });
});

describe('OTEL_CONFIG_FILE: the meter and logger providers', () => {
  it('map their exporters, readers, batching and limits onto the same settings', () => {
    const path = join(dir, 'signals.yaml');
    writeFileSync(
      path,
      `file_format: "1.1"
meter_provider:
  readers:
    - periodic:
        interval: 5000
        timeout: 4000
        exporter:
          otlp_http:
            endpoint: http://m:4318/v1/metrics
            encoding: json
            compression: gzip
            timeout: 1500
            temporality_preference: low_memory
            headers:
              - name: x-m
                value: "1"
logger_provider:
  processors:
    - batch:
        schedule_delay: 100
        max_queue_size: 50
        exporter:
          otlp_grpc:
            endpoint: http://l:4317
  limits:
    attribute_count_limit: 9
`,
    );
    // The file support from source (in dist/ it is its own bundle).
    const c = loadWithFiles({ OTEL_CONFIG_FILE: path }, () => files);
    expect(c.warnings).toEqual([]);
    expect(c.metricsExporters).toEqual(['otlp']);
    expect(c.signals.metricsOtlp).toMatchObject({
      endpoint: 'http://m:4318/v1/metrics',
      protocol: 'http/json',
      compression: 'gzip',
      timeoutMs: 1500,
      headers: { 'x-m': '1' },
    });
    expect(c.signals).toMatchObject({ metricIntervalMs: 5000, metricTimeoutMs: 4000, temporality: 'lowmemory' });
    expect(c.logsExporters).toEqual(['otlp']);
    expect(c.signals.logsOtlp).toMatchObject({ endpoint: 'http://l:4317', protocol: 'grpc' });
    expect(c.signals.blrp).toMatchObject({ scheduleDelayMs: 100, maxQueueSize: 50 });
    expect(c.signals.logLimits.attributeCountLimit).toBe(9);
    // The traces were not configured by the file: none of this reaches them.
    expect(c.otlp).toMatchObject({ protocol: 'http/protobuf', compression: 'none', headers: {} });
  });
});
