/**
 * Runs a web framework fixture app under the agent, lets a test drive it, and returns that
 * service's spans (and, with a metrics sink, the http.server.request.duration points).
 */
import { cpSync, existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FIXTURES, ROOT, startFixture } from '../harness/fixture';
import type { OtlpReceiver, RecvSpan } from '../harness/otlp-receiver';
import { send, spansOf } from '../http/helpers';

export interface AppRun {
  spans: RecvSpan[];
  stdout: string;
  stderr: string;
}

/**
 * The Express 4 fixture resolves `express` from its own folder: a copy of the `express4` devDependency
 * (an npm alias) under the name users install it as, since the agent recognises modules by that name.
 */
export function ensureExpress4(): void {
  const dest = join(FIXTURES, 'frameworks/express4/node_modules/express');
  if (!existsSync(join(dest, 'package.json'))) cpSync(join(ROOT, 'node_modules/express4'), dest, { recursive: true });
}

export async function withApp(
  rx: OtlpReceiver,
  o: { fixture: string; service: string; env?: Record<string, string | undefined> },
  drive: (base: string) => Promise<void>,
): Promise<AppRun> {
  const ext = o.fixture.endsWith('.mjs') ? 'mjs' : 'cjs';
  const f = startFixture({
    fixture: o.fixture,
    mode: ext === 'cjs' ? 'require' : 'import',
    endpoint: rx.url,
    env: { OTEL_SERVICE_NAME: o.service, ...o.env },
  });
  const port = Number((await f.ready).split(' ')[1]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await drive(base);
  } finally {
    await send(`${base}/quit`, { method: 'POST' }).catch(() => f.child.kill('SIGTERM'));
  }
  const r = await f.result;
  expect(r.code, r.stderr).toBe(0);
  return { spans: spansOf(rx, o.service), stdout: r.stdout, stderr: r.stderr };
}

export interface MetricPoint {
  name: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP metrics endpoint that keeps every data point's metric name and attributes. */
export async function startMetricsSink(): Promise<{ url: string; points: () => MetricPoint[]; close: () => Promise<void> }> {
  const m = (await import('otlp-proto-root/build/src/generated/root.js')) as { default?: unknown };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const root: any = m.default ?? m;
  const Req = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
  const points: MetricPoint[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const msg: any = Req.decode(Buffer.concat(chunks));
        for (const rm of msg.resourceMetrics ?? [])
          for (const sm of rm.scopeMetrics ?? [])
            for (const metric of sm.metrics ?? []) {
              const dps = metric.histogram?.dataPoints ?? metric.sum?.dataPoints ?? metric.gauge?.dataPoints ?? [];
              for (const dp of dps) {
                const attributes: Record<string, unknown> = {};
                for (const kv of dp.attributes ?? []) {
                  const v = kv.value ?? {};
                  attributes[kv.key] = v.stringValue ?? (v.intValue != null ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
                }
                points.push({ name: metric.name, attributes });
              }
            }
      } catch {
        /* not a metrics payload */
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/metrics`,
    points: () => points,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
