/** Zipkin v2 JSON export, for users whose backend speaks only Zipkin. */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { hrTimeToMicroseconds } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { AgentExporter, ExportOutcome } from '../processor';
import { HttpSender, describeUrl } from './transport';
import { sendSync } from './sync-send';

const KIND: Partial<Record<SpanKind, string>> = {
  [SpanKind.SERVER]: 'SERVER',
  [SpanKind.CLIENT]: 'CLIENT',
  [SpanKind.PRODUCER]: 'PRODUCER',
  [SpanKind.CONSUMER]: 'CONSUMER',
};

export function toZipkin(spans: ReadableSpan[]): unknown[] {
  return spans.map((s) => {
    const tags: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.attributes)) if (v !== undefined) tags[k] = typeof v === 'string' ? v : JSON.stringify(v);
    if (s.status.code === SpanStatusCode.ERROR) tags['error'] = s.status.message ?? 'ERROR';
    tags['otel.status_code'] = SpanStatusCode[s.status.code];
    const sc = s.spanContext();
    return {
      traceId: sc.traceId,
      id: sc.spanId,
      parentId: s.parentSpanContext?.spanId,
      name: s.name,
      kind: KIND[s.kind],
      timestamp: Math.round(hrTimeToMicroseconds(s.startTime)),
      duration: Math.max(1, Math.round(hrTimeToMicroseconds(s.duration))),
      localEndpoint: { serviceName: String(s.resource.attributes['service.name'] ?? 'unknown_service') },
      tags,
      annotations: s.events.map((e) => ({ timestamp: Math.round(hrTimeToMicroseconds(e.time)), value: e.name })),
    };
  });
}

export class ZipkinExporter implements AgentExporter {
  readonly description: string;
  private readonly sender: HttpSender;
  constructor(url: string, timeoutMs: number, holdMs = 0) {
    this.description = `Zipkin ${describeUrl(url)}`;
    this.sender = new HttpSender({ url, headers: {}, contentType: 'application/json', compression: 'none', timeoutMs, tls: {}, holdMs });
  }
  private body(spans: ReadableSpan[]): Uint8Array {
    return Buffer.from(JSON.stringify(toZipkin(spans)));
  }
  export(spans: ReadableSpan[], onAccepted?: () => void): Promise<ExportOutcome> {
    return this.sender.send(this.body(spans), onAccepted);
  }
  exportSync(spans: ReadableSpan[], timeoutMs: number): ExportOutcome {
    return sendSync({ kind: 'http', url: this.sender.target.url, headers: { 'content-type': 'application/json' }, body: this.body(spans) }, timeoutMs);
  }
  shutdown(): Promise<void> {
    this.sender.close();
    return Promise.resolve();
  }
}
