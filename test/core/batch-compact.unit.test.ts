/**
 * The batch queue keeps what an exporter's compact() makes of a span (the OTLP
 * protobuf exporters: the span encoded once per event-loop turn after it ended,
 * src/exporters/otlp-proto.ts EncodedSpan), and hands exactly those back to
 * export() and, at exit, to exportSync(). A compact() that throws costs
 * nothing: that span is queued as it is, and every span is exported or counted.
 */
import { createRequire } from 'node:module';
import { SpanKind, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { encodeTraceRequest, SpanEncoder, type SpanOrEncoded } from '../../src/exporters/otlp-proto';
import { createLog } from '../../src/log';
import { BatchProcessor, newStats, type AgentExporter, type ExportOutcome, type QueuedSpan } from '../../src/processor';
import { AgentTracerProvider } from '../../src/tracer';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const root: any = require('otlp-proto-root/build/src/generated/root.js');
const TraceReq = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const spanNames = (body: Uint8Array): string[] =>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (TraceReq.toObject(TraceReq.decode(body)) as any).resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans.map((x: any) => x.name)));

/** An OTLP-like exporter that records the request bodies it would have sent. */
function recordingExporter(failOn?: string) {
  const enc = new SpanEncoder();
  const bodies: Uint8Array[] = [];
  const seen: QueuedSpan[][] = [];
  const exporter: AgentExporter = {
    description: 'test',
    compact(span: ReadableSpan): QueuedSpan {
      if (span.name === failOn) throw new Error('cannot compact');
      return enc.encode(span);
    },
    export(spans: QueuedSpan[]): Promise<ExportOutcome> {
      seen.push(spans);
      bodies.push(encodeTraceRequest(spans as SpanOrEncoded[]));
      return Promise.resolve({ ok: true });
    },
    exportSync(spans: QueuedSpan[]): ExportOutcome {
      seen.push(spans);
      bodies.push(encodeTraceRequest(spans as SpanOrEncoded[]));
      return { ok: true };
    },
    shutdown: () => Promise.resolve(),
  };
  return { exporter, bodies, seen };
}

function setup(failOn?: string) {
  const rec = recordingExporter(failOn);
  const stats = newStats();
  const batch = new BatchProcessor(
    rec.exporter,
    { scheduleDelayMs: 60_000, exportTimeoutMs: 5000, maxQueueSize: 100, maxExportBatchSize: 10 },
    stats,
    createLog('none'),
  );
  const tracer = new AgentTracerProvider({ spanProcessors: [batch] }).getTracer('compact-test');
  const attrs: Attributes = { 'http.request.method': 'GET', 'url.path': '/x' };
  const make = (name: string): void => tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: attrs }).end();
  return { ...rec, stats, batch, make };
}

describe('batch queue with a compacting exporter', () => {
  it('exports the compacted spans, in order, with their data', async () => {
    const t = setup();
    for (let i = 0; i < 25; i++) t.make(`span ${i}`);
    await nextTurn();
    await t.batch.forceFlush();
    // Queued as encoded spans, not as span objects.
    expect(t.seen.flat().every((s) => !('spanContext' in s))).toBe(true);
    expect(t.bodies.flatMap(spanNames)).toEqual(Array.from({ length: 25 }, (_, i) => `span ${i}`));
    expect(t.stats.exported).toBe(25);
  });

  it('a span compact() throws on is queued as it is and still arrives', async () => {
    const t = setup('span 3');
    for (let i = 0; i < 6; i++) t.make(`span ${i}`);
    await nextTurn();
    await t.batch.forceFlush();
    expect(t.seen.flat().filter((s) => 'spanContext' in s)).toHaveLength(1);
    expect(t.bodies.flatMap(spanNames)).toEqual(['span 0', 'span 1', 'span 2', 'span 3', 'span 4', 'span 5']);
    expect(t.stats.exported).toBe(6);
  });

  it('spans exported before their turn ends go as they are, the later ones compacted', async () => {
    const t = setup();
    for (let i = 0; i < 5; i++) t.make(`span ${i}`);
    await t.batch.forceFlush();
    for (let i = 5; i < 8; i++) t.make(`span ${i}`);
    await nextTurn();
    await t.batch.forceFlush();
    expect(t.seen.map((b) => b.filter((s) => 'spanContext' in s).length)).toEqual([5, 0]);
    expect(t.bodies.flatMap(spanNames)).toEqual(Array.from({ length: 8 }, (_, i) => `span ${i}`));
    expect(t.stats.exported).toBe(8);
  });

  it('the exit flush sends the queued spans, compacted or not', async () => {
    const t = setup();
    for (let i = 0; i < 4; i++) t.make(`span ${i}`);
    await nextTurn();
    for (let i = 4; i < 6; i++) t.make(`span ${i}`);
    t.batch.flushSync(1000);
    expect(t.seen.flat().filter((s) => 'spanContext' in s)).toHaveLength(2);
    expect(t.bodies.flatMap(spanNames)).toEqual(['span 0', 'span 1', 'span 2', 'span 3', 'span 4', 'span 5']);
    expect(t.stats.exported).toBe(6);
  });
});
