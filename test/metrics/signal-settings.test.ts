/**
 * Per-signal OTLP settings for metrics: each OTEL_EXPORTER_OTLP_METRICS_* variable changes
 * where and how metrics go, falls back to the general OTEL_EXPORTER_OTLP_* one, and never to
 * the traces' one; the traces keep their own. Two receivers tell the signals apart.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../harness/otlp-receiver';
import { runFixture, VARIANTS } from '../harness/fixture';

let a: OtlpReceiver;
let b: OtlpReceiver;
beforeEach(async () => {
  [a, b] = await Promise.all([startOtlpReceiver(), startOtlpReceiver()]);
});
afterEach(async () => {
  await Promise.all([a.close(), b.close()]);
});

const paths = (rx: OtlpReceiver): string[] => [...new Set(rx.requests().map((r) => r.path))].sort();
const requestsTo = (rx: OtlpReceiver, path: string) => rx.requests().filter((r) => r.path === path);
const serverCount = (rx: OtlpReceiver): number =>
  rx
    .metrics()
    .filter((p) => p.name === 'http.server.request.duration')
    .reduce((n, p) => n + (p.temporality === 'delta' ? p.count! : 0), 0);

describe.each(VARIANTS)('metrics export settings (%s)', (ext) => {
  it('METRICS_ endpoint, protocol, headers and compression apply to metrics only', async () => {
    const r = await runFixture({
      fixture: `metrics/requests.${ext}`,
      endpoint: a.url,
      env: {
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_AGENT_RUNTIME_METRICS: 'false',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${b.url}/v1/metrics`,
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'gzip',
        OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-metrics=m1',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-traces=t1',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-all=all1',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    // Traces: to the general endpoint, protobuf, uncompressed, with the traces' and general headers.
    expect(paths(a)).toEqual(['/v1/traces']);
    expect(a.spans().length).toBeGreaterThanOrEqual(60);
    for (const q of a.requests()) {
      expect(q.transport).toBe('http/protobuf');
      expect(q.contentEncoding).toBeUndefined();
      expect(q.headers['x-traces']).toBe('t1');
      expect(q.headers['x-all']).toBe('all1');
      expect(q.headers['x-metrics']).toBeUndefined();
    }
    // Metrics: to their own endpoint, JSON, gzip, with their own and the general headers (not the traces').
    expect(paths(b)).toEqual(['/v1/metrics']);
    expect(b.metrics().some((p) => p.name === 'http.server.request.duration')).toBe(true);
    for (const q of b.requests()) {
      expect(q.transport).toBe('http/json');
      expect(q.contentEncoding).toBe('gzip');
      expect(q.headers['x-metrics']).toBe('m1');
      expect(q.headers['x-all']).toBe('all1');
      expect(q.headers['x-traces']).toBeUndefined();
    }
  });

  it('metrics fall back to the general settings, never to the traces ones', async () => {
    const r = await runFixture({
      fixture: `metrics/requests.${ext}`,
      endpoint: b.url,
      env: {
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_AGENT_RUNTIME_METRICS: 'false',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${a.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-traces=t1',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(paths(a)).toEqual(['/v1/traces']);
    expect(a.requests().every((q) => q.transport === 'http/json' && q.contentEncoding === 'gzip')).toBe(true);
    expect(paths(b)).toEqual(['/v1/metrics']);
    const m = requestsTo(b, '/v1/metrics');
    expect(m.length).toBeGreaterThan(0);
    expect(m.every((q) => q.transport === 'http/protobuf' && q.contentEncoding === undefined && q.headers['x-traces'] === undefined)).toBe(true);
  });

  it('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta sends delta histograms', async () => {
    const run = (pref: string | undefined, rx: OtlpReceiver) =>
      runFixture({
        fixture: `metrics/requests.${ext}`,
        endpoint: rx.url,
        env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_AGENT_RUNTIME_METRICS: 'false', OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: pref },
      });
    expect((await run('delta', a)).code).toBe(0);
    expect((await run(undefined, b)).code).toBe(0);
    const hist = (rx: OtlpReceiver) => rx.metrics().filter((p) => p.name === 'http.server.request.duration');
    expect(hist(a).length).toBeGreaterThan(0);
    expect(hist(a).every((p) => p.temporality === 'delta')).toBe(true);
    expect(serverCount(a)).toBe(30);
    expect(hist(b).length).toBeGreaterThan(0);
    expect(hist(b).every((p) => p.temporality === 'cumulative')).toBe(true);
  });

  it('an endpoint without metrics (404) is said once, metrics stop, traces go on', async () => {
    // A backend that takes only traces (e.g. Jaeger): 404 for everything else, and counts the asks.
    let asked = 0;
    const jaegerLike = http.createServer((req, res) => {
      asked++;
      req.resume();
      res.writeHead(404).end('404 page not found');
    });
    await new Promise<void>((resolve) => jaegerLike.listen(0, '127.0.0.1', resolve));
    const port = (jaegerLike.address() as AddressInfo).port;
    const r = await runFixture({
      fixture: `metrics/requests.${ext}`,
      endpoint: a.url,
      env: {
        REQUESTS: '90',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_METRIC_EXPORT_INTERVAL: '20',
        OTEL_METRIC_EXPORT_TIMEOUT: '20',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${port}/v1/metrics`,
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const said = r.stderr.split('\n').filter((l) => l.includes('does not accept metrics'));
    expect(said, r.stderr).toHaveLength(1);
    expect(said[0]).toContain('HTTP 404');
    expect(r.stderr).not.toContain('could not export metrics');
    await new Promise((resolve) => jaegerLike.close(resolve));
    // Asked once; an export already on its way when the answer came (a periodic one beside the exit
    // flush) may make it two. Without the stop it is one every 20 ms of the run (about 50).
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(asked).toBeLessThanOrEqual(2);
    expect(a.spans().length).toBeGreaterThanOrEqual(180);
  });

  it('a collector that is down is one warning line, not a stack trace per export', async () => {
    const r = await runFixture({
      fixture: `metrics/requests.${ext}`,
      endpoint: a.url,
      env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://127.0.0.1:9/v1/metrics' },
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.includes('metrics'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain('could not export metrics to OTLP http/protobuf http://127.0.0.1:9/v1/metrics');
    expect(r.stderr).not.toContain('PeriodicExportingMetricReader');
    expect(a.spans().length).toBeGreaterThanOrEqual(60);
  });
});
