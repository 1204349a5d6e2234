/**
 * OTEL_PROPAGATORS -> one composite propagator. Jaeger's `uber-trace-id` is
 * implemented here (the upstream package lags the current API), the rest come
 * from @opentelemetry/core and @opentelemetry/propagator-b3.
 */
import {
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  propagation,
  trace,
  TraceFlags,
  isSpanContextValid,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import type { PropagatorName } from './env';

const UBER = 'uber-trace-id';
const UBERCTX = 'uberctx-';
const HEX16 = /^[0-9a-f]{1,16}$/;
const HEX32 = /^[0-9a-f]{1,32}$/;
/** Bound what we parse from the wire: a hostile header must not cost more than this. */
const MAX_HEADER = 512;

export class JaegerPropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const sc = trace.getSpanContext(ctx);
    if (sc && isSpanContextValid(sc)) {
      setter.set(carrier, UBER, `${sc.traceId}:${sc.spanId}:0:${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`);
    }
    const bag = propagation.getBaggage(ctx);
    if (bag) for (const [k, v] of bag.getAllEntries()) setter.set(carrier, UBERCTX + k, encodeURIComponent(v.value));
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    let raw = getter.get(carrier, UBER);
    if (Array.isArray(raw)) raw = raw[0];
    if (typeof raw === 'string' && raw.length <= MAX_HEADER) {
      let v = raw;
      try {
        v = decodeURIComponent(raw);
      } catch {
        /* keep as is */
      }
      const parts = v.split(':');
      if (parts.length === 4) {
        const [tid, sid, , flags] = parts as [string, string, string, string];
        const f = parseInt(flags, 16);
        if (HEX32.test(tid) && HEX16.test(sid) && !Number.isNaN(f)) {
          const sc = {
            traceId: tid.padStart(32, '0'),
            spanId: sid.padStart(16, '0'),
            traceFlags: f & 1 ? TraceFlags.SAMPLED : TraceFlags.NONE,
            isRemote: true,
          };
          if (isSpanContextValid(sc)) ctx = trace.setSpanContext(ctx, sc);
        }
      }
    }
    const entries: Record<string, { value: string }> = {};
    let n = 0;
    for (const key of getter.keys(carrier)) {
      if (!key.toLowerCase().startsWith(UBERCTX) || ++n > 64) continue;
      let val = getter.get(carrier, key);
      if (Array.isArray(val)) val = val[0];
      if (typeof val !== 'string' || val.length > MAX_HEADER) continue;
      try {
        entries[key.slice(UBERCTX.length)] = { value: decodeURIComponent(val) };
      } catch {
        /* malformed escape: ignore that entry */
      }
    }
    if (Object.keys(entries).length) {
      const existing = propagation.getBaggage(ctx);
      let bag = existing ?? propagation.createBaggage();
      for (const [k, v] of Object.entries(entries)) bag = bag.setEntry(k, v);
      ctx = propagation.setBaggage(ctx, bag);
    }
    return ctx;
  }

  fields(): string[] {
    return [UBER];
  }
}

export function buildPropagator(names: readonly PropagatorName[]): TextMapPropagator {
  const list: TextMapPropagator[] = [];
  for (const n of names) {
    if (n === 'tracecontext') list.push(new W3CTraceContextPropagator());
    else if (n === 'baggage') list.push(new W3CBaggagePropagator());
    else if (n === 'b3') list.push(new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }));
    else if (n === 'b3multi') list.push(new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }));
    else if (n === 'jaeger') list.push(new JaegerPropagator());
  }
  return new CompositePropagator({ propagators: list });
}
