/**
 * OTEL_PROPAGATORS -> one composite propagator, wrapped so that nothing it
 * writes can make an instrumented call throw (propagation/guard.ts).
 * W3C trace context (Level 2, propagation/w3c-tracecontext.ts), W3C baggage
 * and Jaeger are own code (propagation/), B3 is @opentelemetry/propagator-b3
 * with the sampling decision without ids added (propagation/b3.ts).
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator } from '@opentelemetry/core';
import type { PropagatorName } from './env';
import { B3 } from './propagation/b3';
import { GuardedPropagator } from './propagation/guard';
import { JaegerPropagator } from './propagation/jaeger';
import { W3CBaggagePropagator } from './propagation/w3c-baggage';
import { W3CTraceContextPropagator } from './propagation/w3c-tracecontext';

export { JaegerPropagator };

export function buildPropagator(names: readonly PropagatorName[]): TextMapPropagator {
  const list: TextMapPropagator[] = [];
  for (const n of names) {
    if (n === 'tracecontext') list.push(new W3CTraceContextPropagator());
    else if (n === 'baggage') list.push(new W3CBaggagePropagator());
    else if (n === 'b3') list.push(new B3('single'));
    else if (n === 'b3multi') list.push(new B3('multi'));
    else if (n === 'jaeger') list.push(new JaegerPropagator());
  }
  return new GuardedPropagator(new CompositePropagator({ propagators: list }));
}
