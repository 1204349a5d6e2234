/** kafkajs configuration, loaded at activation (it needs the OpenTelemetry API). */
import { trace, type Link, type Meter, type Span } from '@opentelemetry/api';
import type { KafkaJsInstrumentationConfig } from '@opentelemetry/instrumentation-kafkajs';
import { withConventionalUnits } from '../messaging/metrics';

/**
 * Upstream records messaging.client.operation.duration, messaging.process.duration,
 * messaging.client.sent.messages and messaging.client.consumed.messages on its meter, the
 * agent's (the global provider is set before any instrumentation is built), but creates them
 * without units or descriptions, from its constructor. A meter asked for the same instrument
 * twice keeps the first registration, so the units have to be there from the start: the class's
 * `meter` (what its _updateMetricInstruments reads) is made to hand out the meter wrapped by
 * withConventionalUnits (`s`, `{message}`; docs/kafkajs.md). Called before it is constructed.
 */
export function withUnits(cls: unknown): void {
  const proto = (cls as { prototype?: object } | undefined)?.prototype;
  if (!proto || Object.prototype.hasOwnProperty.call(proto, 'meter')) return;
  let get: (() => Meter) | undefined;
  for (let p = Object.getPrototypeOf(proto) as object | null; p && !get; p = Object.getPrototypeOf(p) as object | null) {
    get = Object.getOwnPropertyDescriptor(p, 'meter')?.get as (() => Meter) | undefined;
  }
  // Another @opentelemetry/instrumentation shape: its instruments keep upstream's options.
  if (!get) return;
  const base = get;
  const wrapped = new WeakMap<Meter, Meter>();
  Object.defineProperty(proto, 'meter', {
    configurable: true,
    get(this: unknown): Meter {
      const m = base.call(this);
      let w = wrapped.get(m);
      if (!w) {
        w = withConventionalUnits(m);
        wrapped.set(m, w);
      }
      return w;
    },
  });
}

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
