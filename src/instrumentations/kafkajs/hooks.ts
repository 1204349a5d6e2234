/** kafkajs configuration, loaded at activation (it needs the OpenTelemetry API). */
import { trace, type Link, type Span } from '@opentelemetry/api';
import type { KafkaJsInstrumentationConfig } from '@opentelemetry/instrumentation-kafkajs';

export const kafkaConfig: KafkaJsInstrumentationConfig = {
  // eachBatch: upstream links each per-message `process` span to its producer, but the
  // batch span (`poll <topic>`), under which the handler's own work runs, gets no links.
  // The hook runs while that batch span is active and the process span is its child,
  // so the producer link is copied onto the batch span as well. (For eachMessage the
  // process span's parent is the producer, never the active span: nothing happens.)
  consumerHook: (span) => {
    const batch = trace.getActiveSpan();
    const s = span as Span & { parentSpanContext?: { spanId: string }; links?: Link[] };
    if (!batch || !s.links?.length || s.parentSpanContext?.spanId !== batch.spanContext().spanId) return;
    batch.addLinks(s.links);
  },
};
