/**
 * Jaeger's `uber-trace-id` and `uberctx-<key>` baggage headers (own code: the
 * upstream package lags the current API).
 *
 * A baggage key becomes part of a header name here, so only keys that are
 * header tokens are written (`a b`, from a W3C `a%20b`, is not: it stays in
 * the W3C baggage header only, counted as dropped here). Values are written
 * as received while unchanged (baggage-codec.ts), else encodeURIComponent
 * style, and the whole of the baggage headers stays within the W3C baggage
 * limits (8192 bytes, 180 entries) so a downstream server's header limit is
 * not what decides.
 */
import {
  propagation,
  trace,
  TraceFlags,
  isSpanContextValid,
  type BaggageEntry,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { decodeValue, encodeJaegerValue, wireEntries, withWireEntries, type WireEntry } from './baggage-codec';
import { countDrop } from './guard';
import { isFieldValue, isToken } from './header-rules';

export const UBER = 'uber-trace-id';
export const UBERCTX = 'uberctx-';
const HEX16 = /^[0-9a-f]{1,16}$/;
const HEX32 = /^[0-9a-f]{1,32}$/;
/** Bound what we parse from the wire: a hostile header must not cost more than this. */
const MAX_HEADER = 512;
const MAX_READ_ENTRIES = 64;
const MAX_ENTRIES = 180;
const MAX_BYTES = 8192;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function parseTraceHeader(raw: string): { traceId: string; spanId: string; traceFlags: number; isRemote: true } | undefined {
  let v = raw;
  try {
    v = decodeURIComponent(raw);
  } catch {
    /* keep as is */
  }
  const parts = v.split(':');
  if (parts.length !== 4) return undefined;
  const [tid, sid, , flags] = parts as [string, string, string, string];
  const f = parseInt(flags, 16);
  if (!HEX32.test(tid) || !HEX16.test(sid) || Number.isNaN(f)) return undefined;
  const sc = {
    traceId: tid.padStart(32, '0'),
    spanId: sid.padStart(16, '0'),
    traceFlags: f & 1 ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true as const,
  };
  return isSpanContextValid(sc) ? sc : undefined;
}

export class JaegerPropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    if (isTracingSuppressed(ctx)) return;
    const sc = trace.getSpanContext(ctx);
    if (sc && isSpanContextValid(sc)) {
      setter.set(carrier, UBER, `${sc.traceId}:${sc.spanId}:0:${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`);
    }
    const bag = propagation.getBaggage(ctx);
    if (!bag) return;
    const wire = wireEntries(ctx);
    let bytes = 0;
    let n = 0;
    for (const [key, entry] of bag.getAllEntries()) {
      if (!isToken(key)) {
        countDrop(UBERCTX + '*', 'a baggage key that is not a header name');
        continue;
      }
      const w = wire?.get(key);
      const value = w && w.value === entry.value && isFieldValue(w.raw) ? w.raw : encodeJaegerValue(entry.value);
      const size = UBERCTX.length + key.length + value.length;
      if (n === MAX_ENTRIES || bytes + size > MAX_BYTES) {
        countDrop(UBERCTX + '*', 'baggage over the W3C baggage limits');
        continue;
      }
      n++;
      bytes += size;
      setter.set(carrier, UBERCTX + key, value);
    }
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = first(getter.get(carrier, UBER));
    if (typeof raw === 'string' && raw.length <= MAX_HEADER) {
      const sc = parseTraceHeader(raw);
      if (sc) ctx = trace.setSpanContext(ctx, sc);
    }
    let entries: Record<string, BaggageEntry> | undefined;
    let wire: Map<string, WireEntry> | undefined;
    let n = 0;
    for (const name of getter.keys(carrier)) {
      if (name.length <= UBERCTX.length || name.slice(0, UBERCTX.length).toLowerCase() !== UBERCTX) continue;
      if (++n > MAX_READ_ENTRIES) break;
      const val = first(getter.get(carrier, name));
      if (typeof val !== 'string' || val.length > MAX_HEADER || !isFieldValue(val)) continue;
      const key = name.slice(UBERCTX.length);
      if (!entries || !wire) {
        entries = {};
        for (const [k, e] of propagation.getBaggage(ctx)?.getAllEntries() ?? []) entries[k] = e;
        wire = new Map(wireEntries(ctx));
      }
      const value = decodeValue(val);
      entries[key] = { value };
      wire.set(key, { value, props: '', key, raw: val });
    }
    if (!entries || !wire) return ctx;
    return withWireEntries(propagation.setBaggage(ctx, propagation.createBaggage(entries)), wire);
  }

  fields(): string[] {
    return [UBER];
  }
}
