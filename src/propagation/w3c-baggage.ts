/**
 * W3C Baggage (`baggage` header), in place of @opentelemetry/core's
 * W3CBaggagePropagator so that forwarded entries keep their bytes (see
 * baggage-codec.ts) and a hostile header costs a bounded amount of work.
 *
 * Read: members up to the W3C limits (180 members); each needs a token key
 * and a value with no control characters, anything else is skipped on its
 * own. Keys are percent-decoded like upstream did, so an app reading
 * `getEntry('a b')` for `a%20b=1` keeps working. Entries merge into baggage
 * already in the context (another propagator may have read some).
 * Write: the wire text of unchanged entries, a fresh encoding of the others,
 * within 8192 bytes, 180 members and 4096 bytes a member; what does not fit
 * is counted as dropped.
 */
import {
  baggageEntryMetadataFromString,
  propagation,
  type BaggageEntry,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { decodeValue, encodeW3cKey, encodeW3cValue, trimOws, wireEntries, withWireEntries, type WireEntry } from './baggage-codec';
import { countDrop } from './guard';
import { isFieldValue, isToken } from './header-rules';

const HEADER = 'baggage';
const MAX_MEMBERS = 180;
const MAX_BYTES = 8192;
const MAX_MEMBER = 4096;
/** No more of a header than this is read: a member past it is beyond the limits anyway. */
const MAX_READ = 4 * MAX_BYTES;

interface Member extends WireEntry {
  name: string;
}

function parseMember(text: string): Member | undefined {
  const semi = text.indexOf(';');
  const pair = semi < 0 ? text : text.slice(0, semi);
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const key = trimOws(pair.slice(0, eq));
  const raw = trimOws(pair.slice(eq + 1));
  if (!isToken(key) || !isFieldValue(raw) || key.length + raw.length >= MAX_MEMBER) return undefined;
  let props = semi < 0 ? '' : trimOws(text.slice(semi + 1));
  if (!isFieldValue(props)) props = '';
  return { name: decodeValue(key), value: decodeValue(raw), props, key, raw };
}

/** The member text for one entry: as received while unchanged, else freshly encoded. */
function memberText(name: string, entry: BaggageEntry, wire: WireEntry | undefined): string {
  const props = entry.metadata?.toString() ?? '';
  if (wire && wire.value === entry.value && wire.props === props && !/[,;]/.test(wire.raw)) {
    return `${wire.key}=${wire.raw}${props ? ';' + props : ''}`;
  }
  const p = props && isFieldValue(props) && !props.includes(',') ? ';' + props : '';
  return `${encodeW3cKey(name)}=${encodeW3cValue(entry.value)}${p}`;
}

export class W3CBaggagePropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const bag = propagation.getBaggage(ctx);
    if (!bag || isTracingSuppressed(ctx)) return;
    const wire = wireEntries(ctx);
    let out = '';
    let n = 0;
    for (const [name, entry] of bag.getAllEntries()) {
      const m = memberText(name, entry, wire?.get(name));
      if (n === MAX_MEMBERS || m.length > MAX_MEMBER || out.length + m.length + 1 > MAX_BYTES) {
        countDrop(HEADER, 'an entry over the W3C baggage limits');
        continue;
      }
      out = n++ === 0 ? m : `${out},${m}`;
    }
    if (n > 0) setter.set(carrier, HEADER, out);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const h = getter.get(carrier, HEADER);
    const text = Array.isArray(h) ? h.join(',') : h;
    if (typeof text !== 'string' || text.length === 0) return ctx;
    const entries: Record<string, BaggageEntry> = {};
    for (const [k, e] of propagation.getBaggage(ctx)?.getAllEntries() ?? []) entries[k] = e;
    const wire = new Map(wireEntries(ctx));
    const end = Math.min(text.length, MAX_READ);
    let found = 0;
    for (let start = 0; start < end && found < MAX_MEMBERS;) {
      let comma = text.indexOf(',', start);
      if (comma < 0) comma = text.length;
      if (comma > end) break; // cut off by MAX_READ: not a whole member
      const m = parseMember(text.slice(start, comma));
      start = comma + 1;
      if (!m) continue;
      found++;
      entries[m.name] = m.props ? { value: m.value, metadata: baggageEntryMetadataFromString(m.props) } : { value: m.value };
      wire.set(m.name, { value: m.value, props: m.props, key: m.key, raw: m.raw });
    }
    if (found === 0) return ctx;
    return withWireEntries(propagation.setBaggage(ctx, propagation.createBaggage(entries)), wire);
  }

  fields(): string[] {
    return [HEADER];
  }
}
